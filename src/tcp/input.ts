/**
 * Segment arrival for a connection (RFC 9293 §3.10.7), in the RFC's order
 * for synchronized states: PAWS (RFC 7323 §5), sequence check, RST (RFC
 * 5961 §3.2), SYN (RFC 5961 §4), ACK (RFC 5961 §5), URG, data, FIN; with
 * Linux's choices where the RFCs leave room (which replies are
 * rate-limited, delayed ACKs, which errors sockets see).
 */
import type { IpRx } from '../ip/types.js';
import { seqGeq, seqGt, seqLeq, seqLt } from '../wire/seq.js';
import type { TcpHeader } from '../wire/tcp.js';
import {
  armKeepalive,
  enterTimeWait,
  established,
  growSndBuf,
  negotiate,
  setState,
  tcpDone,
  tcpReset,
} from './conn.js';
import {
  DSACK_TLP,
  dsackExtend,
  dsackReceived,
  dsackSet,
  oooDup,
  oooDuplicate,
  sendDupAck,
} from './dsack.js';
import { ECN_OK, ecnAcceptCwr, ecnAfterAck, ecnBeforeAck, ecnCheckCe, ecnSynSentInput } from './ecn.js';
import { groDefers } from './gro.js';
import { acceptChild, childRetransmittedSyn } from './listen.js';
import {
  ATO_MIN,
  ackSndCheck,
  armRto,
  challengeAck,
  curWindow,
  enterQuickAck,
  incrQuickAck,
  MAX_QUICKACKS,
  oowAck,
  retransmitAt,
  rmemAlloc,
  sendAck,
  sendActiveReset,
  sendSyn,
  setXmitTimer,
  tcpWrite,
  tsNow,
} from './output.js';
import { truesizeOf } from './rcv-mem.js';
import { growWindow, measureScalingRatio, rcvPrune, rcvRttMeasure } from './rcv-space.js';
import { UNDO_DSACK, UNDO_FULL } from './recovery/types.js';
import { LINUX_JIFFY_MS } from './rtt.js';
import { ACK, ECE, FIN, RST, SYN, TcpState, URG } from './state.js';
import type { Tcb } from './tcb.js';
import { RTX_PERSIST, RTX_RTO, type TcpLayer } from './tcp.js';
import { tlpAck } from './tlp.js';

/** PAWS: timestamps older than 24 days are not trusted (RFC 7323 §5.5). */
const PAWS_24DAYS = 24 * 24 * 3600 * 1000;

export function segmentArrives(L: TcpLayer, t: Tcb, rx: IpRx, h: TcpHeader): void {
  t.segsIn++;
  switch (t.state) {
    case TcpState.SYN_SENT:
      synSent(L, t, rx, h);
      return;
    case TcpState.CLOSED:
    case TcpState.LISTEN:
      L.noSocket(rx, h);
      return;
    case TcpState.TIME_WAIT:
      timeWaitFallback(L, t, rx, h);
      return;
    default:
      synchronized(L, t, rx, h);
  }
}

// ------------------------------------------------------------------ SYN_SENT

/** RFC 9293 §3.10.7.3 (SYN-SENT), as Linux tcp_rcv_synsent_state_process. */
function synSent(L: TcpLayer, t: Tcb, rx: IpRx, h: TcpHeader): void {
  const f = h.flags;
  if (f & ACK) {
    // An ACK for something we never sent: reset it (unless it is a reset).
    if (seqLeq(h.ack, t.iss) || seqGt(h.ack, t.sndMax)) {
      if (f & RST) return;
      L.replyReset(rx, h);
      // Linux also pulls the first SYN retransmission in to its minimum
      // timeout (TCP_TIMEOUT_MIN, 2 jiffies): the stale SYN-ACK suggests a
      // peer that lost our SYN's state, so try again at once (observed on
      // 6.18: the SYN goes out again 7-8 ms after the RST).
      if (t.retransmits === 0) L.armRtx(t, RTX_RTO, 2 * LINUX_JIFFY_MS);
      return;
    }
  }
  if (f & RST) {
    if (f & ACK) tcpReset(L, t);
    return;
  }
  if (!(f & SYN)) return;
  t.irs = h.seq;
  t.rcvNxt = (h.seq + 1) >>> 0;
  t.rcvWup = t.rcvNxt;
  negotiate(L, t, h);
  ecnSynSentInput(t, h, (f & ACK) !== 0);
  if (f & ACK) {
    t.sndUna = h.ack;
    t.sndDataSeq = h.ack;
    if (seqLt(t.sndNxt, t.sndUna)) t.sndNxt = t.sndUna;
    // RFC 7323 §2.2: the window in a SYN is never scaled.
    t.sndWnd = h.window;
    t.maxWindow = t.sndWnd;
    t.sndWl1 = h.seq;
    t.sndWl2 = h.ack;
    rttFromHandshake(L, t, h);
    established(L, t);
    // Linux answers the SYN-ACK with an ACK at once (quick-ACK credits come with the first data).
    sendAck(L, t);
    tcpWrite(L, t);
    return;
  }
  // Simultaneous open (RFC 9293 §3.5 figure 8): SYN_RECV, SYN-ACK with our ISN.
  t.simOpen = true;
  t.sndWnd = h.window;
  t.maxWindow = t.sndWnd;
  t.sndWl1 = h.seq;
  setState(L, t, TcpState.SYN_RECV);
  sendSyn(L, t, true);
}

function rttFromHandshake(L: TcpLayer, t: Tcb, h: TcpHeader): void {
  if (t.rtt === null) return;
  let r = -1;
  if (t.totalRetrans === 0 && t.rttTime >= 0) r = L.now - t.rttTime;
  else if (t.tsOk && h.hasTs && h.tsEcr !== 0) r = (tsNow(L, t) - h.tsEcr) | 0;
  t.rttTime = -1;
  if (r >= 0) t.rtt.sample(r, L.now, t.sndUna, t.sndNxt);
}

// ------------------------------------------------------------------ synchronized states

const ACK_UNSENT = -1;
const ACK_TOO_OLD = -2;

function synchronized(L: TcpLayer, t: Tcb, rx: IpRx, h: TcpHeader): void {
  const c = L.c;
  const f = h.flags;
  const now = L.now;
  const len = h.payloadLen;
  const segLen = len + (f & SYN ? 1 : 0) + (f & FIN ? 1 : 0);

  // A passive child still in SYN_RECV behaves like Linux's request socket (tcp_check_req).
  if (t.state === TcpState.SYN_RECV && t.parent !== null && !t.simOpen) {
    if (childSynRecv(L, t, rx, h)) return;
  }

  // PAWS (RFC 7323 §5.3): an older timestamp than the last in-window one is a stale duplicate.
  if (
    t.tsOk &&
    h.hasTs &&
    !(f & RST) &&
    ((h.tsVal - t.tsRecent) | 0) < 0 &&
    now - t.tsRecentStamp <= PAWS_24DAYS
  ) {
    if (f & SYN) {
      L.inc(c.TcpExtTCPSYNChallenge);
      challengeAck(L, t);
      return;
    }
    L.inc(c.TcpExtPAWSEstab);
    // Linux tcp_send_dupack: a segment with data is answered every time (D-SACK if old).
    if (segLen > 0) sendDupAck(L, t, h.seq, segLen);
    else oowAck(L, t, c.TcpExtTCPACKSkippedSeq);
    return;
  }

  // First: the sequence check (Linux tcp_sequence: ends at or after rcv_wup, starts within the window).
  const end = (h.seq + segLen) >>> 0;
  const rwin = curWindow(t);
  if (seqLt(end, t.rcvWup) || seqGt(h.seq, (t.rcvNxt + rwin) >>> 0)) {
    if (!(f & RST)) {
      if (f & SYN) {
        L.inc(c.TcpExtTCPSYNChallenge);
        challengeAck(L, t);
        return;
      }
      // Data or FIN: answered at once, never rate-limited; old data in
      // quick-ACK mode with a D-SACK (Linux tcp_send_dupack).
      if (segLen > 0) sendDupAck(L, t, h.seq, segLen);
      else oowAck(L, t, c.TcpExtTCPACKSkippedSeq);
    }
    return;
  }

  // Second: RST (RFC 5961 §3.2): exactly at rcv_nxt resets, elsewhere in the window asks for proof.
  if (f & RST) {
    if (h.seq === t.rcvNxt) tcpReset(L, t);
    else challengeAck(L, t);
    return;
  }

  // Fourth: a SYN in a synchronized state (RFC 5961 §4): challenge ACK, never a reset.
  // Except the peer's SYN-ACK completing a simultaneous open (Linux lets it pass as the ACK).
  const simOpenSynAck =
    t.state === TcpState.SYN_RECV &&
    t.simOpen &&
    (f & (SYN | ACK)) === (SYN | ACK) &&
    (h.seq + 1) >>> 0 === t.rcvNxt &&
    h.payloadLen === 0 &&
    h.ack === t.sndNxt;
  if (f & SYN && !simOpenSynAck) {
    L.inc(c.TcpInErrs);
    L.inc(c.TcpExtTCPSYNChallenge);
    challengeAck(L, t);
    return;
  }

  // Fifth: ACK.
  if (!(f & ACK)) return;
  if (t.state === TcpState.SYN_RECV) {
    if (seqLeq(h.ack, t.sndUna) || seqGt(h.ack, t.sndNxt)) {
      L.replyReset(rx, h);
      return;
    }
    replaceTsRecent(t, h, now);
    // RFC 9293: SYN-RECEIVED → ESTABLISHED; SND.WND from this segment.
    t.sndWnd = h.window << t.sndWscale;
    t.maxWindow = t.sndWnd;
    t.sndWl1 = h.seq;
    t.sndWl2 = h.ack;
    t.sndUna = h.ack;
    t.sndDataSeq = h.ack;
    if (seqLt(t.sndNxt, t.sndUna)) t.sndNxt = t.sndUna;
    rttFromHandshake(L, t, h);
    established(L, t);
    if (t.parent !== null) {
      if (!acceptChild(L, t)) return;
    } else if (simOpenSynAck) {
      // The peer's SYN-ACK repeats its SYN, which we already have: Linux
      // answers it as an old duplicate (tcp_data_queue), at once, with a
      // D-SACK for the SYN when SACK was agreed (checked on 6.18).
      sendDupAck(L, t, h.seq, 1);
    }
  } else {
    const r = processAck(L, t, h);
    if (r === ACK_UNSENT) {
      // RFC 5961 §5.2 / RFC 9293 §3.10.7.4: an ACK of data not yet sent is
      // dropped and answered with an ACK; Linux does so in every synchronized
      // state, rate-limited per connection (tcp_invalid_ratelimit).
      challengeAck(L, t);
      return;
    }
    if (r === ACK_TOO_OLD) return;
    if (t.state === TcpState.CLOSED) return;
  }

  t.lastRecv = now;
  if (t.keepalive && t.keepDeadline !== Infinity) armKeepalive(L, t);

  // ECN (RFC 3168 §6.1.3): the peer's CWR ends our ECE echo; data with CWR is ACKed at once.
  const ecnAckNow = t.ecnFlags & ECN_OK ? ecnAcceptCwr(t, h) : false;

  // Sixth: URG is not supported as out-of-band data; the urgent byte stays in the stream (as SO_OOBINLINE).
  void URG;

  // Seventh/eighth: data and FIN.
  if (len > 0 || f & FIN) {
    switch (t.state) {
      case TcpState.ESTABLISHED:
      case TcpState.FIN_WAIT1:
      case TcpState.FIN_WAIT2:
        if (t.orphan && len > 0 && seqGt((h.seq + len) >>> 0, t.rcvNxt)) {
          // Linux: new data for a socket closed by the application is answered with a reset.
          L.inc(c.TcpExtTCPAbortOnData);
          t.rcvNxt = (h.seq + len) >>> 0;
          sendActiveReset(L, t);
          tcpDone(L, t, 'ECONNRESET');
          return;
        }
        receiveData(L, t, h, rx.tos);
        break;
      default:
        // CLOSE_WAIT, CLOSING, LAST_ACK: the peer's FIN came already; ignore
        // (RFC 9293), except a retransmission of what we have (say, the FIN
        // again): Linux ACKs it at once with a D-SACK.
        if (seqLeq(end, t.rcvNxt)) oldDuplicate(L, t, h.seq, segLen);
        break;
    }
  }
  if ((t.state as TcpState) === TcpState.CLOSED) return;
  tcpWrite(L, t);
  if (L.burstDepth > 0 && !ecnAckNow && groDefers(L, t, f, len)) return;
  ackSndCheck(L, t, ecnAckNow);
}

/**
 * A passive child in SYN_RECV (Linux tcp_check_req): a retransmitted SYN
 * gets the SYN-ACK again; an in-window RST or SYN ends the embryonic
 * connection (a SYN is answered with a reset). Returns true when handled.
 */
function childSynRecv(L: TcpLayer, t: Tcb, rx: IpRx, h: TcpHeader): boolean {
  const f = h.flags;
  if ((f & (SYN | ACK | RST)) === SYN && h.seq === t.irs) {
    childRetransmittedSyn(L, t);
    return true;
  }
  const segLen = h.payloadLen + (f & SYN ? 1 : 0) + (f & FIN ? 1 : 0);
  const end = (h.seq + segLen) >>> 0;
  const inWin = !seqLt(end, t.rcvNxt) && !seqGt(h.seq, (t.rcvNxt + curWindow(t)) >>> 0);
  if (!inWin) {
    if (!(f & RST)) oowAck(L, t, L.c.TcpExtTCPACKSkippedSeq);
    return true;
  }
  if (f & (RST | SYN)) {
    L.inc(L.c.TcpExtEmbryonicRsts);
    if (!(f & RST)) L.replyReset(rx, h);
    tcpDone(L, t, null);
    return true;
  }
  if (!(f & ACK)) return true;
  return false;
}

/**
 * Remember the timestamp to echo (RFC 7323 §4.3, Linux tcp_replace_ts_recent).
 * Only from a segment whose ACK was acceptable: Linux takes it inside its ACK
 * processing, so an ACK of unsent data, an ACK below snd_una, a SYN or a
 * segment without ACK cannot move TS.Recent forward (else the next valid segment
 * would fail PAWS).
 */
function replaceTsRecent(t: Tcb, h: TcpHeader, now: number): void {
  if (t.tsOk && h.hasTs && seqLeq(h.seq, t.rcvWup) && ((h.tsVal - t.tsRecent) | 0) >= 0) {
    t.tsRecent = h.tsVal;
    t.tsRecentStamp = now;
  }
}

/**
 * ACK processing (RFC 9293 §3.10.7.4 fifth; RFC 5961 §5): window update,
 * releasing acknowledged bytes, RTT sample, congestion control and loss
 * recovery, timers, and the state changes an ACK of our FIN causes.
 */
function processAck(L: TcpLayer, t: Tcb, h: TcpHeader): number {
  const now = L.now;
  const ack = h.ack;
  const prior = t.sndUna;
  if (seqGt(ack, t.sndNxt)) return ACK_UNSENT;
  if (seqLt(ack, prior)) {
    if (seqLt(ack, (prior - t.maxWindow) >>> 0)) {
      challengeAck(L, t);
      return ACK_TOO_OLD;
    }
    // An old duplicate: the rest of the segment still counts, but Linux
    // (checked on 6.18) does not take its timestamp into TS.Recent.
    return 0;
  }
  replaceTsRecent(t, h, now);
  // Window update (Linux tcp_may_update_window; RFC 9293 SND.WL1/WL2).
  const nwin = h.window << t.sndWscale;
  const oldWnd = t.sndWnd;
  if (seqGt(ack, prior) || seqGt(h.seq, t.sndWl1) || (h.seq === t.sndWl1 && nwin > t.sndWnd)) {
    t.sndWnd = nwin;
    t.sndWl1 = h.seq;
    t.sndWl2 = ack;
    if (nwin > t.maxWindow) t.maxWindow = nwin;
  }
  const acked = (ack - prior) | 0;
  let finAcked = false;
  let dataAcked = 0;
  if (acked > 0) {
    let n = acked;
    dataAcked = Math.min(n, t.snd.length);
    n -= dataAcked;
    t.snd.ack(dataAcked);
    t.sndDataSeq = (t.sndDataSeq + dataAcked) >>> 0;
    t.bytesAcked += dataAcked;
    if (n > 0 && t.finSent) finAcked = true;
    t.sndUna = ack;
    // RTT (RFC 6298 §3 with Karn; RFC 7323 §4 timestamps when nothing was retransmitted).
    let r = -1;
    if (t.rttTime >= 0 && seqGeq(ack, t.rttSeq)) {
      r = now - t.rttTime;
      t.rttTime = -1;
    } else if (t.tsOk && h.hasTs && h.tsEcr !== 0 && t.retransmits === 0) {
      r = (tsNow(L, t) - h.tsEcr) | 0;
    }
    if (r >= 0 && t.rtt !== null) t.rtt.sample(r, now, t.sndUna, t.sndNxt);
    t.retransmits = 0;
    t.retransStamp = -1;
    L.wake(t);
  }
  // Any acceptable ACK answers outstanding probes (Linux tcp_ack: probes_out = 0, rcv_tstamp).
  t.probesOut = 0;
  t.lastAckRecv = now;
  const isDup =
    acked === 0 &&
    h.payloadLen === 0 &&
    !(h.flags & (SYN | FIN)) &&
    nwin === oldWnd &&
    t.flight > 0 &&
    ack === prior;
  const rec = t.rec;
  // SACK blocks go to the recovery module on any ACK (RFC 6675: new SACK information counts like a duplicate).
  const sacks = t.sackOk ? h.sackCount : 0;
  // A D-SACK (RFC 2883) is counted and recognised here; the recovery module leaves it out of its scoreboard.
  const dflags = sacks > 0 ? dsackReceived(L, t, h.sackBlocks, sacks, ack, prior) : 0;
  let newSack = false;
  // ECN echo (RFC 3168 §6.1.2): counts only with data in flight before this ACK (Linux tcp_ack).
  const ecn = (t.ecnFlags & ECN_OK) !== 0;
  const ece = ecn && (h.flags & ECE) !== 0 && t.sndNxt !== prior;
  if (rec !== null && t.cc !== null && (acked > 0 || isDup || sacks > 0 || ece)) {
    const ev = t.ackEv;
    const act = t.recAct;
    if (ev !== null && act !== null) {
      ev.now = now;
      ev.ack = ack;
      ev.sndUna = prior;
      ev.sndNxt = t.sndNxt;
      ev.ackedBytes = Math.max(acked, 0);
      ev.ackedSegs = acked > 0 ? Math.ceil(acked / t.mss) : 0;
      ev.isDup = isDup;
      ev.sackedSegs = 0;
      ev.sackBlocks = sacks > 0 ? h.sackBlocks : null;
      ev.sackCount = sacks;
      ev.rttMs = -1;
      ev.inFlightSegs = Math.ceil(((t.sndNxt - prior) | 0) / t.mss);
      ev.cwndLimited = t.cwndLimited;
      ev.mss = t.mss;
      act.retransmitSeq = -1;
      act.restartRto = false;
      act.entered = false;
      act.exited = false;
      act.newlySacked = 0;
      act.sackDiscarded = 0;
      act.undo = 0;
      if (ecn) ecnBeforeAck(t);
      rec.onAck(ev, act);
      if (ecn) ecnAfterAck(L, t, ev, act, ece);
      newSack = act.newlySacked > 0;
      if (act.sackDiscarded > 0) L.inc(L.c.TcpExtTCPSACKDiscard, act.sackDiscarded);
      // A needless reduction undone by D-SACKs (RFC 2883 §5).
      if (act.undo === UNDO_DSACK) L.inc(L.c.TcpExtTCPDSACKUndo);
      else if (act.undo === UNDO_FULL) L.inc(L.c.TcpExtTCPFullUndo);
      if (act.entered) {
        // Linux tcp_enter_recovery: TCPSackRecovery when SACK was negotiated.
        L.inc(t.sackOk ? L.c.TcpExtTCPSackRecovery : L.c.TcpExtTCPRenoRecovery);
        L.inc(L.c.TcpExtTCPFastRetrans);
        // Recovery ends a tail-loss-probe episode (Linux tcp_init_cwnd_reduction).
        t.tlpHighSeq = -1;
      }
      if (act.retransmitSeq >= 0 && seqLt(act.retransmitSeq, t.sndNxt)) {
        const n = retransmitAt(L, t, act.retransmitSeq);
        if (n > 0) rec.onRetransmit(act.retransmitSeq, n);
        if (t.retransStamp < 0) t.retransStamp = now;
      }
      if (act.restartRto) armRto(L, t);
    }
    if (acked > 0) {
      t.cwndLimited = false;
      growSndBuf(L, t);
    }
  }
  // Timers (RFC 6298 §5.2/5.3): stop when all is acknowledged, restart on progress.
  // The tail-loss-probe episode (RFC 8985 §7.4; src/tcp/tlp.ts).
  if (t.tlpHighSeq >= 0) {
    const notDup = acked > 0 || h.payloadLen > 0 || nwin !== oldWnd;
    tlpAck(L, t, ack, acked > 0, notDup, newSack, (dflags & DSACK_TLP) !== 0);
  }
  if (t.flight === 0) {
    if (t.rtxKind !== RTX_PERSIST) L.cancelRtx(t);
  } else if (acked > 0) setXmitTimer(L, t);
  if (t.rtxKind === RTX_PERSIST && t.sndWnd > 0) {
    L.cancelRtx(t);
    t.probesOut = 0;
    t.rtt?.resetBackoff();
  }
  if (finAcked) ourFinAcked(L, t, (h.flags & FIN) !== 0);
  return acked > 0 ? 1 : 0;
}

/** Our FIN was acknowledged: FIN_WAIT1 → FIN_WAIT2, CLOSING → TIME_WAIT, LAST_ACK → CLOSED. */
function ourFinAcked(L: TcpLayer, t: Tcb, segHasFin: boolean): void {
  switch (t.state) {
    case TcpState.FIN_WAIT1: {
      setState(L, t, TcpState.FIN_WAIT2);
      L.cancelRtx(t);
      // With the peer's FIN on this same segment the full socket stays, so
      // the FIN is processed (ACK, TIME_WAIT) as Linux does (it would be lost otherwise).
      if (t.orphan && !segHasFin) {
        // Linux tcp_fin_timeout: an orphan waits at most tcp_fin_timeout for the peer's FIN.
        enterTimeWait(L, t, true);
      }
      break;
    }
    case TcpState.CLOSING:
      enterTimeWait(L, t, false);
      break;
    case TcpState.LAST_ACK:
      tcpDone(L, t, null);
      break;
    default:
      break;
  }
}

/** Data and FIN of an acceptable segment (RFC 9293 §3.10.7.4 seventh/eighth; Linux tcp_data_queue). */
function receiveData(L: TcpLayer, t: Tcb, h: TcpHeader, tos: number): void {
  const c = L.c;
  const now = L.now;
  let seq = h.seq;
  let len = h.payloadLen;
  const off = h.payloadOff;
  const buf = h.payload;
  let poff = 0;
  const fin = (h.flags & FIN) !== 0;
  void off;
  // Trim what we already have.
  if (seqLt(seq, t.rcvNxt)) {
    const skip = (t.rcvNxt - seq) | 0;
    if (skip >= len) {
      // Entirely old (unless only its FIN is new): a duplicate.
      if (!(fin && (seq + len) >>> 0 === t.rcvNxt)) {
        oldDuplicate(L, t, seq, len + (fin ? 1 : 0));
        return;
      }
      poff = len;
      len = 0;
      seq = t.rcvNxt;
    } else {
      // Starts below rcv_nxt: report the old part (RFC 2883), keep the rest.
      dsackSet(L, t, seq, t.rcvNxt);
      poff = skip;
      len -= skip;
      seq = t.rcvNxt;
    }
  }
  const at = (seq - t.rcvNxt) | 0;
  const win = curWindow(t);
  if (len > 0 && at >= win && win === 0) {
    // Zero window: nothing fits (Linux TCPZeroWindowDrop), answer with an ACK.
    L.inc(c.TcpExtTCPZeroWindowDrop);
    sendAck(L, t);
    return;
  }
  // Linux queues an acceptable segment whole, past the right edge too,
  // while receive memory allows (tcp_try_rmem_schedule). Once SO_RCVBUF is
  // used up and pruning (rcvPrune) cannot make room, out-of-order data is
  // dropped (TCPOFODrop, no ACK), and
  // in-order data is ACKed at once and dropped unless nothing is queued
  // (TCPRcvQDrop; a bare FIN always goes in). Memory stays bounded:
  // SO_RCVBUF plus one segment, and data starts within the window.
  if ((len > 0 || fin) && rmemAlloc(t) > t.rcvBuf && !rcvPrune(L, t)) {
    if (at > 0) {
      if (len > 0) {
        L.inc(c.TcpExtTCPOFODrop);
        return;
      }
    } else {
      t.ackNow = true;
      if (len > 0 && t.rcv.readable > 0) {
        L.inc(c.TcpExtTCPRcvQDrop);
        sendAck(L, t);
        return;
      }
    }
  }
  let finInSeq = false;
  if (len > 0) {
    if (t.rdShut) {
      // SHUT_RD: Linux keeps accepting and discards.
    }
    t.rcv.ensureCapacity(t.rcv.readable + at + len);
    const hadOoo = t.rcv.oooCount > 0;
    // Data already held out of order is reported once stored (RFC 2883).
    const dup = t.sackOk && oooDuplicate(t, at, at + len);
    const dupBase = t.rcvNxt;
    const adv = t.rcv.store(buf, poff, len, at);
    if (adv < 0) {
      L.inc(c.TcpExtTCPOFODrop);
      enterQuickAck(t, MAX_QUICKACKS);
      sendAck(L, t);
      return;
    }
    if (dup) {
      // All of it held already: Linux drops it as merged (TcpExtTCPOFOMerge).
      if (at > 0 && oooDup.start === at && oooDup.end === at + len) L.inc(c.TcpExtTCPOFOMerge);
      // Counted as OfoSent here, as OldSent once rcv_nxt moved past it below.
      if (at > 0) dsackExtend(L, t, (dupBase + oooDup.start) >>> 0, (dupBase + oooDup.end) >>> 0);
    }
    // Receive memory: the skb's truesize, not its payload (src/tcp/rcv-mem.ts).
    const pktLen = (t.wl !== null && t.wl.length === 16 ? 40 : 20) + h.dataOffset + h.payloadLen;
    if (at > 0) {
      t.rmem.outOfOrder(seq, (seq + len) >>> 0, pktLen);
      L.inc(c.TcpExtTCPOFOQueue);
      if (t.ecnFlags & ECN_OK) ecnCheckCe(t, tos);
      if (fin) t.rcvFinSeq = (seq + len) >>> 0;
      // Out-of-order data: ACK at once (with SACK) and go into quick-ACK mode.
      enterQuickAck(t, MAX_QUICKACKS);
      t.ackPending = true;
      sendAck(L, t);
      return;
    }
    t.rcvNxt = (t.rcvNxt + adv) >>> 0;
    t.rmem.inOrder(seq, (seq + len) >>> 0, pktLen);
    t.rmem.advance((seq + len) >>> 0, t.rcvNxt);
    if (dup) dsackExtend(L, t, (dupBase + oooDup.start) >>> 0, (dupBase + oooDup.end) >>> 0);
    t.bytesReceived += adv;
    t.dataSegsIn++;
    rcvRttMeasure(L, t, len, h.hasTs, h.tsEcr);
    measureScalingRatio(t, len, truesizeOf(pktLen));
    eventDataRecv(t, now, len);
    growWindow(L, t, len, truesizeOf(pktLen));
    if (t.ecnFlags & ECN_OK) ecnCheckCe(t, tos);
    if (t.rdShut) t.rcv.consume(t.rcv.readable);
    t.ackPending = true;
    if (hadOoo) {
      // A hole was filled: ACK now (RFC 5681 §4.2; Linux ICSK_ACK_NOW).
      t.ackNow = true;
    }
    finInSeq = fin && (seq + len) >>> 0 === t.rcvNxt;
    if (!finInSeq && t.rcvFinSeq >= 0 && t.rcvFinSeq === t.rcvNxt) finInSeq = true;
    L.wake(t);
  } else if (fin) {
    if (at === 0) finInSeq = true;
    else {
      t.rcvFinSeq = seq >>> 0;
      enterQuickAck(t, MAX_QUICKACKS);
      t.ackPending = true;
      sendAck(L, t);
      return;
    }
  }
  if (finInSeq) tcpFin(L, t);
}

/**
 * A segment of `segLen` sequence numbers (data and FIN) wholly below
 * rcv_nxt: a retransmission of what we have (Linux tcp_data_queue). ACK at
 * once in quick-ACK mode, reporting it as a D-SACK; TcpExtDelayedACKLost
 * (our ACK of it was probably lost or late).
 */
function oldDuplicate(L: TcpLayer, t: Tcb, seq: number, segLen: number): void {
  if (segLen <= 0) return;
  L.inc(L.c.TcpExtDelayedACKLost);
  dsackSet(L, t, seq, (seq + segLen) >>> 0);
  enterQuickAck(t, MAX_QUICKACKS);
  sendAck(L, t);
}

/** Linux tcp_event_data_recv: quick-ACKs at the start, ato estimation, receive-window growth. */
function eventDataRecv(t: Tcb, now: number, len: number): void {
  // Receiver MSS estimate (Linux tcp_measure_rcv_mss).
  if (len >= t.rcvMss) t.rcvMss = Math.min(len, t.advMss);
  if (t.ato === 0) {
    incrQuickAck(t, MAX_QUICKACKS);
    t.ato = ATO_MIN;
  } else {
    const m = now - t.lastDataRecv;
    const rto = t.rtt !== null ? t.rtt.timeout() : 1000;
    if (m <= ATO_MIN / 2) t.ato = (t.ato >> 1) + ATO_MIN / 2;
    else if (m < t.ato) {
      t.ato = (t.ato >> 1) + m;
      if (t.ato > rto) t.ato = rto;
    } else if (m > rto) incrQuickAck(t, MAX_QUICKACKS);
  }
  t.lastDataRecv = now;
}

/** The peer's FIN, in sequence (RFC 9293 §3.10.7.4 eighth; Linux tcp_fin). */
function tcpFin(L: TcpLayer, t: Tcb): void {
  t.rcvNxt = (t.rcvNxt + 1) >>> 0;
  t.finRcvd = true;
  t.rcvFinSeq = -1;
  t.ackPending = true;
  switch (t.state) {
    case TcpState.SYN_RECV:
    case TcpState.ESTABLISHED:
      setState(L, t, TcpState.CLOSE_WAIT);
      // Linux enters interactive mode here, so the ACK of a FIN is delayed.
      t.pingpong = true;
      break;
    case TcpState.FIN_WAIT1:
      // Simultaneous close: ACK at once, CLOSING.
      sendAck(L, t);
      setState(L, t, TcpState.CLOSING);
      break;
    case TcpState.FIN_WAIT2:
      sendAck(L, t);
      enterTimeWait(L, t, false);
      break;
    default:
      break;
  }
  L.wake(t);
}

/**
 * Plain TIME_WAIT kept in the control block when no TIME_WAIT table is
 * attached: a retransmitted FIN is ACKed and restarts the 60 s; a RST at
 * rcv_nxt ends it (RFC 1337 hazard accepted, as Linux's default).
 */
function timeWaitFallback(L: TcpLayer, t: Tcb, rx: IpRx, h: TcpHeader): void {
  const f = h.flags;
  if (f & RST) {
    if (h.seq === t.rcvNxt) tcpDone(L, t, null);
    return;
  }
  if (f & SYN) {
    L.replyReset(rx, h);
    return;
  }
  if (f & FIN) {
    sendAck(L, t);
    L.armKeep(t, 60_000);
    return;
  }
  if (h.payloadLen > 0) sendAck(L, t);
}
