/**
 * Connection timers, each one wheel handle per control block like Linux's
 * three socket timers: the retransmission timer (SYN / SYN-ACK / data RTO,
 * or the persist timer probing a zero window), the delayed-ACK timer, and
 * the keepalive timer (also the orphan FIN_WAIT2 and plain TIME_WAIT
 * timeouts when no TIME_WAIT table is attached).
 */
import { keepCnt, keepIdleMs, keepIntvlMs, tcpDone } from './conn.js';
import { ecnQueueCwr } from './ecn.js';
import { synAckTimer } from './listen.js';
import {
  ATO_MIN,
  armPersist,
  keepaliveSend,
  retransmitAt,
  sendAck,
  sendActiveReset,
  sendLossProbe,
  writeWakeup,
} from './output.js';
import { TcpState } from './state.js';
import type { Tcb } from './tcb.js';
import { RTX_PERSIST, RTX_RTO, RTX_TLP, type TcpLayer } from './tcp.js';

export function onTcbTimer(L: TcpLayer, t: Tcb, handle: number, now: number): void {
  if (handle === t.hRtx) {
    const kind = t.rtxKind;
    t.rtxDeadline = Infinity;
    t.rtxKind = 0;
    if (kind === RTX_PERSIST) probeTimer(L, t, now);
    else if (kind === RTX_RTO) retransmitTimer(L, t, now);
    else if (kind === RTX_TLP) sendLossProbe(L, t);
  } else if (handle === t.hDack) {
    t.dackDeadline = Infinity;
    delackTimer(L, t);
  } else if (handle === t.hKeep) {
    t.keepDeadline = Infinity;
    keepaliveTimer(L, t, now);
  }
}

/**
 * Linux tcp_model_timeout: how long `boundary` retransmissions take when
 * the RTO starts at `base` and doubles up to `max` (tcp_retries2 = 15 gives
 * 924.6 s with a 200 ms base).
 */
export function modelTimeout(boundary: number, base: number, max: number): number {
  const thresh = Math.floor(Math.log2(max / base));
  if (boundary <= thresh) return ((2 << boundary) - 1) * base;
  return ((2 << thresh) - 1) * base + (boundary - thresh) * max;
}

/** Linux retransmits_timed_out via tcp_write_timeout: TCP_USER_TIMEOUT, else tcp_retries2 (orphans: 8). */
function writeTimedOut(L: TcpLayer, t: Tcb, now: number): boolean {
  if (t.retransmits === 0) return false;
  const v = L.sysctl.v;
  const elapsed = now - t.retransStamp;
  if (t.userTimeout > 0) return elapsed >= t.userTimeout;
  let boundary = v['net.ipv4.tcp_retries2'];
  if (t.orphan) {
    const r = v['net.ipv4.tcp_orphan_retries'];
    boundary = r === 0 ? 8 : r;
  }
  return elapsed >= modelTimeout(boundary, v['net.ipv4.tcp_rto_min_us'] / 1000, v['net.ipv4.tcp_rto_max_ms']);
}

/** The retransmission timer expired (RFC 6298 §5.4–5.6; Linux tcp_retransmit_timer). */
function retransmitTimer(L: TcpLayer, t: Tcb, now: number): void {
  const c = L.c;
  const v = L.sysctl.v;
  if (t.state === TcpState.SYN_RECV && t.parent !== null && !t.simOpen) {
    synAckTimer(L, t);
    return;
  }
  if (t.state === TcpState.SYN_SENT || (t.state === TcpState.SYN_RECV && t.simOpen)) {
    // Linux 6.x tcp_write_timeout for SYN_SENT: expired after tcp_syn_retries
    // + tcp_syn_linear_timeouts retransmissions, or once the time that
    // tcp_syn_retries doubling RTOs from 1 s would take has passed since the
    // first SYN (or TCP_USER_TIMEOUT). Measured on the reference kernel:
    // SYNs at 0,1,2,3,4,5,7,11,19,35,67 s and ETIMEDOUT at 131 s; with
    // TCP_SYNCNT 2: SYNs at 0..5 s and ETIMEDOUT at 7 s.
    const retries = t.synRetries || v['net.ipv4.tcp_syn_retries'];
    const maxRetrans = retries + (t.state === TcpState.SYN_SENT ? v['net.ipv4.tcp_syn_linear_timeouts'] : 0);
    const elapsed = t.retransStamp < 0 ? 0 : now - t.retransStamp;
    const budget =
      t.userTimeout > 0 ? t.userTimeout : modelTimeout(retries, 1000, v['net.ipv4.tcp_rto_max_ms']);
    if (t.retransmits >= maxRetrans || (t.retransmits > 0 && elapsed >= budget)) {
      L.inc(c.TcpExtTCPAbortOnTimeout);
      tcpDone(L, t, 'ETIMEDOUT');
      return;
    }
    t.retransmits++;
    t.totalRto++;
    L.inc(c.TcpExtTCPTimeouts);
    L.inc(c.TcpExtTCPSynRetrans);
    retransmitAt(L, t, t.iss);
    // Linux tcp_enter_loss runs for a SYN timeout too: CWR goes on the first data if ECN is agreed.
    ecnQueueCwr(t);
    t.rttTime = -1;
    // Linux 6.x: the first tcp_syn_linear_timeouts SYN retransmissions keep
    // the initial RTO (1 s apart); after that it doubles.
    const rtt = t.rtt;
    let to = 1000;
    if (rtt !== null) {
      if (t.state !== TcpState.SYN_SENT || t.totalRto > v['net.ipv4.tcp_syn_linear_timeouts']) rtt.backOff();
      to = rtt.timeout();
    }
    L.armRtx(t, RTX_RTO, to);
    return;
  }
  if (t.flight === 0) return;
  // The episode starts when the head was last sent (Linux retrans_stamp from the skb's timestamp).
  if (t.retransStamp < 0) t.retransStamp = t.rtxArmedAt;
  if (writeTimedOut(L, t, now)) {
    L.inc(c.TcpExtTCPAbortOnTimeout);
    tcpDone(L, t, t.error ?? 'ETIMEDOUT');
    return;
  }
  L.inc(c.TcpExtTCPTimeouts);
  t.tlpHighSeq = -1;
  const firstExpiry = t.retransmits === 0;
  const inFlightSegs = Math.ceil(t.flight / t.mss);
  t.rec?.onRto(t.sndUna, t.sndNxt, inFlightSegs, firstExpiry, now);
  ecnQueueCwr(t);
  t.retransmits++;
  t.totalRto++;
  L.inc(c.TcpExtTCPSlowStartRetrans);
  const n = retransmitAt(L, t, t.sndUna);
  if (n > 0) t.rec?.onRetransmit(t.sndUna, n);
  t.rttTime = -1;
  t.rtt?.backOff();
  let to = t.rtt !== null ? t.rtt.timeout() : 1000;
  if (t.userTimeout > 0) {
    // Linux tcp_clamp_rto_to_user_timeout: fire no later than the user timeout.
    const remaining = t.userTimeout - (now - t.retransStamp);
    to = remaining <= 0 ? 1 : Math.min(to, remaining);
  }
  L.armRtx(t, RTX_RTO, to);
}

/**
 * Persist timer (RFC 9293 §3.8.6.1; Linux tcp_probe_timer): probe a zero
 * window with a bare ACK at snd_una − 1, backing off like the RTO; give up
 * after tcp_retries2 probes (or TCP_USER_TIMEOUT).
 */
function probeTimer(L: TcpLayer, t: Tcb, now: number): void {
  const v = L.sysctl.v;
  if (t.flight !== 0 || t.dataEnd === t.sndNxt) {
    t.probesOut = 0;
    return;
  }
  if (t.sndWnd > 0 && writeWakeup(L, t)) {
    // Data went out: the RTO guards it now (Linux cancels the probe timer).
    t.probesOut = 0;
    t.rtt?.resetBackoff();
    return;
  }
  if (t.probesOut === 0) t.probeStamp = now;
  if (t.userTimeout > 0 && t.probesOut > 0 && now - t.probeStamp >= t.userTimeout) {
    L.inc(L.c.TcpExtTCPAbortOnTimeout);
    tcpDone(L, t, 'ETIMEDOUT');
    return;
  }
  let maxProbes = v['net.ipv4.tcp_retries2'];
  if (t.orphan) maxProbes = v['net.ipv4.tcp_orphan_retries'] || 8;
  if (t.userTimeout === 0 && t.probesOut >= maxProbes) {
    L.inc(L.c.TcpExtTCPAbortOnTimeout);
    tcpDone(L, t, 'ETIMEDOUT');
    return;
  }
  keepaliveSend(L, t);
  L.inc(L.c.TcpExtTCPWinProbe);
  t.probesOut++;
  t.rtt?.backOff();
  armPersist(L, t);
}

/** Delayed-ACK timer (Linux tcp_delack_timer_handler). */
function delackTimer(L: TcpLayer, t: Tcb): void {
  if (!t.ackPending || t.state === TcpState.CLOSED) return;
  if (!t.pingpong) {
    const rto = t.rtt !== null ? t.rtt.timeout() : 1000;
    t.ato = Math.min((t.ato || ATO_MIN) * 2, rto);
  } else {
    t.pingpong = false;
    t.ato = ATO_MIN;
  }
  L.inc(L.c.TcpExtDelayedACKs);
  sendAck(L, t);
}

/**
 * Keepalive (RFC 9293 §3.8.4; Linux tcp_keepalive_timer): after
 * TCP_KEEPIDLE of silence a bare ACK at snd_una − 1 every TCP_KEEPINTVL;
 * after TCP_KEEPCNT unanswered probes (or TCP_USER_TIMEOUT) a reset and
 * ETIMEDOUT. Also ends orphan FIN_WAIT2 and plain TIME_WAIT.
 */
function keepaliveTimer(L: TcpLayer, t: Tcb, now: number): void {
  if (t.state === TcpState.TIME_WAIT || (t.state === TcpState.FIN_WAIT2 && t.orphan)) {
    tcpDone(L, t, null);
    return;
  }
  if (!t.keepalive) return;
  if (
    t.state !== TcpState.ESTABLISHED &&
    t.state !== TcpState.CLOSE_WAIT &&
    t.state !== TcpState.FIN_WAIT1 &&
    t.state !== TcpState.FIN_WAIT2
  )
    return;
  const idle = keepIdleMs(L, t);
  if (t.flight > 0 || t.dataEnd !== t.sndNxt) {
    L.armKeep(t, idle);
    return;
  }
  const elapsed = now - Math.max(t.lastRecv, t.lastAckRecv);
  if (elapsed >= idle) {
    if (
      (t.userTimeout > 0 && elapsed >= t.userTimeout && t.probesOut > 0) ||
      (t.userTimeout === 0 && t.probesOut >= keepCnt(L, t))
    ) {
      sendActiveReset(L, t);
      L.inc(L.c.TcpExtTCPKeepAlive);
      tcpDone(L, t, 'ETIMEDOUT');
      return;
    }
    keepaliveSend(L, t);
    L.inc(L.c.TcpExtTCPKeepAlive);
    t.probesOut++;
    L.armKeep(t, keepIntvlMs(L, t));
    return;
  }
  L.armKeep(t, idle - elapsed);
}
