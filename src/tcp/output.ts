/**
 * Segment output: building headers with Linux's option layout into the
 * layer's one preallocated buffer, window selection (Linux's
 * __tcp_select_window with receiver SWS avoidance, RFC 9293 §3.8.6.2.2),
 * the send loop (sender SWS avoidance and Nagle, RFC 9293 §3.8.6.2.1,
 * RFC 896; Linux's Minshall variant; TCP_NODELAY; TCP_CORK), ACKs, delayed
 * ACKs and resets.
 */

import { isV4Wire } from '../inet/addr-key.js';
import type { IpAddr } from '../wire/addr.js';
import { pseudoSum, wireBuffer } from '../wire/checksum.js';
import { seqGt, seqLt, seqMax } from '../wire/seq.js';
import { emitTcp, IPPROTO_TCP, tcpFillChecksum, tcpHeaderLen } from '../wire/tcp.js';
import { ECN_OK, ecnOutput, ecnSynFlags } from './ecn.js';
import { sizeGoal, tsoSegs } from './push.js';
import { winFromSpaceRatio } from './rcv-mem.js';
import { MAX_RANGES } from './recv-buffer.js';
import { ACK, FIN, PSH, RST, SYN, TcpState } from './state.js';
import type { Tcb } from './tcb.js';
import { OUT_HEADROOM, RTX_PERSIST, RTX_RTO, RTX_TLP, type TcpLayer } from './tcp.js';

/** The address as it goes on the wire: a v4-mapped IPv6 address as its 4 IPv4 bytes (a view, no copy). */
function onWire(a: IpAddr): IpAddr {
  return a.length === 16 && isV4Wire(a) ? a.subarray(12, 16) : a;
}

/** Linux TCP_ATO_MIN / TCP_DELACK_MAX (ms). */
export const ATO_MIN = 40;
export const DELACK_MAX = 200;
/** Linux TCP_MAX_QUICKACKS. */
export const MAX_QUICKACKS = 16;

/** Our timestamp clock for `t`: milliseconds plus the connection's random offset (RFC 7323 §5.4). */
export function tsNow(L: TcpLayer, t: Tcb): number {
  return (Math.floor(L.now) + t.tsOffset) >>> 0;
}

/** Linux tcp_win_from_space with the default scaling ratio of one half. */
export function winFromSpace(space: number): number {
  return space > 0 ? space - (space >> 1) : 0;
}

/** Linux tcp_win_from_space at the connection's scaling_ratio (src/tcp/rcv-mem.ts). */
export function winFromSpaceT(t: Tcb, space: number): number {
  return winFromSpaceRatio(space, t.scalingRatio);
}

/** The most we would ever advertise: tcp_full_space, clamped by window_clamp. */
export function fullSpace(t: Tcb): number {
  const fs = winFromSpaceRatio(t.rcvBuf, t.scalingRatio);
  return t.windowClamp > 0 && t.windowClamp < fs ? t.windowClamp : fs;
}

/** Receive memory in use (Linux sk_rmem_alloc): skbs not yet read to their end. */
export function rmemAlloc(t: Tcb): number {
  t.rmem.release((t.rcvNxt - t.rcv.readable - (t.finRcvd ? 1 : 0)) >>> 0);
  return t.rmem.total;
}

/**
 * Linux tcp_space: the window the free receive memory would hold. Memory is
 * charged by skb truesize and freed only when an skb is read to its end.
 */
export function freeSpace(t: Tcb): number {
  const space = t.rcvBuf - rmemAlloc(t);
  return space >= 0 ? winFromSpaceRatio(space, t.scalingRatio) : -winFromSpaceRatio(-space, t.scalingRatio);
}

/**
 * Linux __tcp_select_window: the window the buffer allows now. Receiver SWS
 * avoidance (tcp_shrink_window = 0): below half the full space the free
 * space is rounded down to the scale unit, quick ACKs stop, and below one
 * MSS or 1/16 of the buffer's window zero is offered. Without window
 * scaling the window is kept while within one MSS of the free space, else
 * rounded down to whole MSS.
 */
export function computeWindow(t: Tcb): number {
  let mss = t.rcvMss;
  const allowed = winFromSpaceRatio(t.rcvBuf, t.scalingRatio);
  const full = t.windowClamp > 0 && t.windowClamp < allowed ? t.windowClamp : allowed;
  let free = freeSpace(t);
  if (mss > full) {
    mss = full;
    if (mss <= 0) return 0;
  }
  const shift = t.wsOk ? t.rcvWscale : 0;
  if (free < full >> 1) {
    t.quick = 0;
    free = free > 0 ? Math.floor(free / (1 << shift)) * (1 << shift) : free;
    if (free < allowed >> 4 || free < mss) return 0;
  }
  if (free > t.rcvSsthresh) free = t.rcvSsthresh;
  let window: number;
  if (shift > 0) {
    const unit = 1 << shift;
    window = Math.ceil(free / unit) * unit;
  } else {
    window = t.rcvWnd;
    if (window <= free - mss || window > free) window = Math.floor(free / mss) * mss;
    else if (mss === full && free > window + (full >> 1)) window = free;
  }
  return window;
}

/**
 * Linux tcp_select_window: never shrink the offered right edge
 * (tcp_shrink_window = 0); remember what was offered; return the header
 * value (scaled, RFC 7323 §2.3).
 */
export function selectWindow(L: TcpLayer, t: Tcb): number {
  const cur = curWindow(t);
  let nw = computeWindow(t);
  if (nw < cur) {
    const unit = t.wsOk ? 1 << t.rcvWscale : 1;
    nw = Math.ceil(cur / unit) * unit;
  }
  const wasZero = t.rcvWnd === 0;
  t.rcvWnd = nw;
  t.rcvWup = t.rcvNxt;
  const shift = t.wsOk ? t.rcvWscale : 0;
  let field = nw >>> shift;
  if (field > 65535) field = 65535;
  if (nw === 0) {
    L.inc(L.c.TcpExtTCPWantZeroWindowAdv);
    if (!wasZero) L.inc(L.c.TcpExtTCPToZeroWindowAdv);
  } else if (wasZero) L.inc(L.c.TcpExtTCPFromZeroWindowAdv);
  return field;
}

/** Window still open to the peer from rcv_nxt (Linux tcp_receive_window). */
export function curWindow(t: Tcb): number {
  const w = (t.rcvWup + t.rcvWnd - t.rcvNxt) | 0;
  return Math.max(w, 0);
}

/**
 * Build and send one segment of `t`: `flags`, sequence `seq`, `len` payload
 * bytes taken from the send buffer at `dataAt` bytes past its head.
 * Options: MSS/SACK-permitted/timestamps/window scale on SYNs as negotiated
 * or offered; timestamps on every other segment when agreed (RFC 7323 §3.2);
 * SACK blocks for out-of-order data held (RFC 2018 §4).
 */
export function sendSegment(
  L: TcpLayer,
  t: Tcb,
  seq: number,
  flags: number,
  dataAt: number,
  len: number,
): number {
  const v = L.sysctl.v;
  const h = L.ohdr;
  // ECN (RFC 3168, src/tcp/ecn.ts): ECE/CWR on SYNs, ECT(0) on new data, ECE/CWR echoes.
  let tos = 0;
  if (flags & SYN) flags |= ecnSynFlags(L, t, (flags & ACK) !== 0, t.sndNxt === t.iss);
  else if (t.ecnFlags & ECN_OK) {
    const r = ecnOutput(t, seq, flags, len);
    flags = r & 0xffff;
    tos = r >>> 16;
  }
  h.srcPort = t.lport;
  h.dstPort = t.rport;
  h.seq = seq >>> 0;
  h.ack = flags & ACK ? t.rcvNxt : 0;
  h.flags = flags;
  h.urgent = 0;
  h.checksum = 0;
  h.mss = -1;
  h.wscale = -1;
  h.sackOk = false;
  h.sackCount = 0;
  h.hasTs = false;
  if (flags & SYN) {
    h.mss = t.advMss;
    if (t.state === TcpState.SYN_SENT || t.simOpen) {
      // Active open: offer what the sysctls allow. In a simultaneous open
      // Linux answers the peer's SYN with its own SYN turned into a SYN-ACK
      // (tcp_send_synack): the same offer, whatever the peer's SYN carried,
      // timestamps echoing TS.Recent (0 when the peer sent none).
      if (v['net.ipv4.tcp_window_scaling']) h.wscale = t.rcvWscale;
      if (v['net.ipv4.tcp_sack']) h.sackOk = true;
      if (v['net.ipv4.tcp_timestamps']) {
        h.hasTs = true;
        h.tsVal = tsNow(L, t);
        // After taking over a TIME_WAIT entry Linux echoes its TS.Recent (tcp_syn_options).
        h.tsEcr = t.twTakeover || t.simOpen ? t.tsRecent : 0;
      }
    } else {
      // SYN-ACK: answer only what the peer offered.
      if (t.wsOk) h.wscale = t.rcvWscale;
      h.sackOk = t.sackOk;
      if (t.tsOk) {
        h.hasTs = true;
        h.tsVal = t.cookieTs >= 0 ? t.cookieTs : tsNow(L, t);
        h.tsEcr = t.tsRecent;
      }
    }
    h.window = Math.min(t.rcvWnd, 65535);
  } else {
    if (t.tsOk) {
      h.hasTs = true;
      h.tsVal = tsNow(L, t);
      h.tsEcr = t.tsRecent;
    }
    if (t.sackOk && (t.rcv.oooCount > 0 || t.dsack) && flags & ACK) {
      let max = t.tsOk ? 3 : 4;
      if (len > 0) {
        // The SACK option (4 + 8n bytes with padding) must fit beside the
        // data within the MSS, or the segment exceeds the path MTU (DF set).
        const room = t.mss - len;
        const fit = room >= 12 ? (room - 4) >> 3 : 0;
        if (fit < max) max = fit;
      }
      let d = 0;
      if (t.dsack && max > 0) {
        // RFC 2883 §4: a pending duplicate goes first, once (src/tcp/dsack.ts).
        h.sackBlocks[0] = t.dsackStart;
        h.sackBlocks[1] = t.dsackEnd;
        t.dsack = false;
        d = 1;
      }
      const r = t.rcv;
      // RFC 2018 §4 (and Linux): the block holding the latest segment first, then the other most recent ones.
      const n = r.oooCount > 0 ? r.recentOrder(SACK_ORDER, max - d) : 0;
      for (let k = 0; k < n; k++) {
        const i = SACK_ORDER[k];
        h.sackBlocks[2 * (k + d)] = (t.rcvNxt + r.oooStart[i]) >>> 0;
        h.sackBlocks[2 * (k + d) + 1] = (t.rcvNxt + r.oooEnd[i]) >>> 0;
      }
      h.sackCount = n + d;
    }
    h.window = flags & RST && !(flags & ACK) ? 0 : selectWindow(L, t);
  }
  if (t.wl === null) {
    t.wl = onWire(t.laddr as IpAddr);
    t.wr = onWire(t.raddr as IpAddr);
  }
  const laddr = t.wl;
  const raddr = t.wr as IpAddr;
  // Build the segment in memory the link lends when it does (IP outputBuffer,
  // Link.txBuffer): the frame then reaches the wire without another copy.
  // Otherwise in the layer's output buffer, which the link copies.
  const hlenEst = tcpHeaderLen(h);
  let buf = L.host.ip.outputBuffer(raddr, hlenEst + len);
  let off: number;
  if (buf !== null) off = laddr.length === 4 ? 20 : 40;
  else {
    if (L.obuf.length < OUT_HEADROOM + 60 + len) L.obuf = wireBuffer(OUT_HEADROOM + 60 + len);
    buf = L.obuf;
    off = OUT_HEADROOM;
  }
  const hlen = emitTcp(h, buf, off);
  if (len > 0) t.snd.copyOut(dataAt, len, buf, off + hlen);
  const total = hlen + len;
  const ps = pseudoSum(laddr, raddr, IPPROTO_TCP, total);
  tcpFillChecksum(buf, off, total, ps);
  if (laddr.length === 4) {
    // IPv4: IP_TOS's DSCP bits; DF unless IP_MTU_DISCOVER says otherwise (Linux
    // ip_dont_fragment: IP_PMTUDISC_WANT or _DO)
    L.outOpts.tos = tos | t.ipTos;
    L.outOpts.df = t.pmtuDisc === 1 || t.pmtuDisc === 2;
  } else {
    L.outOpts.tos = tos | t.tclass;
    L.outOpts.df = true;
  }
  const err = L.host.ip.output(buf, off, total, IPPROTO_TCP, laddr, raddr, L.outOpts);
  L.inc(L.c.TcpOutSegs);
  t.segsOut++;
  if (len > 0) {
    t.dataSegsOut++;
    t.lastSend = L.now;
  }
  if (flags & RST) L.inc(L.c.TcpOutRsts);
  if (flags & ACK) ackSent(L, t);
  return err;
}

/** Linux tcp_event_ack_sent: an ACK went out, so no delayed ACK is owed. */
function ackSent(L: TcpLayer, t: Tcb): void {
  if (t.quick > 0) {
    t.quick--;
    if (t.quick === 0) t.ato = ATO_MIN;
  }
  t.ackPending = false;
  t.ackNow = false;
  t.segsSinceAck = 0;
  L.cancelDack(t);
}

/** A bare ACK (RFC 9293: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>). */
export function sendAck(L: TcpLayer, t: Tcb): void {
  if (t.state === TcpState.CLOSED || t.laddr === null) return;
  sendSegment(L, t, t.sndNxt, ACK, 0, 0);
}

/**
 * An out-of-window or otherwise unacceptable segment is answered with an
 * ACK at most once per tcp_invalid_ratelimit (Linux tcp_oow_rate_limited).
 * Returns false when rate-limited.
 */
export function oowAck(L: TcpLayer, t: Tcb, skippedCounter: number): boolean {
  const now = L.now;
  const lim = L.sysctl.v['net.ipv4.tcp_invalid_ratelimit'];
  if (now - t.lastOowAck < lim) {
    L.inc(skippedCounter);
    return false;
  }
  t.lastOowAck = now;
  sendAck(L, t);
  return true;
}

/** RFC 5961 §3.2/§4/§5 challenge ACK, rate-limited per connection like Linux. */
export function challengeAck(L: TcpLayer, t: Tcb): void {
  if (oowAck(L, t, L.c.TcpExtTCPACKSkippedChallenge)) L.inc(L.c.TcpExtTCPChallengeACK);
}

/** Linux tcp_send_active_reset: RST|ACK at snd_nxt (close with unread data, linger 0, abort). */
export function sendActiveReset(L: TcpLayer, t: Tcb): void {
  if (t.laddr === null || t.raddr === null) return;
  sendSegment(L, t, t.sndNxt, RST | ACK, 0, 0);
}

/** A segment built from numbers only (no control block): resets and TIME_WAIT replies. */
export function sendReset(
  L: TcpLayer,
  family: 4 | 6,
  laddr: IpAddr,
  lport: number,
  raddr: IpAddr,
  rport: number,
  seq: number,
  ack: number,
  flags: number,
  tsVal: number,
  tsEcr: number,
  window: number,
): void {
  const h = L.ohdr;
  h.srcPort = lport;
  h.dstPort = rport;
  h.seq = seq >>> 0;
  h.ack = ack >>> 0;
  h.flags = flags;
  h.window = window;
  h.urgent = 0;
  h.checksum = 0;
  h.mss = -1;
  h.wscale = -1;
  h.sackOk = false;
  h.sackCount = 0;
  h.hasTs = tsVal >= 0;
  h.tsVal = tsVal >>> 0;
  h.tsEcr = tsEcr >>> 0;
  const buf = L.obuf;
  const off = OUT_HEADROOM;
  const hlen = emitTcp(h, buf, off);
  void family;
  const ps = pseudoSum(laddr, raddr, IPPROTO_TCP, hlen);
  tcpFillChecksum(buf, off, hlen, ps);
  L.outOpts.tos = 0;
  L.outOpts.df = true;
  L.host.ip.output(buf, off, hlen, IPPROTO_TCP, laddr, raddr, L.outOpts);
  L.inc(L.c.TcpOutSegs);
  if (flags & RST) L.inc(L.c.TcpOutRsts);
}

// ------------------------------------------------------------------ delayed ACK

/** Linux tcp_incr_quickack: allow up to rcv_wnd / (2 * rcv_mss) (2..16) immediate ACKs. */
export function incrQuickAck(t: Tcb, max: number): void {
  let q = Math.floor(t.rcvWnd / (2 * t.rcvMss));
  if (q === 0) q = 2;
  if (q > max) q = max;
  if (q > t.quick) t.quick = q;
}

/** Linux tcp_enter_quickack_mode: after out-of-order or duplicate data. */
export function enterQuickAck(t: Tcb, max: number): void {
  incrQuickAck(t, max);
  t.pingpong = false;
  t.ato = ATO_MIN;
}

/**
 * Linux __tcp_ack_snd_check: after data (or a FIN) arrived, ACK now when
 * more than one full segment is unacknowledged and the window would not
 * shrink, in quick-ACK mode, or with out-of-order data held; otherwise
 * schedule the delayed ACK (ato, at most 200 ms when interactive).
 */
export function ackSndCheck(L: TcpLayer, t: Tcb, now: boolean): void {
  if (!t.ackPending) return;
  const unacked = (t.rcvNxt - t.rcvWup) | 0;
  if (
    now ||
    (unacked > t.rcvMss && computeWindow(t) >= t.rcvWnd) ||
    t.ackNow ||
    (t.quick > 0 && !t.pingpong) ||
    t.rcv.oooCount > 0 ||
    t.dsack
  ) {
    sendAck(L, t);
    return;
  }
  sendDelayedAck(L, t);
}

/** Linux tcp_send_delayed_ack. */
export function sendDelayedAck(L: TcpLayer, t: Tcb): void {
  // ato is 0 until data arrived (e.g. a FIN right after the handshake): the
  // delayed ACK is then due at once, as Linux's timer at jiffies + 0.
  let ato = t.ato;
  if (ato > ATO_MIN) {
    // Linux: at most 200 ms when interactive (500 ms otherwise), and never
    // more than the smoothed RTT (but at least 40 ms).
    let maxAto = t.pingpong ? DELACK_MAX : 500;
    if (t.rtt?.hasSample) {
      const r = Math.max(t.rtt.srtt, ATO_MIN);
      if (r < maxAto) maxAto = r;
    }
    if (ato > maxAto) ato = maxAto;
  }
  const deadline = L.now + ato;
  if (t.dackDeadline !== Infinity) {
    // Already scheduled: an ACK nearly due goes now; otherwise keep the earlier deadline.
    if (t.dackDeadline <= L.now + (ato >> 2)) {
      sendAck(L, t);
      return;
    }
    if (deadline >= t.dackDeadline) return;
  }
  L.armDack(t, ato);
}

// ------------------------------------------------------------------ the send loop

function canSendData(s: TcpState): boolean {
  return (
    s === TcpState.ESTABLISHED ||
    s === TcpState.CLOSE_WAIT ||
    s === TcpState.FIN_WAIT1 ||
    s === TcpState.CLOSING ||
    s === TcpState.LAST_ACK
  );
}

/**
 * Send what the windows allow (Linux tcp_write_xmit): retransmissions the
 * recovery module asks for first, then new data in MSS-sized segments,
 * subject to the peer's window, the congestion window, sender SWS avoidance
 * and Nagle/cork; the FIN rides on the last segment or goes alone.
 * `pushCorked`: send a partial segment even under TCP_CORK, once (Linux
 * TCP_NAGLE_PUSH, set by turning TCP_NODELAY on).
 */
export function tcpWrite(L: TcpLayer, t: Tcb, pushCorked = false): void {
  if (!canSendData(t.state)) return;
  const mss = t.mss;
  const rec = t.rec;
  let sent = 0;
  // New bytes since the last call end a write: Linux tcp_push marks them (src/tcp/push.ts).
  const more = t.push.noteWrite(t.sndDataSeq, t.dataEnd, t.sndNxt, sizeGoal(mss, t.maxWindow), t.maxWindow);
  // Bytes of the GSO packet being sent (Linux transmits one whole; nothing interleaves), and its PSH.
  let pktLeft = 0;
  let pktPsh = false;
  for (let guard = 0; guard < 100000; guard++) {
    const cwndBytes = rec !== null ? rec.sendWindowSegs() * mss : 10 * mss;
    const pipe = rec !== null ? rec.inFlightBytes(t.sndUna, t.sndNxt) : t.flight;
    if (rec !== null && pktLeft === 0) {
      const rs = rec.nextRetransmit(t.sndUna, t.sndNxt);
      if (rs >= 0 && seqLt(rs, t.sndNxt)) {
        if (pipe >= cwndBytes) {
          t.cwndLimited = true;
          break;
        }
        const n = retransmitAt(L, t, rs);
        if (n <= 0) break;
        rec.onRetransmit(rs, n);
        sent++;
        continue;
      }
    }
    const end = t.dataEnd;
    const avail = (end - t.sndNxt) | 0;
    if (avail <= 0) break;
    const wndEnd = (t.sndUna + t.sndWnd) >>> 0;
    let room = (wndEnd - t.sndNxt) | 0;
    if (pktLeft > 0) {
      const len = Math.min(pktLeft, mss);
      pktLeft -= len;
      sendNewData(L, t, len, pktLeft === 0 && pktPsh);
      sent++;
      continue;
    }
    if (room <= 0) {
      // Zero window (or window full): the persist timer probes it when nothing is in flight.
      if (t.flight === 0 && t.rtxDeadline === Infinity) armPersist(L, t);
      break;
    }
    if (pipe >= cwndBytes) {
      t.cwndLimited = true;
      break;
    }
    // A packet never spans two write-queue skbs (an MSG_EOR record ends one).
    const skbEnd = t.push.skbEnd(t.sndNxt, end);
    const marked = t.push.lastMarked;
    const skbLen = (skbEnd - t.sndNxt) | 0;
    const len = Math.min(skbLen, mss);
    if (len > room) {
      // Sender SWS avoidance as Linux tcp_snd_wnd_test: a segment goes only
      // when it fits the window whole. With nothing in flight the persist
      // timer then sends what fits (tcp_write_wakeup).
      if (t.flight === 0 && t.rtxDeadline === Infinity) armPersist(L, t);
      break;
    }
    if (len < mss && len === avail) {
      // Nagle (RFC 896) with Minshall's refinement as Linux: hold a partial
      // segment while an earlier partial one is unacknowledged; TCP_CORK
      // (or MSG_MORE on this write) holds every partial segment; TCP_NODELAY
      // sends at once. Only the tail is held (a record MSG_EOR closed goes).
      if (t.cork || more) {
        if (!pushCorked && !(t.finQueued && t.flight === 0)) break;
      } else if (!t.nodelay && seqGt(t.sndSml, t.sndUna) && t.flight > 0 && !t.finQueued) break;
    }
    // One GSO packet (Linux tcp_write_xmit): at most the rest of the write-queue
    // skb, tcp_tso_autosize segments and what cwnd allows (tcp_cwnd_test: at
    // most half the cwnd, so two packets are in flight), split at the window
    // as tcp_mss_split_point. PSH on its last segment when it has more than
    // one, or when it ends a marked skb.
    let pkt = len;
    if (skbLen > mss) {
      const cwndSegs = Math.max(1, Math.floor(cwndBytes / mss));
      const inFlight = Math.ceil(pipe / mss);
      let maxSegs = Math.min(Math.max(cwndSegs >> 1, 1), cwndSegs - inFlight);
      const auto = autoSegs(L, t, mss);
      if (auto < maxSegs) maxSegs = auto;
      pkt = Math.min(skbLen, splitPoint(t, skbLen, room, maxSegs * mss, skbEnd === end, mss));
      if (pkt < len) pkt = len;
    }
    room = 0;
    pktPsh = pkt > mss || (pkt === skbLen && marked);
    pktLeft = pkt - len;
    sendNewData(L, t, len, pktLeft === 0 && pktPsh);
    sent++;
  }
  if (t.finQueued && !t.finSent && t.dataEnd === t.sndNxt) {
    // FIN alone (RFC 9293 §3.10.4): it needs no window. Its own segment,
    // resent on its own; like any send it may become a loss probe.
    t.finSent = true;
    t.finAlone = true;
    t.finSeq = t.sndNxt;
    sendData(L, t, t.sndNxt, ACK | FIN, 0);
    sent++;
  }
  // Linux tcp_write_xmit: after sending, the timer becomes a tail-loss probe when allowed.
  if (sent > 0) scheduleLossProbe(L, t, false);
}

/** Linux tcp_mss_split_point: how much of a `skbLen`-byte skb one packet takes, given the window `room`. */
function splitPoint(
  t: Tcb,
  skbLen: number,
  room: number,
  maxLen: number,
  isTail: boolean,
  mss: number,
): number {
  if (maxLen <= room && !isTail) return maxLen;
  const needed = Math.min(skbLen, room);
  if (maxLen <= needed) return maxLen;
  const partial = needed % mss;
  // Nagle may hold a partial last segment (tcp_nagle_check): cork, or Minshall with data out.
  if (partial !== 0 && (t.cork || (!t.nodelay && t.flight > 0 && seqGt(t.sndSml, t.sndUna))))
    return needed - partial;
  return needed;
}

/** Segments per GSO packet (Linux tcp_tso_segs / tcp_tso_autosize; src/tcp/push.ts). */
function autoSegs(L: TcpLayer, t: Tcb, mss: number): number {
  const v = L.sysctl.v;
  const cc = t.cc;
  const rtt = t.rtt;
  return tsoSegs(
    mss,
    cc !== null ? cc.cwnd : 10,
    cc !== null ? cc.ssthresh : 0x7fffffff,
    rtt?.hasSample ? rtt.srtt : 0,
    rtt !== null ? rtt.minRtt : Number.POSITIVE_INFINITY,
    v['net.ipv4.tcp_min_tso_segs'],
    v['net.ipv4.tcp_tso_rtt_log'],
  );
}

/** One segment of new data at snd_nxt; the FIN rides on the one that ends the data. */
function sendNewData(L: TcpLayer, t: Tcb, len: number, psh: boolean): void {
  const end = (t.sndNxt + len) >>> 0;
  let flags = psh ? ACK | PSH : ACK;
  if (end === t.dataEnd && t.finQueued && !t.finSent) {
    flags |= FIN;
    t.finSent = true;
    t.finSeq = end;
  }
  if (psh) t.push.sentPsh(end, t.sndUna);
  sendData(L, t, t.sndNxt, flags, len);
}

/** Send `len` bytes of new (or go-back) data at `seq` with `flags`; advance snd_nxt; time it; arm the RTO. */
function sendData(L: TcpLayer, t: Tcb, seq: number, flags: number, len: number): void {
  const now = L.now;
  const retrans = seqLt(seq, t.sndMax);
  if (!retrans && t.flight === 0 && t.cc !== null && L.sysctl.v['net.ipv4.tcp_slow_start_after_idle']) {
    const idle = now - t.lastSend;
    if (t.lastSend > 0 && idle > t.rto) t.cc.onIdleRestart(idle, t.rto, now);
  }
  // Pingpong detection (Linux tcp_event_data_sent): sending soon after receiving means interactive.
  if (len > 0 && now - t.lastDataRecv < (t.ato || ATO_MIN)) t.pingpong = true;
  sendSegment(L, t, seq, flags, (seq - t.sndDataSeq) | 0, len);
  const segEnd = (seq + len + (flags & FIN ? 1 : 0)) >>> 0;
  if (len < t.mss && len > 0) t.sndSml = segEnd;
  if (retrans) {
    L.inc(L.c.TcpRetransSegs);
    t.totalRetrans++;
    t.bytesRetrans += len;
  } else {
    t.bytesSent += len;
    if (t.rttTime < 0) {
      t.rttTime = now;
      t.rttSeq = segEnd;
    }
  }
  t.sndNxt = segEnd;
  t.sndMax = seqMax(t.sndMax, segEnd);
  if (t.rtxKind !== RTX_RTO) {
    t.probesOut = 0;
    armRto(L, t);
  }
  if (t.cc?.onSend) t.cc.onSend(len, now);
}

/**
 * Retransmit at most one MSS at `seq` (fast retransmit, recovery, RTO):
 * SYN, data and FIN as the sequence space says. Returns the sequence
 * space it covered (0 when nothing there).
 */
export function retransmitAt(L: TcpLayer, t: Tcb, seq: number): number {
  if (t.synUnacked() && seq === t.iss) {
    const flags = t.state === TcpState.SYN_SENT ? SYN : SYN | ACK;
    sendSegment(L, t, t.iss, flags, 0, 0);
    L.inc(L.c.TcpRetransSegs);
    t.totalRetrans++;
    return 1;
  }
  const end = t.dataEnd;
  let len = (end - seq) | 0;
  if (len < 0) len = 0;
  if (len > t.mss) len = t.mss;
  let flags = ACK;
  // The flags of what is resent (Linux keeps them on the skb; src/tcp/push.ts).
  if (len > 0 && t.push.resendPsh(seq, (seq + len) >>> 0, t.sndUna)) flags |= PSH;
  // The FIN rides along when it was sent with this data (a FIN sent alone is resent alone, as Linux's own skb).
  if (t.finSent && (seq + len) >>> 0 === t.finSeq && (len === 0 || !t.finAlone)) flags |= FIN;
  if (len === 0 && !(flags & FIN)) return 0;
  sendSegment(L, t, seq, flags, (seq - t.sndDataSeq) | 0, len);
  L.inc(L.c.TcpRetransSegs);
  t.totalRetrans++;
  t.bytesRetrans += len;
  // Karn: a retransmitted range gives no RTT sample.
  if (t.rttTime >= 0 && seqGt(t.rttSeq, seq)) t.rttTime = -1;
  const covered = len + (flags & FIN ? 1 : 0);
  const segEnd = (seq + covered) >>> 0;
  if (seqGt(segEnd, t.sndNxt)) t.sndNxt = segEnd;
  return covered;
}

/** (Re)arm the retransmission timer for the current RTO (RFC 6298 §5.1/5.3). */
export function armRto(L: TcpLayer, t: Tcb): void {
  t.rto = t.rtt !== null ? t.rtt.timeout() : 1000;
  L.armRtx(t, RTX_RTO, t.rto);
}

/** Arm the persist timer: the next zero-window probe after the backed-off RTO. */
export function armPersist(L: TcpLayer, t: Tcb): void {
  // Linux tcp_probe0_when: max(RTO, rto_min) doubled per unanswered probe (the estimator's backoff).
  const when = t.rtt !== null ? t.rtt.timeout() : 1000;
  L.armRtx(t, RTX_PERSIST, Math.min(Math.max(when, 200), L.sysctl.v['net.ipv4.tcp_rto_max_ms']));
}

/** The initial SYN (or SYN-ACK for a passive/simultaneous open). */
export function sendSyn(L: TcpLayer, t: Tcb, withAck: boolean): void {
  sendSegment(L, t, t.iss, withAck ? SYN | ACK : SYN, 0, 0);
  if (seqGt((t.iss + 1) >>> 0, t.sndNxt) || t.sndNxt === t.iss) t.sndNxt = (t.iss + 1) >>> 0;
  t.sndMax = seqMax(t.sndMax, t.sndNxt);
}

/** A window or keepalive probe: a bare ACK one byte below snd_una (Linux tcp_xmit_probe_skb). */
export function keepaliveSend(L: TcpLayer, t: Tcb): void {
  sendSegment(L, t, (t.sndUna - 1) >>> 0, ACK, 0, 0);
}

/** Linux TCP_TIMEOUT_MIN: two jiffies at HZ = 250. */
/** Scratch for the SACK block order (no allocation per segment). */
const SACK_ORDER = new Int32Array(MAX_RANGES);

const TIMEOUT_MIN = 8;

/**
 * Linux tcp_schedule_loss_probe (RFC 8985 §7.2, tcp_early_retrans 3/4):
 * with SACK, data in flight and no recovery under way, the retransmission
 * timer fires as a probe after 2·SRTT (plus rto_min when only one segment
 * is out, for the peer's delayed ACK; 1 s without an RTT sample), never
 * later than the RTO would. `advancing`: an ACK just restarted the RTO.
 * Returns false when no probe may be scheduled (the caller arms the RTO).
 */
export function scheduleLossProbe(L: TcpLayer, t: Tcb, advancing: boolean): boolean {
  const er = L.sysctl.v['net.ipv4.tcp_early_retrans'];
  const rec = t.rec;
  if ((er !== 3 && er !== 4) || t.flight <= 0 || !t.sackOk || rec === null) return false;
  if (rec.caState !== 0 && rec.caState !== 2) return false;
  // Any state that sends data or a FIN (a FIN in LAST_ACK or CLOSING gets a probe too, as on Linux 6.18).
  if (!canSendData(t.state)) return false;
  const rtt = t.rtt;
  let timeout: number;
  if (rtt?.hasSample) {
    // Linux packets_out == 1: one segment out, with the FIN if it rode on the data.
    const oneOut = t.flight <= t.mss + 1 && !(t.finAlone && t.flight > 1);
    timeout = 2 * rtt.srtt + (oneOut ? L.sysctl.v['net.ipv4.tcp_rto_min_us'] / 1000 : TIMEOUT_MIN);
  } else timeout = 1000;
  const rto = rtt !== null ? rtt.timeout() : 1000;
  const rtoDelta = advancing || t.rtxKind !== RTX_RTO ? rto : t.rtxDeadline - L.now;
  if (rtoDelta > 0 && rtoDelta < timeout) timeout = rtoDelta;
  L.armRtx(t, RTX_TLP, timeout);
  return true;
}

/** Linux tcp_set_xmit_timer: after an ACK, a loss probe if allowed, else the RTO. */
export function setXmitTimer(L: TcpLayer, t: Tcb): void {
  if (!scheduleLossProbe(L, t, true)) armRto(L, t);
}

/**
 * The probe timer fired (Linux tcp_send_loss_probe): send one new segment
 * if the windows allow, else retransmit the last segment; then the RTO.
 * One probe per tail-loss episode (tlp_high_seq).
 */
export function sendLossProbe(L: TcpLayer, t: Tcb): void {
  if (t.tlpHighSeq < 0 && t.flight > 0) {
    if (t.retransStamp < 0) t.retransStamp = t.rtxArmedAt;
    const avail = (t.dataEnd - t.sndNxt) | 0;
    const room = (t.sndUna + t.sndWnd - t.sndNxt) | 0;
    let sent = false;
    t.tlpRetrans = false;
    // New data when its next segment fits the peer's window whole (Linux tcp_snd_wnd_test); cwnd and Nagle do not apply.
    if (avail > 0 && room >= Math.min(avail, t.mss)) {
      const len = Math.min(avail, room, t.mss);
      // One segment (tcp_write_xmit with push_one): PSH only when it ends a marked skb.
      const skbEnd = t.push.skbEnd(t.sndNxt, t.dataEnd);
      sendNewData(L, t, len, (t.sndNxt + len) >>> 0 === skbEnd && t.push.lastMarked);
      sent = true;
    } else {
      // The last segment sent (Linux: the last skb, its last MSS): the FIN
      // alone if it went alone, else the last MSS of data (and its FIN).
      const dataOut = t.finSent ? t.flight - 1 : t.flight;
      const back = t.finAlone ? 0 : Math.min(t.mss, Math.max(dataOut, 0));
      const end = t.finSent ? t.finSeq : t.sndNxt;
      const seq = (end - back) >>> 0;
      sent = retransmitAt(L, t, seq) > 0;
      t.tlpRetrans = sent;
    }
    if (sent) {
      t.tlpHighSeq = t.sndNxt;
      L.inc(L.c.TcpExtTCPLossProbes);
    }
  }
  armRto(L, t);
}

/**
 * The persist timer found a window too small for a segment (Linux
 * tcp_write_wakeup): send what fits now. Returns false when nothing could go.
 */
export function writeWakeup(L: TcpLayer, t: Tcb): boolean {
  const avail = (t.dataEnd - t.sndNxt) | 0;
  const room = (t.sndUna + t.sndWnd - t.sndNxt) | 0;
  if (avail <= 0 || room <= 0) return false;
  const len = Math.min(avail, room, t.mss);
  // Linux tcp_write_wakeup marks every such segment PSH.
  sendNewData(L, t, len, true);
  return true;
}
