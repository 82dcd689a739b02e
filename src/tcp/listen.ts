/**
 * Listening sockets (RFC 9293 §3.10.7.2 LISTEN) with Linux's queues:
 * embryonic children in SYN_RECV (the SYN queue, bounded by the backlog),
 * established children waiting for accept() (the accept queue, which holds
 * backlog + 1), SYN cookies when the SYN queue is full, and the overflow
 * behaviour of tcp_abort_on_overflow.
 */
import type { IpRx } from '../ip/types.js';
import { addrCopy, type IpAddr, v4Mapped } from '../wire/addr.js';
import type { TcpHeader } from '../wire/tcp.js';
import { advMssFor, initRcvWindow, initTransfer, negotiate, setState, tcpDone } from './conn.js';
import { ECN_OK, ecnSynReceived } from './ecn.js';
import { sendActiveReset, sendSyn, tsNow } from './output.js';
import { ACK, RST, SYN, TcpState } from './state.js';
import { cookieCheck, cookieMake } from './syncookies.js';
import type { Tcb } from './tcb.js';
import { RTX_RTO, type TcpLayer } from './tcp.js';

/** Linux TCP_TIMEOUT_INIT: the SYN-ACK timer starts at 1 s and doubles. */
const SYNACK_TIMEOUT = 1000;

/** How long after the last SYN queue overflow an ACK is checked as a cookie (Linux: about 2 min). */
const COOKIE_WINDOW = 120_000;

export function acceptQueueFull(l: Tcb): boolean {
  return (l.acceptQueue?.length ?? 0) > l.backlog;
}

/**
 * A segment for a listener. `isn` >= 0 when it is a SYN that a TIME_WAIT
 * entry let through (the new connection uses that ISN).
 */
export function listenInput(L: TcpLayer, l: Tcb, rx: IpRx, h: TcpHeader, isn: number): void {
  const c = L.c;
  const f = h.flags;
  if (f & RST) return;
  if (f & ACK) {
    if (!(f & SYN) && L.sysctl.v['net.ipv4.tcp_syncookies'] && L.now - l.lastSynqOverflow < COOKIE_WINDOW) {
      const mss = cookieCheck(L, rx, h);
      if (mss > 0) {
        L.inc(c.TcpExtSyncookiesRecv);
        if (acceptQueueFull(l)) {
          L.inc(c.TcpExtListenOverflows);
          L.inc(c.TcpExtListenDrops);
          return;
        }
        cookieChild(L, l, rx, h, mss);
        return;
      }
      L.inc(c.TcpExtSyncookiesFailed);
    }
    L.replyReset(rx, h);
    return;
  }
  if (!(f & SYN)) return;
  // Linux tcp_conn_request: a full accept queue drops the SYN (no answer).
  if (acceptQueueFull(l)) {
    L.inc(c.TcpExtListenOverflows);
    L.inc(c.TcpExtListenDrops);
    return;
  }
  // Linux 6.x inet_csk_reqsk_queue_is_full: the SYN queue is full only when
  // it holds MORE than the backlog (listen(fd, 0) still answers one SYN
  // normally; checked on 6.18: test/drill/listen-syn-queue-cookies.pkt).
  if (l.synQueueLen > l.backlog && isn < 0) {
    l.lastSynqOverflow = L.now;
    if (L.sysctl.v['net.ipv4.tcp_syncookies']) {
      L.inc(c.TcpExtTCPReqQFullDoCookies);
      cookieSynAck(L, l, rx, h);
      return;
    }
    L.inc(c.TcpExtTCPReqQFullDrop);
    L.inc(c.TcpExtListenDrops);
    return;
  }
  const t = newChild(L, l, rx, h);
  t.iss =
    isn >= 0 ? isn : L.tables.isn(t.laddr as Uint8Array, t.lport, t.raddr as Uint8Array, t.rport, L.now);
  t.sndUna = t.iss;
  t.sndNxt = t.iss;
  t.sndMax = t.iss;
  t.sndDataSeq = (t.iss + 1) >>> 0;
  t.sndSml = t.iss;
  L.tables.insertEstablished(t);
  t.hashed = true;
  t.inSynQueue = true;
  l.synQueueLen++;
  sendSyn(L, t, true);
  t.rttTime = L.now;
  t.rttSeq = (t.iss + 1) >>> 0;
  L.armRtx(t, RTX_RTO, SYNACK_TIMEOUT);
}

/** A child control block for a SYN to listener `l`, options negotiated (Linux inet_reqsk_alloc + tcp_openreq_init). */
function newChild(L: TcpLayer, l: Tcb, rx: IpRx, h: TcpHeader): Tcb {
  const t = L.newTcb(childFamily(l, rx));
  t.parent = l;
  t.laddr = childAddr(l, rx.dst);
  t.lport = h.dstPort;
  t.raddr = childAddr(l, rx.src);
  t.rport = h.srcPort;
  t.v6only = l.v6only;
  // Inherited socket options (Linux copies the listener's settings to the child).
  t.ipTos = l.ipTos;
  t.pmtuDisc = l.pmtuDisc;
  t.tclass = l.tclass;
  t.nodelay = l.nodelay;
  t.keepalive = l.keepalive;
  t.keepIdle = l.keepIdle;
  t.keepIntvl = l.keepIntvl;
  t.keepCnt = l.keepCnt;
  t.userTimeout = l.userTimeout;
  t.userMss = l.userMss;
  t.sndBuf = l.sndBuf;
  t.rcvBuf = l.rcvBuf;
  t.sndBufLocked = l.sndBufLocked;
  t.rcvBufLocked = l.rcvBufLocked;
  t.lingerOn = l.lingerOn;
  t.lingerSec = l.lingerSec;
  t.state = TcpState.SYN_RECV;
  t.irs = h.seq;
  t.rcvNxt = (h.seq + 1) >>> 0;
  const route = L.host.ip.route(rx.src, rx.dst);
  t.advMss = advMssFor(route !== null ? route.mtu : 1500, rx.family, t.userMss);
  negotiate(L, t, h);
  ecnSynReceived(L, t, rx, h);
  // Linux rounds the SYN-ACK window to the MSS less the timestamp option when the peer used timestamps.
  initRcvWindow(L, t, t.advMss - (t.tsOk ? 12 : 0));
  if (!t.wsOk) t.rcvWscale = 0;
  t.sndWnd = h.window;
  t.maxWindow = t.sndWnd;
  t.sndWl1 = h.seq;
  if (t.tsOk) t.tsOffset = L.tables.tsOffset(t.laddr, t.raddr);
  initTransfer(L, t);
  return t;
}

/**
 * A child's family: its listener's. An AF_INET6 listener's child for an
 * IPv4 peer stays AF_INET6 with ::ffff:a.b.c.d addresses (Linux
 * tcp_v6_syn_recv_sock for a v4-mapped peer): getsockname/getpeername
 * return them, ss shows [::ffff:a.b.c.d] and counts it under -6, and its
 * TIME_WAIT entry is an IPv6 one. On the wire it is IPv4 (output takes the
 * IPv4 bytes of a mapped address), so MSS and route follow the wire family.
 */
function childFamily(l: Tcb, rx: IpRx): 4 | 6 {
  return l.family === 6 ? 6 : rx.family;
}

function childAddr(l: Tcb, a: IpAddr): IpAddr {
  return l.family === 6 && a.length === 4 ? v4Mapped(a) : addrCopy(a);
}

/** The final ACK made `t` established: queue it for accept(), unless the accept queue overflows. Returns false if dropped. */
export function acceptChild(L: TcpLayer, t: Tcb): boolean {
  const l = t.parent as Tcb;
  const c = L.c;
  if (acceptQueueFull(l)) {
    L.inc(c.TcpExtListenOverflows);
    L.inc(c.TcpExtListenDrops);
    if (L.sysctl.v['net.ipv4.tcp_abort_on_overflow']) {
      sendActiveReset(L, t);
      tcpDone(L, t, null);
      return false;
    }
    // Linux: the ACK is dropped, the request stays and its SYN-ACK timer keeps running.
    t.acked = true;
    t.state = TcpState.SYN_RECV;
    t.sndUna = t.iss;
    L.inc(c.TcpCurrEstab, -1);
    L.armRtx(t, RTX_RTO, Math.max(1, t.rtxDeadline === Infinity ? SYNACK_TIMEOUT : t.rtxDeadline - L.now));
    return false;
  }
  if (t.inSynQueue) {
    t.inSynQueue = false;
    l.synQueueLen--;
  }
  L.inc(c.TcpPassiveOpens);
  (l.acceptQueue as Tcb[]).push(t);
  L.wake(l);
  return true;
}

/** A retransmitted SYN reached a child in SYN_RECV: send the SYN-ACK again (Linux tcp_check_req). */
export function childRetransmittedSyn(L: TcpLayer, t: Tcb): void {
  sendSyn(L, t, true);
  L.inc(L.c.TcpRetransSegs);
  t.totalRetrans++;
}

/** SYN-ACK timer of a child: resend doubling from 1 s; after tcp_synack_retries the child is dropped silently. */
export function synAckTimer(L: TcpLayer, t: Tcb): void {
  const max = L.sysctl.v['net.ipv4.tcp_synack_retries'];
  if (t.retransmits >= max) {
    tcpDone(L, t, null);
    return;
  }
  t.retransmits++;
  L.inc(L.c.TcpExtTCPTimeouts);
  L.inc(L.c.TcpExtTCPSynRetrans);
  sendSyn(L, t, true);
  L.inc(L.c.TcpRetransSegs);
  t.totalRetrans++;
  t.rttTime = -1;
  L.armRtx(t, RTX_RTO, Math.min(SYNACK_TIMEOUT * 2 ** t.retransmits, L.sysctl.v['net.ipv4.tcp_rto_max_ms']));
}

// ------------------------------------------------------------------ SYN cookies

/** Answer a SYN with a cookie SYN-ACK, keeping no state (Linux cookie_v4_init_sequence). */
function cookieSynAck(L: TcpLayer, l: Tcb, rx: IpRx, h: TcpHeader): void {
  const t = newChild(L, l, rx, h);
  const ck = cookieMake(L, rx, h, t.advMss);
  t.iss = ck.isn;
  t.sndUna = t.iss;
  t.sndNxt = t.iss;
  t.sndMax = t.iss;
  if (t.tsOk) {
    // Linux encodes wscale/SACK/ECN in the low 6 bits of the SYN-ACK's TSval.
    t.cookieTs = cookieTsVal(tsNow(L, t), h, (t.ecnFlags & ECN_OK) !== 0);
  } else {
    // Without timestamps a cookie connection can keep neither window scaling nor SACK.
    t.wsOk = false;
    t.sackOk = false;
    t.rcvWscale = 0;
  }
  sendSyn(L, t, true);
  L.inc(L.c.TcpExtSyncookiesSent);
  // No state is kept: the child goes away at once.
  t.parent = null;
  L.freeTcb(t);
}

function cookieTsVal(now: number, h: TcpHeader, ecnOk: boolean): number {
  let opts = h.wscale >= 0 ? Math.min(h.wscale, 14) : 0xf;
  if (h.sackOk) opts |= 0x10;
  if (ecnOk) opts |= 0x20;
  let ts = ((now >>> 6) << 6) | opts;
  if (((ts - now) | 0) > 0) ts -= 64;
  return ts >>> 0;
}

/** A valid cookie ACK: rebuild the connection from it (Linux cookie_v4_check). */
function cookieChild(L: TcpLayer, l: Tcb, rx: IpRx, h: TcpHeader, mss: number): void {
  const t = L.newTcb(childFamily(l, rx));
  t.parent = l;
  t.laddr = childAddr(l, rx.dst);
  t.lport = h.dstPort;
  t.raddr = childAddr(l, rx.src);
  t.rport = h.srcPort;
  t.ipTos = l.ipTos;
  t.pmtuDisc = l.pmtuDisc;
  t.tclass = l.tclass;
  t.nodelay = l.nodelay;
  t.keepalive = l.keepalive;
  t.sndBuf = l.sndBuf;
  t.rcvBuf = l.rcvBuf;
  t.state = TcpState.SYN_RECV;
  t.iss = (h.ack - 1) >>> 0;
  t.irs = (h.seq - 1) >>> 0;
  t.rcvNxt = h.seq;
  const route = L.host.ip.route(rx.src, rx.dst);
  t.advMss = advMssFor(route !== null ? route.mtu : 1500, rx.family, l.userMss);
  t.peerMss = mss;
  const v = L.sysctl.v;
  if (h.hasTs && v['net.ipv4.tcp_timestamps'] && h.tsEcr !== 0) {
    t.tsOk = true;
    t.tsRecent = h.tsVal;
    t.tsRecentStamp = L.now;
    t.tsOffset = L.tables.tsOffset(t.laddr, t.raddr);
    const o = h.tsEcr & 0x3f;
    if ((o & 0xf) !== 0xf && v['net.ipv4.tcp_window_scaling']) {
      t.wsOk = true;
      t.sndWscale = o & 0xf;
    }
    t.sackOk = (o & 0x10) !== 0 && v['net.ipv4.tcp_sack'] !== 0;
    // Linux cookie_ecn_ok: the SYN-ACK agreed to ECN (TS bit 5), and tcp_ecn still allows it.
    if (o & 0x20 && v['net.ipv4.tcp_ecn'] !== 0) t.ecnFlags = ECN_OK;
  }
  let m = Math.min(t.peerMss, t.advMss);
  if (t.tsOk) m -= 12;
  t.mss = m;
  initRcvWindow(L, t, t.advMss - (t.tsOk ? 12 : 0));
  if (!t.wsOk) t.rcvWscale = 0;
  t.sndUna = h.ack;
  t.sndNxt = h.ack;
  t.sndMax = h.ack;
  t.sndDataSeq = h.ack;
  t.sndSml = h.ack;
  t.sndWnd = h.window << t.sndWscale;
  t.maxWindow = t.sndWnd;
  t.sndWl1 = h.seq;
  t.sndWl2 = h.ack;
  t.rcvWup = t.rcvNxt;
  initTransfer(L, t);
  L.tables.insertEstablished(t);
  t.hashed = true;
  // Now it is an ordinary final ACK (possibly with data): process it.
  setState(L, t, TcpState.SYN_RECV);
  t.sndUna = t.iss;
  segmentArrivesFromCookie(L, t, rx, h);
}

import { segmentArrives as segmentArrivesFromCookie } from './input.js';
