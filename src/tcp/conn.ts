/**
 * Connection life events shared by input, timers and the socket API:
 * state changes with their counters, option negotiation on a SYN, the
 * moment a connection becomes established, the end of a connection
 * (tcp_done), resets, and the hand-off to TIME_WAIT.
 */

import type { TcpHeader } from '../wire/tcp.js';
import { createCongestionControl } from './congestion/registry.js';
import { newAckEvent } from './congestion/types.js';
import { curWindow, fullSpace, winFromSpace } from './output.js';
import { rcvSpaceInit } from './rcv-space.js';
import { NewReno } from './recovery/newreno.js';
import { SackRecovery } from './recovery/sack.js';
import { newRecoveryAction } from './recovery/types.js';
import { RttEstimator } from './rtt.js';
import { TcpState } from './state.js';
import type { Tcb } from './tcb.js';
import type { TcpLayer } from './tcp.js';

/** Linux TCP_TIMEWAIT_LEN. */
export const TIMEWAIT_LEN = 60_000;
/** Linux TCP_MSS_DEFAULT and the RFC 9293 §3.7.1 default when no MSS option came. */
export const MSS_DEFAULT = 536;

function counted(s: TcpState): boolean {
  return s === TcpState.ESTABLISHED || s === TcpState.CLOSE_WAIT;
}

/** Linux tcp_set_state: TcpCurrEstab follows ESTABLISHED + CLOSE_WAIT; TcpEstabResets counts an abnormal end from them. */
export function setState(L: TcpLayer, t: Tcb, s: TcpState): void {
  const old = t.state;
  if (old === s) return;
  if (counted(old) && !counted(s)) {
    L.inc(L.c.TcpCurrEstab, -1);
    if (s === TcpState.CLOSED) L.inc(L.c.TcpEstabResets);
  } else if (!counted(old) && counted(s)) L.inc(L.c.TcpCurrEstab);
  t.state = s;
  L.wake(t);
}

/**
 * Our receive-side parameters before the SYN goes out (Linux
 * tcp_select_initial_window): window scale from the largest buffer we may
 * ever grow to (max(tcp_rmem[2], rmem_max)), the initial window from the
 * current buffer rounded down to the MSS.
 */
export function initRcvWindow(L: TcpLayer, t: Tcb, mssForRounding: number): void {
  const v = L.sysctl.v;
  let space = fullSpace(t);
  if (space > mssForRounding) space = Math.floor(space / mssForRounding) * mssForRounding;
  let maxSpace = t.rcvBufLocked ? t.rcvBuf : Math.max(v['net.ipv4.tcp_rmem'][2], v['net.core.rmem_max']);
  if (t.windowClamp > 0 && maxSpace > t.windowClamp) maxSpace = t.windowClamp;
  let ws = 0;
  if (v['net.ipv4.tcp_window_scaling']) {
    ws = Math.floor(Math.log2(Math.max(1, maxSpace))) - 15;
    if (ws < 0) ws = 0;
    if (ws > 14) ws = 14;
  }
  t.rcvWscale = ws;
  t.rcvWnd = space > 65535 && ws === 0 ? 65535 : space;
  t.rcvSsthresh = t.rcvWnd;
  t.rcvWup = t.rcvNxt;
}

/** The MSS we advertise: route MTU minus IP and TCP headers (Linux tcp_mss_clamp / advmss). */
export function advMssFor(mtu: number, family: 4 | 6, userMss: number): number {
  // A datagram holds at most 65535 bytes (Linux IPV4_MAX_PMTU): on lo (MTU 65536) the MSS is 65495.
  let m = family === 4 ? Math.min(mtu - 40, 65535 - 40) : Math.min(mtu - 60, 65535 - 20);
  if (userMss > 0 && userMss < m) m = userMss;
  return Math.max(m, 88);
}

/**
 * Read the options of the peer's SYN (or SYN-ACK) and settle what was
 * negotiated (RFC 7323 §1.3, §2.2; RFC 2018 §2; RFC 9293 §3.7.1).
 * `offered`: what we offered on our own SYN (active open) or allow (passive).
 */
export function negotiate(L: TcpLayer, t: Tcb, h: TcpHeader): void {
  const v = L.sysctl.v;
  let pm = h.mss > 0 ? h.mss : MSS_DEFAULT;
  const minMss = v['net.ipv4.tcp_min_snd_mss'];
  if (pm < minMss) pm = minMss;
  t.peerMss = pm;
  t.wsOk = h.wscale >= 0 && v['net.ipv4.tcp_window_scaling'] !== 0;
  if (t.wsOk) {
    t.sndWscale = Math.min(h.wscale, 14);
  } else {
    t.sndWscale = 0;
    t.rcvWscale = 0;
  }
  t.sackOk = h.sackOk && v['net.ipv4.tcp_sack'] !== 0;
  t.tsOk = h.hasTs && v['net.ipv4.tcp_timestamps'] !== 0;
  if (t.tsOk) {
    t.tsRecent = h.tsVal;
    t.tsRecentStamp = L.now;
  }
  syncMss(t);
}

/** Payload per full segment: the smaller MSS, minus the timestamp option (Linux tcp_sync_mss / mss_cache). */
export function syncMss(t: Tcb): void {
  let m = Math.min(t.peerMss, t.advMss);
  if (t.userMss > 0 && t.userMss < m) m = t.userMss;
  if (t.tsOk) m -= 12;
  if (m < 48) m = 48;
  t.mss = m;
}

/** Per-connection RTT estimator, congestion control and recovery (before the first SYN). */
export function initTransfer(L: TcpLayer, t: Tcb): void {
  const v = L.sysctl.v;
  if (t.rtt === null) t.rtt = RttEstimator.fromSysctl(v);
  if (t.cc === null) {
    t.cc = createCongestionControl(v['net.ipv4.tcp_congestion_control']);
    t.ackEv = newAckEvent();
    t.recAct = newRecoveryAction();
  }
}

/** The handshake completed (Linux tcp_init_transfer / tcp_finish_connect). */
export function established(L: TcpLayer, t: Tcb): void {
  initTransfer(L, t);
  const now = L.now;
  (t.rtt as RttEstimator).afterHandshake(t.totalRetrans > 0);
  t.cc?.init(now);
  // SACK-permitted negotiated: RFC 6675 recovery, else NewReno (chosen now, once the options are known).
  if (t.rec === null && t.cc !== null) {
    const reo = L.sysctl.v['net.ipv4.tcp_reordering'];
    t.rec = t.sackOk ? new SackRecovery(t.cc, reo) : new NewReno(t.cc, reo);
  }
  t.rec?.init(t.sndUna, now);
  t.retransmits = 0;
  t.totalRto = 0;
  t.retransStamp = -1;
  t.lastRecv = now;
  t.lastAckRecv = now;
  t.rcvMss = Math.min(t.advMss, MSS_DEFAULT, Math.max(88, curWindow(t) >> 1));
  // Linux tcp_init_buffer_space: send buffer sized for the initial window; autotuning starts.
  growSndBuf(L, t);
  rcvSpaceInit(t, now);
  setState(L, t, TcpState.ESTABLISHED);
  L.cancelRtx(t);
  armKeepalive(L, t);
}

/** Linux tcp_sndbuf_expand: room for twice the congestion window (unless SO_SNDBUF fixed it). */
export function growSndBuf(L: TcpLayer, t: Tcb): void {
  if (t.sndBufLocked) return;
  const cwnd = t.cc !== null ? t.cc.cwnd : 10;
  const want = 2 * Math.max(cwnd, 10) * (t.mss + 0) * 2;
  const max = L.sysctl.v['net.ipv4.tcp_wmem'][2];
  const nb = Math.min(Math.max(t.sndBuf, want), max);
  if (nb > t.sndBuf) t.sndBuf = nb;
}

/** Payload bytes the send buffer may hold (Linux charges overhead to sk_sndbuf; we give half to payload... no: all of it). */
export function sndSpace(t: Tcb): number {
  return t.sndBuf - t.snd.length;
}

/** Arm the keepalive timer when SO_KEEPALIVE is on (Linux inet_csk_reset_keepalive_timer). */
export function armKeepalive(L: TcpLayer, t: Tcb): void {
  if (
    !t.keepalive ||
    (t.state !== TcpState.ESTABLISHED &&
      t.state !== TcpState.CLOSE_WAIT &&
      t.state !== TcpState.FIN_WAIT1 &&
      t.state !== TcpState.FIN_WAIT2)
  )
    return;
  if (t.orphan && t.state === TcpState.FIN_WAIT2) return;
  L.armKeep(t, keepIdleMs(L, t));
}

export function keepIdleMs(L: TcpLayer, t: Tcb): number {
  return (t.keepIdle || L.sysctl.v['net.ipv4.tcp_keepalive_time']) * 1000;
}
export function keepIntvlMs(L: TcpLayer, t: Tcb): number {
  return (t.keepIntvl || L.sysctl.v['net.ipv4.tcp_keepalive_intvl']) * 1000;
}
export function keepCnt(L: TcpLayer, t: Tcb): number {
  return t.keepCnt || L.sysctl.v['net.ipv4.tcp_keepalive_probes'];
}

/**
 * The connection is over (Linux tcp_done): CLOSED, out of the tables,
 * timers stopped; the socket learns `err` (an errno code) if given. A
 * control block nobody holds any more (orphan, or a child never accepted)
 * is freed.
 */
export function tcpDone(L: TcpLayer, t: Tcb, err: string | null): void {
  if (t.state === TcpState.SYN_SENT || t.state === TcpState.SYN_RECV) L.inc(L.c.TcpAttemptFails);
  if (err !== null) t.error = err;
  t.done = true;
  setState(L, t, TcpState.CLOSED);
  L.cancelRtx(t);
  L.cancelDack(t);
  L.cancelKeep(t);
  unhash(L, t);
  if (t.parent !== null) {
    const p = t.parent;
    const q = p.acceptQueue;
    const queued = q !== null && q.indexOf(t) >= 0;
    if (queued && !t.orphan) {
      // Established but not yet accepted: like Linux it stays in the accept
      // queue, closed; accept() returns it and its first read reports the error.
    } else {
      // An embryonic child (SYN queue) just goes.
      if (t.inSynQueue) {
        p.synQueueLen--;
        t.inSynQueue = false;
      }
      if (queued) q.splice(q.indexOf(t), 1);
      t.parent = null;
      t.orphan = true;
    }
  }
  t.snd.clear();
  // The rings go back to the layer's pool now (the receive ring only when
  // nothing is left to read); a socket that keeps the control block open
  // has nothing more to send or receive through them.
  t.snd.release();
  t.rcv.release();
  L.wake(t);
  if (t.orphan) release(L, t);
}

/** Out of the established table, and the port released unless the user bound it (Linux inet_put_port). */
export function unhash(L: TcpLayer, t: Tcb): void {
  if (t.hashed) {
    L.tables.removeEstablished(t);
    t.hashed = false;
  }
}

/** Free a control block nobody refers to any more. */
export function release(L: TcpLayer, t: Tcb): void {
  if (t.bound) {
    L.tables.unbind(t);
    t.bound = false;
  }
  if (t.hashed) {
    L.tables.removeEstablished(t);
    t.hashed = false;
  }
  L.freeTcb(t);
}

/**
 * RFC 9293 §3.10.7.4 "second, check the RST bit" for an acceptable reset:
 * ECONNREFUSED in SYN_SENT (and a simultaneous open's SYN_RECV), EPIPE in
 * CLOSE_WAIT, ECONNRESET otherwise, as Linux tcp_reset.
 */
export function tcpReset(L: TcpLayer, t: Tcb): void {
  let err: string;
  switch (t.state) {
    case TcpState.SYN_SENT:
      err = 'ECONNREFUSED';
      break;
    case TcpState.CLOSE_WAIT:
      err = 'EPIPE';
      break;
    case TcpState.CLOSED:
      return;
    default:
      err = 'ECONNRESET';
  }
  if (t.state === TcpState.SYN_RECV && t.simOpen) err = 'ECONNREFUSED';
  t.reset = true;
  tcpDone(L, t, err);
}

/**
 * The connection enters TIME_WAIT (from FIN_WAIT2 or CLOSING), or an
 * orphan enters FIN_WAIT2 (`fw2`): the TIME_WAIT table takes it over and
 * the full control block goes (Linux tcp_time_wait). Without a table, the
 * control block itself waits out TCP_TIMEWAIT_LEN.
 */
export function enterTimeWait(L: TcpLayer, t: Tcb, fw2: boolean): void {
  const now = L.now;
  if (L.timeWait !== null) {
    L.cancelRtx(t);
    L.cancelDack(t);
    L.cancelKeep(t);
    const ok = L.timeWait.enter(t, now);
    void ok;
    // The entry (or nothing, past tcp_max_tw_buckets) replaces the socket.
    if (fw2) {
      t.state = TcpState.FIN_WAIT2;
    }
    setState(L, t, TcpState.CLOSED);
    if (t.hashed) {
      L.tables.removeEstablished(t);
      t.hashed = false;
    }
    t.twHandedOff = true;
    t.done = true;
    // Our FIN was acknowledged, so the send ring is empty: back to the pool
    // (the receive ring too when everything was read).
    t.snd.release();
    t.rcv.release();
    L.wake(t);
    if (t.orphan) release(L, t);
    return;
  }
  L.cancelRtx(t);
  L.cancelDack(t);
  if (fw2) {
    L.armKeep(t, L.sysctl.v['net.ipv4.tcp_fin_timeout'] * 1000);
    return;
  }
  setState(L, t, TcpState.TIME_WAIT);
  L.armKeep(t, TIMEWAIT_LEN);
}

/** Bytes the receive window still offers beyond rcv_nxt (for info). */
export function rcvSpace(t: Tcb): number {
  return winFromSpace(t.rcvBuf - t.rcv.readable);
}
