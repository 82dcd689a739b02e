/**
 * The BSD-like TCP socket (docs/internals.md "socket/"): always
 * non-blocking, errors as Linux returns them for the same call, readiness
 * as a poll() bitmask and an onEvent callback run after the stack finished
 * an input or timer (never from inside a socket call).
 */
import { ERRNO, type ErrnoCode, SysError } from '../errno.js';
import { checkCongestionControl } from '../tcp/congestion/registry.js';
import {
  advMssFor,
  armKeepalive,
  enterTimeWait,
  initRcvWindow,
  initTransfer,
  release,
  setState,
  syncMss,
  tcpDone,
} from '../tcp/conn.js';
import { tcpInfo } from '../tcp/info.js';
import {
  computeWindow,
  curWindow,
  fullSpace,
  sendAck,
  sendActiveReset,
  sendSyn,
  tcpWrite,
} from '../tcp/output.js';
import { rcvSpaceAdjust } from '../tcp/rcv-space.js';
import { TcpState } from '../tcp/state.js';
import type { Tcb, TcbOwner } from '../tcp/tcb.js';
import { RTX_RTO, type TcpLayer } from '../tcp/tcp.js';
import { formatAddr, type IpAddr, isV4Mapped, parseAddr } from '../wire/addr.js';
import {
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLOUT,
  POLLRDHUP,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  type SockName,
} from './poll.js';

enum SockState {
  Unconnected = 0,
  Connecting = 1,
  Connected = 2,
}

/**
 * The errors a non-blocking caller meets all the time (EAGAIN, EINPROGRESS,
 * EALREADY) are built without a stack trace: capturing one costs
 * microseconds, more than the call itself, and says nothing useful here
 * (SysError does that for these codes, src/errno.ts).
 *
 * connect()'s EINPROGRESS is not even built: every non-blocking connect()
 * throws the same SysError (code 'EINPROGRESS', syscall 'connect'), an
 * answer as routine as C's errno value. Constructing an Error costs ~0.6 µs
 * in V8, ~3% of a connections-per-second run; the object carries nothing
 * specific to the call. It is frozen: callers read it (a write throws in strict code).
 */
const CONNECT_EINPROGRESS = Object.freeze(new SysError('EINPROGRESS', 'connect'));

function quickError(code: 'EAGAIN' | 'EINPROGRESS' | 'EALREADY', call: string): SysError {
  if (code === 'EINPROGRESS' && call === 'connect') return CONNECT_EINPROGRESS;
  return new SysError(code, call);
}

/**
 * parseAddr for connect()'s destination, remembering the last string: a
 * client connects to the same peer again and again. The array is only read
 * (the tables keep a copy), so handing out the same one is safe.
 */
let lastRemote = '';
let lastRemoteAddr: IpAddr | null = null;
function parseRemote(s: string): string | IpAddr {
  if (s === lastRemote && lastRemoteAddr !== null) return lastRemoteAddr;
  const a = parseAddr(s);
  if (a === null) return s; // addr() reports EINVAL
  lastRemote = s;
  lastRemoteAddr = a;
  return a;
}

/** Socket option names accepted by getsockopt/setsockopt (the level is implied by the name). */
export type TcpSockOpt =
  | 'SO_REUSEADDR'
  | 'SO_REUSEPORT'
  | 'SO_LINGER'
  | 'SO_KEEPALIVE'
  | 'SO_RCVBUF'
  | 'SO_SNDBUF'
  | 'SO_ERROR'
  | 'SO_TYPE'
  | 'TCP_NODELAY'
  | 'TCP_CORK'
  | 'TCP_MAXSEG'
  | 'TCP_KEEPIDLE'
  | 'TCP_KEEPINTVL'
  | 'TCP_KEEPCNT'
  | 'TCP_USER_TIMEOUT'
  | 'TCP_INFO'
  | 'TCP_QUICKACK'
  | 'TCP_SYNCNT'
  | 'TCP_CONGESTION'
  | 'TCP_INQ'
  | 'IP_BIND_ADDRESS_NO_PORT'
  | 'IP_LOCAL_PORT_RANGE'
  | 'IP_TOS'
  | 'IP_MTU_DISCOVER'
  | 'IPV6_TCLASS'
  | 'IPV6_V6ONLY';

export interface Linger {
  onoff: number;
  linger: number;
}

export class TcpSocket implements TcbOwner {
  readonly family: 4 | 6;
  readonly L: TcpLayer;
  /** The control block (replaced when a closed socket connects again). */
  t: Tcb;
  onEvent: ((events: number) => void) | null = null;
  wakeQueued = false;
  private sstate = SockState.Unconnected;
  private closed = false;
  private shutRd = false;
  private shutWr = false;
  /** TCP_INQ: recvmsg reports inqHint() in a TCP_CM_INQ control message (accepted sockets inherit it). */
  recvInq = false;

  constructor(L: TcpLayer, family: 4 | 6, t?: Tcb) {
    this.L = L;
    this.family = family;
    if (t !== undefined) {
      this.t = t;
      this.sstate = SockState.Connected;
    } else {
      this.t = L.newTcb(family);
      this.t.v6only = family === 6 && L.sysctl.v['net.ipv6.bindv6only'] !== 0;
    }
    this.t.owner = this;
  }

  // ---------------------------------------------------------------- events

  wake(): void {
    if (this.L.apiDepth > 0 || this.onEvent === null) return;
    const w = this.L.host.wake;
    if (w !== undefined) w.call(this.L.host, this);
    else this.fireEvents();
  }

  fireEvents(): void {
    if (this.onEvent !== null && !this.closed) this.onEvent(this.poll());
  }

  private enter(call: string): Tcb {
    if (this.closed) throw new SysError('EBADF', call);
    this.L.apiDepth++;
    return this.t;
  }

  private leave(): void {
    this.L.apiDepth--;
  }

  // ---------------------------------------------------------------- addresses

  private addr(a: string | IpAddr | null, call: string): IpAddr | null {
    if (a === null) return null;
    const b = typeof a === 'string' ? parseAddr(a) : a;
    if (b === null) throw new SysError('EINVAL', call);
    if (this.family === 4 && b.length !== 4) throw new SysError('EAFNOSUPPORT', call);
    if (this.family === 6 && b.length !== 16) throw new SysError('EAFNOSUPPORT', call);
    return b;
  }

  private name(a: IpAddr | null, port: number): SockName {
    const fam = this.family === 4 ? 'IPv4' : 'IPv6';
    let addr = a;
    if (addr === null) addr = new Uint8Array(this.family === 4 ? 4 : 16);
    else if (this.family === 6 && addr.length === 4) {
      const m = new Uint8Array(16);
      m[10] = 0xff;
      m[11] = 0xff;
      m.set(addr, 12);
      addr = m;
    }
    return { address: formatAddr(addr), port, family: fam };
  }

  getsockname(): SockName {
    if (this.closed) throw new SysError('EBADF', 'getsockname');
    return this.name(this.t.laddr, this.t.lport);
  }

  getpeername(): SockName {
    if (this.closed) throw new SysError('EBADF', 'getpeername');
    const t = this.t;
    if (
      t.raddr === null ||
      t.state === TcpState.LISTEN ||
      t.state === TcpState.CLOSED ||
      t.state === TcpState.SYN_SENT
    )
      throw new SysError('ENOTCONN', 'getpeername');
    return this.name(t.raddr, t.rport);
  }

  // ---------------------------------------------------------------- bind / listen / accept

  bind(addr: string | IpAddr | null, port = 0): void {
    const t = this.enter('bind');
    try {
      const a = this.addr(addr, 'bind');
      if (port < 0 || port > 65535 || !Number.isInteger(port)) throw new SysError('EINVAL', 'bind');
      if (t.state !== TcpState.CLOSED || t.bound || t.lport !== 0) throw new SysError('EINVAL', 'bind');
      this.L.tables.bind(t, a, port);
      t.bound = t.lport !== 0;
      t.userBound = true;
    } finally {
      this.leave();
    }
  }

  /** listen(2): backlog clamped to net.core.somaxconn; the accept queue then holds backlog + 1. */
  listen(backlog = 128): void {
    const t = this.enter('listen');
    try {
      if (
        this.sstate !== SockState.Unconnected ||
        (t.state !== TcpState.CLOSED && t.state !== TcpState.LISTEN)
      )
        throw new SysError('EINVAL', 'listen');
      const somax = this.L.sysctl.v['net.core.somaxconn'];
      const b = backlog < 0 || backlog > somax ? somax : backlog;
      if (t.state === TcpState.LISTEN) {
        t.backlog = b;
        return;
      }
      this.L.tables.listen(t);
      t.bound = true;
      t.userBound = true;
      t.backlog = b;
      t.acceptQueue = [];
      t.synQueueLen = 0;
      setState(this.L, t, TcpState.LISTEN);
    } finally {
      this.leave();
    }
  }

  accept(): TcpSocket {
    const t = this.enter('accept');
    try {
      if (t.state !== TcpState.LISTEN) throw new SysError('EINVAL', 'accept');
      const q = t.acceptQueue as Tcb[];
      const c = q.shift();
      if (c === undefined) throw quickError('EAGAIN', 'accept');
      c.parent = null;
      const s = new TcpSocket(this.L, this.family, c);
      s.recvInq = this.recvInq;
      if (c.state === TcpState.CLOSED) s.sstate = SockState.Connected;
      return s;
    } finally {
      this.leave();
    }
  }

  // ---------------------------------------------------------------- connect

  connect(addr: string | IpAddr, port: number): void {
    const t = this.enter('connect');
    try {
      const a = this.addr(typeof addr === 'string' ? parseRemote(addr) : addr, 'connect') as IpAddr;
      if (t.state === TcpState.LISTEN) throw new SysError('EISCONN', 'connect');
      if (this.sstate === SockState.Connected) throw new SysError('EISCONN', 'connect');
      if (this.sstate === SockState.Connecting) {
        if (t.state === TcpState.SYN_SENT || t.state === TcpState.SYN_RECV)
          throw quickError('EALREADY', 'connect');
        if (t.state === TcpState.CLOSED) {
          this.sstate = SockState.Unconnected;
          const e = this.takeError();
          throw new SysError((e ?? 'ECONNABORTED') as ErrnoCode, 'connect');
        }
        this.sstate = SockState.Connected;
        return;
      }
      if (t.state !== TcpState.CLOSED) throw new SysError('EISCONN', 'connect');
      if (port <= 0 || port > 65535) throw new SysError('ECONNREFUSED', 'connect');
      this.startConnect(t, a, port);
      this.sstate = SockState.Connecting;
    } finally {
      this.leave();
    }
    // Thrown past the finally, not through it: a throw the finally must
    // catch and rethrow costs twice (every non-blocking connect() ends here).
    throw quickError('EINPROGRESS', 'connect');
  }

  private startConnect(t0: Tcb, raddr: IpAddr, rport: number): void {
    const L = this.L;
    let t = t0;
    if (t.done) {
      // A control block that already carried a connection: start afresh, keeping the options.
      t = L.newTcb(this.family);
      copyOptions(t0, t);
      t.owner = this;
      t.laddr = t0.userBound ? t0.laddr : null;
      t.lport = t0.userBound ? t0.lport : 0;
      if (t0.bound) L.tables.unbind(t0);
      t0.owner = null;
      L.freeTcb(t0);
      this.t = t;
      if (t.lport !== 0) {
        const port = t.lport;
        const la = t.laddr;
        t.lport = 0;
        t.laddr = null;
        L.tables.bind(t, la, port);
        t.bound = true;
        t.userBound = true;
      }
    }
    const wire = isV4Mapped(raddr) ? raddr.subarray(12, 16) : raddr;
    const route = L.host.ip.route(wire);
    if (route === null) throw new SysError('ENETUNREACH', 'connect');
    const tw = L.tables.connect(t, raddr, rport, route.src);
    t.hashed = true;
    t.active = true;
    t.connectIssued = true;
    const la = t.laddr as IpAddr;
    t.advMss = advMssFor(route.mtu, this.family === 6 && !isV4Mapped(raddr) ? 6 : 4, t.userMss);
    t.iss = tw !== null ? tw.isn : L.tables.isn(la, t.lport, raddr, rport, L.now);
    if (L.sysctl.v['net.ipv4.tcp_timestamps']) {
      t.tsOffset = tw !== null ? tw.tsOffset : L.tables.tsOffset(la, raddr);
      if (tw !== null) {
        t.tsRecent = tw.tsRecent;
        t.tsRecentStamp = tw.tsRecentStamp;
        t.twTakeover = true;
      }
    }
    t.sndUna = t.iss;
    t.sndNxt = t.iss;
    t.sndMax = t.iss;
    t.sndDataSeq = (t.iss + 1) >>> 0;
    t.sndSml = t.iss;
    t.rcvNxt = 0;
    t.mss = t.advMss;
    // Linux rounds the SYN window to the MSS less the timestamp option when a TS.Recent is known (ts_recent_stamp).
    initRcvWindow(L, t, t.advMss - (t.twTakeover ? 12 : 0));
    initTransfer(L, t);
    setState(L, t, TcpState.SYN_SENT);
    L.inc(L.c.TcpActiveOpens);
    sendSyn(L, t, false);
    t.retransStamp = L.now; // Linux retrans_stamp: when the first SYN left
    t.rttTime = L.now;
    t.rttSeq = (t.iss + 1) >>> 0;
    L.armRtx(t, RTX_RTO, 1000);
  }

  // ---------------------------------------------------------------- data

  /**
   * Queue bytes for sending; returns how many were taken (a partial count when the buffer fills).
   * `flags`: MSG_MORE (0x8000: more follows, no PSH, hold a partial segment) and MSG_EOR
   * (0x80: later writes never join this one's last segment) as Linux.
   */
  send(data: Uint8Array, off = 0, len = data.length - off, flags = 0): number {
    const t = this.enter('send');
    try {
      if (t.error !== null) throw new SysError(this.takeError() as ErrnoCode, 'send');
      if (this.shutWr || t.finQueued) throw new SysError('EPIPE', 'send');
      const s = t.state;
      if (s !== TcpState.ESTABLISHED && s !== TcpState.CLOSE_WAIT) {
        if (s === TcpState.SYN_SENT || s === TcpState.SYN_RECV) throw quickError('EAGAIN', 'send');
        throw new SysError('EPIPE', 'send');
      }
      if (len === 0) return 0;
      const n = t.snd.write(data, off, len, t.sndBuf);
      if (n === 0) throw quickError('EAGAIN', 'send');
      t.push.sendFlags = flags;
      tcpWrite(this.L, t);
      return n;
    } finally {
      this.leave();
    }
  }

  /**
   * Read up to `len` bytes into `buf` at `off`. Returns the count; 0 means
   * end of stream (the peer's FIN, or after SHUT_RD).
   */
  recvInto(buf: Uint8Array, off = 0, len = buf.length - off): number {
    const t = this.enter('recv');
    try {
      if (t.state === TcpState.LISTEN) throw new SysError('ENOTCONN', 'recv');
      if (t.rcv.readable > 0) {
        const n = t.rcv.read(buf, off, len);
        t.bytesRead += n;
        rcvSpaceAdjust(this.L, t);
        this.afterRead(t);
        return n;
      }
      if (t.error !== null) throw new SysError(this.takeError() as ErrnoCode, 'recv');
      if (this.shutRd || t.finRcvd) return 0;
      if (t.state === TcpState.CLOSED) {
        if (t.done) return 0;
        throw new SysError('ENOTCONN', 'recv');
      }
      if (len === 0) return 0;
      throw quickError('EAGAIN', 'recv');
    } finally {
      this.leave();
    }
  }

  /** Read up to `max` bytes (default: all that is ready) into a new array; an empty array is end of stream. */
  recv(max = 1 << 30): Uint8Array {
    const n = Math.min(max, Math.max(this.t.rcv.readable, 0));
    const buf = new Uint8Array(n);
    const got = this.recvInto(buf, 0, n === 0 ? 1 : n);
    return got === n ? buf : buf.subarray(0, got);
  }

  /**
   * Linux tcp_cleanup_rbuf, after a read: an ACK still owed for more than one
   * full segment (the once-per-two-segments ACK that input held back because
   * the window was shrinking) goes now; otherwise a read that at least
   * doubles the window is announced at once.
   */
  private afterRead(t: Tcb): void {
    if (t.state === TcpState.CLOSED) return;
    if (t.ackPending && ((t.rcvNxt - t.rcvWup) | 0) > t.rcvMss) {
      sendAck(this.L, t);
      return;
    }
    if (t.finRcvd) return;
    const now = curWindow(t);
    if (2 * now <= fullSpace(t)) {
      const nw = computeWindow(t);
      if (nw > 0 && nw >= 2 * now) sendAck(this.L, t);
    }
  }

  // ---------------------------------------------------------------- shutdown / close

  shutdown(how: number): void {
    const t = this.enter('shutdown');
    try {
      if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) throw new SysError('EINVAL', 'shutdown');
      const rd = how !== SHUT_WR;
      const wr = how !== SHUT_RD;
      const L = this.L;
      switch (t.state) {
        case TcpState.CLOSED:
          if (rd) this.shutRd = true;
          if (wr) this.shutWr = true;
          throw new SysError('ENOTCONN', 'shutdown');
        case TcpState.LISTEN:
          if (rd) this.stopListening(t);
          return;
        case TcpState.SYN_SENT:
          // Linux tcp_disconnect: the attempt is abandoned without a reset.
          tcpDone(L, t, 'ECONNRESET');
          this.sstate = SockState.Unconnected;
          return;
        default:
          break;
      }
      if (rd) {
        this.shutRd = true;
        t.rdShut = true;
      }
      if (wr && !this.shutWr) {
        this.shutWr = true;
        sendFin(L, t);
      }
    } finally {
      this.leave();
    }
  }

  /** close(2) as Linux tcp_close: RST when unread data is discarded or SO_LINGER is 0, else FIN after the queued data. */
  close(): void {
    if (this.closed) return;
    const t = this.enter('close');
    const L = this.L;
    try {
      this.closed = true;
      this.onEvent = null;
      t.owner = null;
      t.orphan = true;
      t.rdShut = true;
      switch (t.state) {
        case TcpState.LISTEN:
          this.stopListening(t);
          release(L, t);
          return;
        case TcpState.CLOSED:
          release(L, t);
          return;
        case TcpState.SYN_SENT:
          setState(L, t, TcpState.CLOSED);
          L.cancelRtx(t);
          release(L, t);
          return;
        default:
          break;
      }
      if (t.rcv.readable > 0) {
        // Unread data is lost: tell the peer with a reset (RFC 9293 §3.10.4 allows it; Linux does it).
        L.inc(L.c.TcpExtTCPAbortOnClose);
        sendActiveReset(L, t);
        tcpDone(L, t, null);
        return;
      }
      if (t.lingerOn && t.lingerSec === 0) {
        L.inc(L.c.TcpExtTCPAbortOnData);
        if (needReset(t.state)) sendActiveReset(L, t);
        tcpDone(L, t, null);
        return;
      }
      if (!this.shutWr) {
        this.shutWr = true;
        sendFin(L, t);
      }
      if ((t.state as TcpState) === TcpState.FIN_WAIT2) enterTimeWait(L, t, true);
      else if ((t.state as TcpState) === TcpState.CLOSED) release(L, t);
    } finally {
      this.leave();
    }
  }

  private stopListening(t: Tcb): void {
    const L = this.L;
    L.tables.unlisten(t);
    const q = t.acceptQueue ?? [];
    t.acceptQueue = [];
    for (const c of q) {
      c.parent = null;
      c.orphan = true;
      if (c.state === TcpState.CLOSED) {
        release(L, c);
        continue;
      }
      if (needReset(c.state)) sendActiveReset(L, c);
      tcpDone(L, c, null);
    }
    // Embryonic children go without a word (Linux inet_csk_listen_stop drops request socks).
    for (const c of [...L.all()]) {
      if (c.parent === t) {
        c.parent = null;
        c.orphan = true;
        tcpDone(L, c, null);
      }
    }
    t.synQueueLen = 0;
    setState(L, t, TcpState.CLOSED);
  }

  // ---------------------------------------------------------------- readiness

  /** Linux tcp_poll. */
  poll(): number {
    if (this.closed) return POLLHUP;
    const t = this.t;
    if (t.state === TcpState.LISTEN) return t.acceptQueue !== null && t.acceptQueue.length > 0 ? POLLIN : 0;
    let m = 0;
    const rdShut = this.shutRd || t.finRcvd || t.done;
    const wrShut = this.shutWr || t.done;
    if ((rdShut && wrShut) || t.state === TcpState.CLOSED) m |= POLLHUP;
    if (rdShut) m |= POLLIN | POLLRDHUP;
    if (t.state !== TcpState.SYN_SENT && t.state !== TcpState.SYN_RECV) {
      if (t.rcv.readable > 0) m |= POLLIN;
      if (!wrShut) {
        const free = t.sndBuf - t.snd.length;
        if (free >= t.snd.length >> 1 && free > 0) m |= POLLOUT;
      } else m |= POLLOUT;
    }
    if (t.error !== null) m |= POLLERR;
    return m;
  }

  private takeError(): string | null {
    const e = this.t.error;
    this.t.error = null;
    return e;
  }

  // ---------------------------------------------------------------- options

  setsockopt(name: TcpSockOpt, value: number | boolean | Linger | string): void {
    const t = this.enter('setsockopt');
    const L = this.L;
    try {
      const n = typeof value === 'boolean' ? (value ? 1 : 0) : typeof value === 'number' ? value : 0;
      const on = n !== 0;
      switch (name) {
        case 'SO_REUSEADDR':
          t.reuseAddr = on;
          return;
        case 'SO_REUSEPORT':
          t.reusePort = on;
          return;
        case 'SO_KEEPALIVE':
          t.keepalive = on;
          if (on) armKeepalive(L, t);
          else L.cancelKeep(t);
          return;
        case 'SO_LINGER': {
          const lv = value as Linger;
          if (typeof lv !== 'object') throw new SysError('EINVAL', 'setsockopt');
          t.lingerOn = lv.onoff !== 0;
          t.lingerSec = lv.linger;
          return;
        }
        case 'SO_RCVBUF': {
          // Linux doubles the value (bookkeeping overhead) after clamping to rmem_max.
          const v = Math.min(Math.max(n, 0), L.sysctl.v['net.core.rmem_max']);
          t.rcvBuf = Math.max(v * 2, 2304);
          t.rcvBufLocked = true;
          return;
        }
        case 'SO_SNDBUF': {
          const v = Math.min(Math.max(n, 0), L.sysctl.v['net.core.wmem_max']);
          t.sndBuf = Math.max(v * 2, 4608);
          t.sndBufLocked = true;
          return;
        }
        case 'TCP_NODELAY':
          t.nodelay = on;
          // Linux pushes what is pending at once, even a partial segment held
          // by TCP_CORK (the cork still holds later writes).
          if (on) tcpWrite(L, t, true);
          return;
        case 'TCP_CORK':
          t.cork = on;
          if (!on) tcpWrite(L, t);
          return;
        case 'TCP_MAXSEG':
          if (n !== 0 && (n < 88 || n > 32767)) throw new SysError('EINVAL', 'setsockopt');
          t.userMss = n;
          if (t.state !== TcpState.CLOSED && t.state !== TcpState.LISTEN) syncMss(t);
          return;
        case 'TCP_KEEPIDLE':
          if (n < 1 || n > 32767) throw new SysError('EINVAL', 'setsockopt');
          t.keepIdle = n;
          if (t.keepalive) armKeepalive(L, t);
          return;
        case 'TCP_KEEPINTVL':
          if (n < 1 || n > 32767) throw new SysError('EINVAL', 'setsockopt');
          t.keepIntvl = n;
          return;
        case 'TCP_KEEPCNT':
          if (n < 1 || n > 127) throw new SysError('EINVAL', 'setsockopt');
          t.keepCnt = n;
          return;
        case 'TCP_USER_TIMEOUT':
          if (n < 0) throw new SysError('EINVAL', 'setsockopt');
          t.userTimeout = n;
          return;
        case 'TCP_SYNCNT':
          if (n < 1 || n > 127) throw new SysError('EINVAL', 'setsockopt');
          t.synRetries = n;
          return;
        case 'TCP_INQ':
          if (n < 0 || n > 1) throw new SysError('EINVAL', 'setsockopt');
          this.recvInq = on;
          return;
        case 'TCP_QUICKACK':
          if (on) {
            t.pingpong = false;
            t.quick = Math.max(t.quick, 1);
            if (t.ackPending) sendAck(L, t);
          } else t.pingpong = true;
          return;
        case 'TCP_CONGESTION': {
          const v = L.sysctl.v;
          checkCongestionControl(
            String(value),
            v['net.ipv4.tcp_allowed_congestion_control'],
            v['net.ipv4.tcp_congestion_control'],
          );
          if (t.cc !== null && t.cc.name !== String(value) && t.state === TcpState.CLOSED) t.cc = null;
          return;
        }
        case 'IP_TOS':
          // Linux do_ip_setsockopt: on a stream socket the ECN bits stay TCP's
          t.ipTos = n & 0xfc;
          return;
        case 'IPV6_TCLASS':
          if (this.family !== 6) throw new SysError('ENOPROTOOPT', 'setsockopt');
          // -1: the default (0); as with IP_TOS the ECN bits stay TCP's
          if (n < -1 || n > 255) throw new SysError('EINVAL', 'setsockopt');
          t.tclass = n < 0 ? 0 : n & 0xfc;
          return;
        case 'IP_MTU_DISCOVER':
          // IP_PMTUDISC_DONT .. IP_PMTUDISC_OMIT
          if (n < 0 || n > 5) throw new SysError('EINVAL', 'setsockopt');
          t.pmtuDisc = n;
          return;
        case 'IP_BIND_ADDRESS_NO_PORT':
          t.bindAddressNoPort = on;
          return;
        case 'IP_LOCAL_PORT_RANGE':
          t.localPortRange = n >>> 0;
          return;
        case 'IPV6_V6ONLY':
          if (this.family !== 6) throw new SysError('ENOPROTOOPT', 'setsockopt');
          if (t.lport !== 0 || t.state !== TcpState.CLOSED) throw new SysError('EINVAL', 'setsockopt');
          t.v6only = on;
          return;
        default:
          throw new SysError('ENOPROTOOPT', 'setsockopt');
      }
    } finally {
      this.leave();
    }
  }

  getsockopt(name: 'TCP_INFO'): Record<string, number>;
  getsockopt(name: 'SO_LINGER'): Linger;
  getsockopt(name: TcpSockOpt): number | string | Linger | Record<string, number>;
  getsockopt(name: TcpSockOpt): number | string | Linger | Record<string, number> {
    if (this.closed) throw new SysError('EBADF', 'getsockopt');
    const t = this.t;
    const L = this.L;
    const v = L.sysctl.v;
    switch (name) {
      case 'SO_REUSEADDR':
        return t.reuseAddr ? 1 : 0;
      case 'SO_REUSEPORT':
        return t.reusePort ? 1 : 0;
      case 'SO_KEEPALIVE':
        return t.keepalive ? 1 : 0;
      case 'SO_LINGER':
        return { onoff: t.lingerOn ? 1 : 0, linger: t.lingerSec };
      case 'SO_RCVBUF':
        return t.rcvBuf;
      case 'SO_SNDBUF':
        return t.sndBuf;
      case 'SO_ERROR': {
        const e = this.takeError();
        return e === null ? 0 : ERRNO[e as ErrnoCode];
      }
      case 'SO_TYPE':
        return 1;
      case 'TCP_NODELAY':
        return t.nodelay ? 1 : 0;
      case 'TCP_CORK':
        return t.cork ? 1 : 0;
      case 'TCP_MAXSEG':
        return t.state === TcpState.CLOSED || t.state === TcpState.LISTEN ? t.userMss || 536 : t.mss;
      case 'TCP_KEEPIDLE':
        return t.keepIdle || v['net.ipv4.tcp_keepalive_time'];
      case 'TCP_KEEPINTVL':
        return t.keepIntvl || v['net.ipv4.tcp_keepalive_intvl'];
      case 'TCP_KEEPCNT':
        return t.keepCnt || v['net.ipv4.tcp_keepalive_probes'];
      case 'TCP_USER_TIMEOUT':
        return t.userTimeout;
      case 'TCP_SYNCNT':
        return t.synRetries || v['net.ipv4.tcp_syn_retries'];
      case 'TCP_QUICKACK':
        return t.pingpong ? 0 : 1;
      case 'TCP_INQ':
        return this.recvInq ? 1 : 0;
      case 'TCP_CONGESTION':
        return t.cc !== null ? t.cc.name : v['net.ipv4.tcp_congestion_control'];
      case 'TCP_INFO':
        return tcpInfo(t, L.now);
      case 'IP_TOS':
        return t.ipTos;
      case 'IP_MTU_DISCOVER':
        return t.pmtuDisc;
      case 'IPV6_TCLASS':
        if (this.family !== 6) throw new SysError('ENOPROTOOPT', 'getsockopt');
        return t.tclass;
      case 'IP_BIND_ADDRESS_NO_PORT':
        return t.bindAddressNoPort ? 1 : 0;
      case 'IP_LOCAL_PORT_RANGE':
        return t.localPortRange;
      case 'IPV6_V6ONLY':
        if (this.family !== 6) throw new SysError('ENOPROTOOPT', 'getsockopt');
        return t.v6only ? 1 : 0;
      default:
        throw new SysError('ENOPROTOOPT', 'getsockopt');
    }
  }

  /**
   * What TCP_INQ reports after a read (Linux tcp_inq_hint): the bytes left
   * to read, where a received FIN counts one more, so that 0 means more
   * data may still come and a reader knows to read on to end of stream.
   */
  inqHint(): number {
    return this.t.rcv.readable + (this.t.finRcvd ? 1 : 0);
  }

  /** TCP_INFO snapshot (shorthand). */
  info(): Record<string, number> {
    return this.getsockopt('TCP_INFO');
  }

  /** Bytes not yet read / not yet acknowledged (ss Recv-Q / Send-Q; FIONREAD / SIOCOUTQ). */
  get recvQueue(): number {
    return this.t.rcv.readable;
  }
  get sendQueue(): number {
    return this.t.snd.length;
  }

  /** RFC 9293 state name of the control block ('ESTABLISHED', ...). */
  get state(): string {
    return STATE_NAME[this.t.state];
  }
}

const STATE_NAME = [
  'CLOSED',
  'LISTEN',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'CLOSE_WAIT',
  'CLOSING',
  'LAST_ACK',
  'TIME_WAIT',
];

/** Linux tcp_need_reset: states in which an abort tells the peer. */
function needReset(s: TcpState): boolean {
  return (
    s === TcpState.ESTABLISHED ||
    s === TcpState.CLOSE_WAIT ||
    s === TcpState.FIN_WAIT1 ||
    s === TcpState.FIN_WAIT2 ||
    s === TcpState.SYN_RECV
  );
}

/** Linux tcp_close_state + tcp_send_fin: ESTABLISHED → FIN_WAIT1, CLOSE_WAIT → LAST_ACK; the FIN follows queued data. */
function sendFin(L: TcpLayer, t: Tcb): void {
  switch (t.state) {
    case TcpState.ESTABLISHED:
    case TcpState.SYN_RECV:
      setState(L, t, TcpState.FIN_WAIT1);
      break;
    case TcpState.CLOSE_WAIT:
      setState(L, t, TcpState.LAST_ACK);
      break;
    default:
      return;
  }
  t.finQueued = true;
  if ((t.state as TcpState) === TcpState.FIN_WAIT1 && t.synUnacked()) return; // FIN goes once the handshake completes
  tcpWrite(L, t);
}

function copyOptions(from: Tcb, to: Tcb): void {
  to.reuseAddr = from.reuseAddr;
  to.reusePort = from.reusePort;
  to.bindAddressNoPort = from.bindAddressNoPort;
  to.localPortRange = from.localPortRange;
  to.v6only = from.v6only;
  to.nodelay = from.nodelay;
  to.cork = from.cork;
  to.keepalive = from.keepalive;
  to.keepIdle = from.keepIdle;
  to.keepIntvl = from.keepIntvl;
  to.keepCnt = from.keepCnt;
  to.userTimeout = from.userTimeout;
  to.lingerOn = from.lingerOn;
  to.lingerSec = from.lingerSec;
  to.userMss = from.userMss;
  to.sndBuf = from.sndBuf;
  to.rcvBuf = from.rcvBuf;
  to.sndBufLocked = from.sndBufLocked;
  to.rcvBufLocked = from.rcvBufLocked;
  to.synRetries = from.synRetries;
  to.ipTos = from.ipTos;
  to.pmtuDisc = from.pmtuDisc;
  to.tclass = from.tclass;
}
