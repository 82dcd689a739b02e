/**
 * Explicit Congestion Notification for TCP (RFC 3168 §6.1), classic ECN as
 * Linux 6.x does it (no AccECN: the reference kernel accepts
 * net.ipv4.tcp_ecn 0..2 only). Behaviour checked with the drill kernel
 * target (test/drill/ecn-*.pkt):
 *
 *   - negotiation: with tcp_ecn = 1 our SYN carries ECE|CWR; a SYN-ACK with
 *     ECE and without CWR agrees (§6.1.1). A SYN retransmission drops
 *     ECE|CWR when tcp_ecn_fallback is on (§6.1.1.1), yet a SYN-ACK with
 *     ECE still turns ECN on. A listener (tcp_ecn 1 or 2) agrees to a SYN
 *     with ECE|CWR that is not itself ECT (a SYN must not be, §6.1.1)
 *     unless a reserved header bit is set; its SYN-ACKs (retransmissions
 *     too) carry ECE. A simultaneous open keeps ECN if the peer's SYN
 *     asked for it too.
 *   - marking: only new data is ECT(0); pure ACKs, FIN-only segments,
 *     retransmissions (§6.1.5), SYNs and SYN-ACKs, window and keepalive
 *     probes and resets go out Not-ECT.
 *   - receiver: CE on a data segment (in order or not) makes every
 *     following segment carry ECE until a segment with CWR arrives (a pure
 *     ACK with CWR counts); the first CE starts quick-ACK mode (two
 *     credits) so the echo is not delayed; a data segment with CWR is
 *     ACKed at once; Not-ECT data after ECT was seen (probably a
 *     retransmission) also starts quick-ACK mode. CE on a pure ACK is
 *     ignored.
 *   - sender: an ACK with ECE while data is in flight and no window
 *     reduction is under way enters CWR (§6.1.2): ssthresh from the
 *     congestion control's loss hook, then Proportional Rate Reduction
 *     (RFC 6937, as Linux tcp_cwnd_reduction) until the ACK passes the
 *     snd_nxt of that moment, where cwnd = ssthresh; at most one reduction
 *     per window. The next new data segment carries CWR; so does the first
 *     after a fast-recovery entry, an RTO (also a SYN RTO) or a loss a
 *     tail-loss probe repaired (src/tcp/tlp.ts), as Linux queues CWR in
 *     every window reduction.
 *   - counters: TcpExtTCPDeliveredCE (segments ACKed by ACKs with ECE);
 *     the IP layer counts IpExtIn{NoECT,ECT1,ECT0,CE}Pkts / Ip6In...Pkts.
 *
 * Known difference: fast recovery entered during CWR reduces again from
 * the already reduced window (Linux keeps the CWR ssthresh); the recovery
 * modules own that decision.
 */
import type { IpRx } from '../ip/types.js';
import { seqLt } from '../wire/seq.js';
import type { TcpHeader } from '../wire/tcp.js';
import { TCP_AE } from '../wire/tcp.js';
import { type AckEvent, CaState } from './congestion/types.js';
import { enterQuickAck } from './output.js';
import type { RecoveryAction } from './recovery/types.js';
import { CWR, ECE } from './state.js';
import type { Tcb } from './tcb.js';
import type { TcpLayer } from './tcp.js';

/** ECN was negotiated (Linux TCP_ECN_OK). */
export const ECN_OK = 1;
/** Put CWR on the next new data segment (TCP_ECN_QUEUE_CWR). */
export const ECN_QUEUE_CWR = 2;
/** CE was received: echo ECE until the peer's CWR (TCP_ECN_DEMAND_CWR). */
export const ECN_DEMAND_CWR = 4;
/** An ECT or CE data segment was received (TCP_ECN_SEEN). */
export const ECN_SEEN = 8;

/** The ECN field of the TOS / traffic class byte (RFC 3168 §5). */
export const INET_ECN_MASK = 3;
export const INET_ECN_NOT_ECT = 0;
export const INET_ECN_ECT_0 = 2;
export const INET_ECN_CE = 3;

/** Reserved header bits (byte 12's low nibble; AE/NS among them) as parseTcp reports them. */
const RESERVED_BITS = TCP_AE | 0x200 | 0x400 | 0x800;

/** Quick-ACK credits a CE mark (or a Not-ECT retransmission) grants (Linux tcp_enter_quickack_mode(sk, 2)). */
const ECN_QUICKACKS = 2;

/**
 * ECE/CWR for a SYN or SYN-ACK we are about to send. Our first SYN decides
 * whether we ask (tcp_ecn = 1); a retransmitted SYN asks again only without
 * tcp_ecn_fallback; a SYN-ACK carries ECE when ECN was agreed.
 */
export function ecnSynFlags(L: TcpLayer, t: Tcb, synAck: boolean, first: boolean): number {
  if (synAck) return t.ecnFlags & ECN_OK ? ECE : 0;
  const v = L.sysctl.v;
  if (first) {
    t.ecnFlags = v['net.ipv4.tcp_ecn'] === 1 ? ECN_OK : 0;
    return t.ecnFlags & ECN_OK ? ECE | CWR : 0;
  }
  return t.ecnFlags & ECN_OK && v['net.ipv4.tcp_ecn_fallback'] === 0 ? ECE | CWR : 0;
}

/**
 * A listener's child for a SYN (Linux tcp_ecn_create_request): ECN when
 * tcp_ecn allows it and the SYN asks with ECE|CWR, unless the SYN itself
 * arrived ECT or CE with no reserved bit set.
 */
export function ecnSynReceived(L: TcpLayer, t: Tcb, rx: IpRx, h: TcpHeader): void {
  t.ecnFlags = 0;
  if (L.sysctl.v['net.ipv4.tcp_ecn'] === 0 || (h.flags & (ECE | CWR)) !== (ECE | CWR)) return;
  if ((rx.tos & INET_ECN_MASK) !== INET_ECN_NOT_ECT && (h.flags & RESERVED_BITS) === 0) return;
  t.ecnFlags = ECN_OK;
}

/**
 * The peer's SYN-ACK (synAck) or, in a simultaneous open, its SYN reached
 * our SYN_SENT: ECN stays on only if it agreed (Linux tcp_ecn_rcv_synack:
 * ECE without CWR; tcp_ecn_rcv_syn: ECE and CWR).
 */
export function ecnSynSentInput(t: Tcb, h: TcpHeader, synAck: boolean): void {
  if (!(t.ecnFlags & ECN_OK)) return;
  const f = h.flags;
  const agreed = synAck ? (f & ECE) !== 0 && !(f & CWR) : (f & (ECE | CWR)) === (ECE | CWR);
  if (!agreed) t.ecnFlags &= ~ECN_OK;
}

/**
 * A non-SYN segment of an ECN connection is about to go out (Linux
 * tcp_ecn_send). Returns the flags to send with the ECN codepoint for the
 * IP header in bits 16-17 (`r & 0xffff`, `r >>> 16`): new data is ECT(0)
 * and takes a queued CWR; ECE rides on everything while the peer owes us
 * a CWR.
 */
export function ecnOutput(t: Tcb, seq: number, flags: number, len: number): number {
  const e = t.ecnFlags;
  let tos = INET_ECN_NOT_ECT;
  if (len > 0 && !seqLt(seq, t.sndMax)) {
    tos = INET_ECN_ECT_0;
    if (e & ECN_QUEUE_CWR) {
      flags |= CWR;
      t.ecnFlags = e & ~ECN_QUEUE_CWR;
    }
  }
  if (e & ECN_DEMAND_CWR) flags |= ECE;
  // PRR counts what is sent during the reduction (Linux prr_out).
  if (len > 0 && t.cwrActive) t.prrOut++;
  return flags | (tos << 16);
}

/**
 * An acceptable segment of an ECN connection arrived (before its data):
 * CWR ends our ECE echo (Linux tcp_ecn_accept_cwr, pure ACKs included).
 * Returns true when the segment should be ACKed at once (data with CWR:
 * the sender just cut its window).
 */
export function ecnAcceptCwr(t: Tcb, h: TcpHeader): boolean {
  if (!(h.flags & CWR)) return false;
  t.ecnFlags &= ~ECN_DEMAND_CWR;
  return h.payloadLen > 0;
}

/**
 * A data segment of an ECN connection was accepted, in order or not
 * (Linux tcp_ecn_check_ce): CE asks for the echo and an immediate ACK.
 */
export function ecnCheckCe(t: Tcb, tos: number): void {
  switch (tos & INET_ECN_MASK) {
    case INET_ECN_NOT_ECT:
      // Not-ECT after ECT: probably a retransmission; ACK quickly.
      if (t.ecnFlags & ECN_SEEN) enterQuickAck(t, ECN_QUICKACKS);
      break;
    case INET_ECN_CE:
      if (!(t.ecnFlags & ECN_DEMAND_CWR)) {
        // The sender may have a very small window: do not delay the echo.
        enterQuickAck(t, ECN_QUICKACKS);
        t.ecnFlags |= ECN_DEMAND_CWR;
      }
      t.ecnFlags |= ECN_SEEN;
      break;
    default:
      t.ecnFlags |= ECN_SEEN;
  }
}

/** A window reduction other than CWR started (fast recovery, RTO): CWR goes on the next new data. */
export function ecnQueueCwr(t: Tcb): void {
  if (t.ecnFlags & ECN_OK) t.ecnFlags |= ECN_QUEUE_CWR;
  // Recovery or Loss now owns cwnd; an ECN reduction in progress ends here.
  t.cwrActive = false;
}

/** cwnd and its counter before the recovery module saw the ACK (what CWR works from). */
let savedCwnd = 0;
let savedCnt = 0;

/** Call before rec.onAck: remember cwnd, since CWR overrides growth the module may apply. */
export function ecnBeforeAck(t: Tcb): void {
  const cc = t.cc;
  if (cc === null) return;
  savedCwnd = cc.cwnd;
  savedCnt = cc.cwndCnt;
}

/**
 * After rec.onAck for an ACK of an ECN connection (Linux tcp_fastretrans_alert's
 * CWR handling and tcp_cong_control): enter CWR on ECE, reduce by PRR while
 * in CWR, end it once the ACK passes the snd_nxt of the moment it began.
 * `ece`: the ACK carried ECE (not a SYN) and data was in flight before it.
 */
export function ecnAfterAck(L: TcpLayer, t: Tcb, ev: AckEvent, act: RecoveryAction, ece: boolean): void {
  const cc = t.cc;
  const rec = t.rec;
  if (cc === null || rec === null) return;
  const newly = ev.ackedSegs > 0 ? ev.ackedSegs : ev.isDup || ev.sackCount > 0 ? 1 : 0;
  if (ece) {
    L.inc(L.c.TcpExtTCPDeliveredCE, newly);
    t.deliveredCe += newly;
  }
  const open = rec.caState === CaState.Open || rec.caState === CaState.Disorder;
  if (act.entered || !open) {
    // Fast recovery (or Loss) took over; it queued its own CWR.
    if (act.entered) ecnQueueCwr(t);
    t.cwrActive = false;
    return;
  }
  let ended = false;
  if (t.cwrActive && !seqLt(t.sndUna, t.cwrHigh) && t.sndUna !== t.cwrHigh) {
    // The window that saw the mark is acknowledged, and a byte beyond it so
    // that our CWR reached the peer: the reduction ends at ssthresh (Linux
    // tcp_end_cwnd_reduction).
    t.cwrActive = false;
    ended = true;
    cc.cwnd = Math.max(1, Math.min(cc.ssthresh, cc.cwndClamp));
  }
  if (!t.cwrActive && ece) {
    // RFC 3168 §6.1.2: react as to a loss, at most once per window (Linux
    // tcp_enter_cwr): ssthresh from the algorithm, cwnd then follows PRR.
    if (!ended) cc.cwnd = savedCwnd;
    cc.cwndCnt = savedCnt;
    t.priorCwnd = cc.cwnd;
    cc.ssthresh = cc.ssthreshOnLoss(ev.inFlightSegs);
    t.cwrActive = true;
    t.cwrHigh = ev.sndNxt;
    t.prrDelivered = 0;
    t.prrOut = 0;
    t.ecnFlags |= ECN_QUEUE_CWR;
  }
  if (!t.cwrActive) {
    if (ended) {
      // Out of CWR with this ACK: it may grow the window as usual.
      cc.cwndCnt = savedCnt;
      cc.onAck(ev);
    }
    return;
  }
  // In CWR: no growth; Proportional Rate Reduction (RFC 6937) as Linux tcp_cwnd_reduction.
  cc.cwndCnt = savedCnt;
  if (newly <= 0) {
    cc.cwnd = ended ? t.priorCwnd : savedCwnd;
    return;
  }
  t.prrDelivered += newly;
  const inFlight = Math.ceil(rec.inFlightBytes(t.sndUna, t.sndNxt) / t.mss);
  const delta = cc.ssthresh - inFlight;
  let sndcnt: number;
  if (delta < 0) {
    sndcnt = Math.floor((cc.ssthresh * t.prrDelivered + t.priorCwnd - 1) / t.priorCwnd) - t.prrOut;
  } else {
    sndcnt = Math.max(t.prrDelivered - t.prrOut, newly);
    if (ev.ackedBytes > 0) sndcnt++;
    sndcnt = Math.min(delta, sndcnt);
  }
  sndcnt = Math.max(sndcnt, t.prrOut > 0 ? 0 : 1);
  cc.cwnd = Math.max(1, Math.min(inFlight + sndcnt, cc.cwndClamp));
}
