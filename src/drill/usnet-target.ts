/**
 * The default drill target: the script's local host is a usnet Stack with
 * one interface (`tun0`) whose link hands every transmitted IP packet to
 * the runner, in virtual time (µs in the drill, ms in the stack). Sockets
 * are usnet's own (src/socket/), which never block; a call the script makes
 * on a blocking fd that would block (accept on an empty queue, connect,
 * read with no data, write into a full buffer, poll with a timeout) waits
 * here until the socket's readiness says it can finish, while the runner
 * goes on moving time and injecting packets, as a blocked thread does
 * under packetdrill.
 */
import { ERRNO, type ErrnoCode, STRERROR, SysError } from '../errno.js';
import type { Link } from '../link/link.js';
import { POLLERR, POLLHUP, POLLOUT } from '../socket/poll.js';
import type { TcpSocket, TcpSockOpt } from '../socket/tcp-socket.js';
import { Stack } from '../stack.js';
import { TcpLayer } from '../tcp/tcp.js';
import type { UdpSocket } from '../udp/udp-socket.js';
import { formatAddr, isV4Mapped, parseAddr } from '../wire/addr.js';
import type { DrillConfig } from './config.js';
import { TCP_INFO_LEN, tcpInfoFieldWithin } from './kernel/tcp-info.js';
import { ToolShell } from './shell.js';
import { SYMBOLS } from './symbols.js';
import type {
  OutboundPacket,
  ShellResult,
  SyscallCall,
  SyscallResult,
  Target,
  TargetConfig,
  Value,
} from './target.js';
import { type NstatHistory, runIpTc, runNstat, runSs, runSysctl, type SsRow, type SsState } from './tools.js';

const POLLNVAL = 0x20;
const O_NONBLOCK = 0x800;
const O_RDWR = 2;
const SOCK_NONBLOCK = 0x800;

interface Fd {
  sock: TcpSocket;
  nonblock: boolean;
}

interface UdpFd {
  udp: UdpSocket;
  nonblock: boolean;
}

/** A call waiting for its socket: retried after every change in the stack. */
interface Waiter {
  /** returns a result when the call can finish now, null to keep waiting */
  attempt: () => SyscallResult | null;
  resolve: (r: SyscallResult) => void;
}

class WouldBlock extends Error {}

function err(code: ErrnoCode): SyscallResult {
  return { ret: -1, errno: code };
}

function prefixLen(mask: string, family: 4 | 6): number {
  if (/^\d+$/.test(mask)) return Number(mask);
  const a = parseAddr(mask);
  if (!a) return family === 4 ? 16 : 48;
  let n = 0;
  for (const b of a) for (let i = 7; i >= 0; i--) if (b & (1 << i)) n++;
  return n;
}

/** `print_ms_timer` of iproute2's ss: 59sec, 1.200ms (for 1.2 s), 200ms, 1min30sec. */
export function ssTimerText(ms: number): string {
  let secs = Math.floor(ms / 1000);
  let msecs = Math.floor(ms % 1000);
  const minutes = Math.floor(secs / 60);
  secs %= 60;
  let s = '';
  if (minutes) {
    msecs = 0;
    s += `${minutes}min`;
    if (minutes > 9) secs = 0;
  }
  if (secs) {
    if (secs > 9) msecs = 0;
    s += `${secs}${msecs ? '.' : 'sec'}`;
  }
  if (msecs) s += `${String(msecs).padStart(3, '0')}ms`;
  return s;
}

/** The option symbols usnet sockets take, by level (SOL_SOCKET 1, SOL_TCP 6, SOL_IP 0, SOL_IPV6 41). */
const LEVEL_OPTS: Record<number, string[]> = {
  1: [
    'SO_REUSEADDR',
    'SO_REUSEPORT',
    'SO_LINGER',
    'SO_KEEPALIVE',
    'SO_RCVBUF',
    'SO_SNDBUF',
    'SO_ERROR',
    'SO_TYPE',
  ],
  6: [
    'TCP_NODELAY',
    'TCP_CORK',
    'TCP_MAXSEG',
    'TCP_KEEPIDLE',
    'TCP_KEEPINTVL',
    'TCP_KEEPCNT',
    'TCP_USER_TIMEOUT',
    'TCP_QUICKACK',
    'TCP_SYNCNT',
    'TCP_CONGESTION',
    'TCP_INFO',
    'TCP_INQ',
  ],
  0: ['IP_BIND_ADDRESS_NO_PORT', 'IP_LOCAL_PORT_RANGE', 'IP_TOS', 'IP_MTU_DISCOVER'],
  41: ['IPV6_V6ONLY', 'IPV6_TCLASS'],
};

/** Every symbol of LEVEL_OPTS: a script may name the option instead of giving its number. */
const SOCKOPTS = new Set<string>(Object.values(LEVEL_OPTS).flat());

export class UsnetTarget implements Target {
  readonly name = 'usnet';
  readonly virtualTime = true;
  stack!: Stack;
  tcp!: TcpLayer;
  private cfg!: TargetConfig;
  private us = 0;
  private readonly out: OutboundPacket[] = [];
  private readonly fds = new Map<number, Fd>();
  /** UDP sockets (SOCK_DGRAM), sharing the fd number space with fds */
  private readonly udpFds = new Map<number, UdpFd>();
  private waiters: Waiter[] = [];
  private shellRunner: ToolShell | null = null;
  private readonly nstatHist: NstatHistory = { values: null };
  private family: 4 | 6 = 4;

  async start(config: TargetConfig): Promise<void> {
    this.cfg = config;
    this.family = config.ipVersion === 'ipv6' ? 6 : 4;
    this.stack = new Stack({ seed: 1, now: 0, name: 'usnet-drill' });
    this.tcp = new TcpLayer(this.stack);
    const link: Link = {
      mtu: config.mtu,
      transmit: (frame: Uint8Array) => {
        this.out.push({ bytes: frame.slice(), timeUs: this.us });
      },
      onReceive: null,
    };
    const wireFamily = this.family;
    this.stack.addInterface('tun0', link, {
      addrs: [`${config.localIp}/${prefixLen(config.netmaskIp, wireFamily)}`],
      mtu: config.mtu,
    });
    this.stack.addRoute(wireFamily === 4 ? '0.0.0.0/0' : '::/0', { dev: 'tun0', via: config.gatewayIp });
  }

  nowUs(): number {
    return this.us;
  }

  async advanceTo(tUs: number, stopOnOutbound = false): Promise<void> {
    for (let guard = 0; guard < 10_000_000; guard++) {
      const dl = this.stack.nextDeadline() * 1000;
      if (!(dl <= tUs)) break;
      if (dl > this.us) this.us = dl;
      this.stack.advance(this.us / 1000);
      this.retry();
      if (stopOnOutbound && this.out.length > 0) return;
      if (dl < this.us && this.stack.nextDeadline() * 1000 <= dl) {
        // something keeps saying "due in the past": let time move on
        break;
      }
    }
    if (tUs > this.us) this.us = tUs;
    this.stack.advance(this.us / 1000);
    this.retry();
  }

  takeOutbound(): OutboundPacket | null {
    return this.out.shift() ?? null;
  }

  async inject(bytes: Uint8Array): Promise<void> {
    // the stack's clock must be at `now` before the packet arrives
    this.stack.advance(this.us / 1000);
    this.stack.receive('tun0', bytes.slice());
    this.retry();
  }

  settle(): Promise<void> {
    return new Promise((r) => setImmediate(r));
  }

  private retry(): void {
    if (this.waiters.length === 0) return;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) {
      let r: SyscallResult | null;
      try {
        r = w.attempt();
      } catch (e) {
        r = this.fromError(e);
      }
      if (r === null) this.waiters.push(w);
      else w.resolve(r);
    }
  }

  private fromError(e: unknown): SyscallResult {
    if (e instanceof SysError) return err(e.code);
    throw e;
  }

  private lowestFd(): number {
    let fd = 3;
    while (this.fds.has(fd) || this.udpFds.has(fd)) fd++;
    return fd;
  }

  /** The UDP socket behind a script fd, or null when the fd is not a UDP socket. */
  private udpFd(v: Value | undefined): UdpFd | null {
    return v?.t === 'int' ? (this.udpFds.get(v.v) ?? null) : null;
  }

  /** System calls on a UDP socket (socket, bind, connect, sendto/send/write, recvfrom/recv/read, close). */
  private udpCall(call: SyscallCall, f: UdpFd): Promise<SyscallResult> | SyscallResult {
    const a = call.args;
    switch (call.name) {
      case 'bind': {
        const sa = this.sockaddr(a[1]);
        f.udp.bind(sa.addr === '0.0.0.0' || sa.addr === '::' ? null : sa.addr, sa.port);
        return { ret: 0, errno: null };
      }
      case 'connect': {
        const sa = this.sockaddr(a[1]);
        f.udp.connect(sa.addr, sa.port);
        return { ret: 0, errno: null };
      }
      case 'write':
      case 'send':
      case 'sendto': {
        const data = new Uint8Array(this.int(a[2], 'length'));
        if (call.name === 'sendto' && a[4]?.t === 'sockaddr')
          return { ret: f.udp.sendto(data, a[4].addr, a[4].port), errno: null };
        return { ret: f.udp.send(data), errno: null };
      }
      case 'read':
      case 'recv':
      case 'recvfrom': {
        const n = this.int(a[2], 'length');
        const flags = call.name !== 'read' && a[3] ? this.int(a[3], 'flags') : 0;
        return this.blocking(f.nonblock || (flags & 0x40) !== 0, () => {
          const d = f.udp.recvfrom();
          const out: Record<number, Value> = {};
          if (call.name === 'recvfrom')
            out[4] = {
              t: 'sockaddr',
              family: d.addr.length === 4 ? 4 : 6,
              port: d.port,
              addr: formatAddr(d.addr),
            };
          return { ret: Math.min(n, d.data.length), errno: null, out };
        });
      }
      case 'close':
        this.udpFds.delete((a[0] as { v: number }).v);
        f.udp.close();
        return { ret: 0, errno: null };
      case 'getsockname':
      case 'getpeername':
        return {
          ret: 0,
          errno: null,
          out: { 1: this.nameValue(call.name === 'getsockname' ? f.udp.getsockname() : f.udp.getpeername()) },
        };
      case 'fcntl': {
        const cmd = this.int(a[1], 'cmd');
        if (cmd === 3) return { ret: O_RDWR | (f.nonblock ? O_NONBLOCK : 0), errno: null };
        if (cmd === 4) f.nonblock = (this.int(a[2], 'flags') & O_NONBLOCK) !== 0;
        return { ret: 0, errno: null };
      }
      case 'setsockopt':
        return { ret: 0, errno: null };
      default:
        throw new Error(`${call.name}() on a UDP socket is not supported by the usnet target`);
    }
  }

  private fd(v: Value | undefined): Fd {
    if (v?.t !== 'int') throw new SysError('EBADF', 'fd');
    const f = this.fds.get(v.v);
    if (!f) throw new SysError('EBADF', 'fd');
    return f;
  }

  private int(v: Value | undefined, what: string): number {
    if (v?.t === 'int') return v.v;
    if (v?.t === 'list' && v.items[0]?.t === 'int') return v.items[0].v;
    throw new Error(`${what}: expected an integer, got ${v ? v.t : 'nothing'}`);
  }

  private sockaddr(v: Value | undefined): { addr: string; port: number } {
    if (v?.t !== 'sockaddr') throw new Error('expected a sockaddr');
    return { addr: v.addr, port: v.port };
  }

  private nameValue(n: { address: string; port: number; family: string }): Value {
    return { t: 'sockaddr', family: n.family === 'IPv6' ? 6 : 4, port: n.port, addr: n.address };
  }

  /**
   * Run `attempt` now; if it would block and the fd is blocking, retry it
   * after every stack change until it completes.
   */
  private blocking(nonblock: boolean, attempt: () => SyscallResult): Promise<SyscallResult> {
    const once = (): SyscallResult | null => {
      try {
        return attempt();
      } catch (e) {
        if (e instanceof WouldBlock) return null;
        if (e instanceof SysError && e.code === 'EAGAIN' && !nonblock) return null;
        return this.fromError(e);
      }
    };
    const first = once();
    if (first !== null) return Promise.resolve(first);
    if (nonblock) return Promise.resolve(err('EAGAIN'));
    return new Promise((resolve) => this.waiters.push({ attempt: once, resolve }));
  }

  async syscall(call: SyscallCall): Promise<SyscallResult> {
    try {
      return await this.dispatch(call);
    } catch (e) {
      if (e instanceof SysError) return err(e.code);
      throw e;
    }
  }

  private dispatch(call: SyscallCall): Promise<SyscallResult> | SyscallResult {
    const a = call.args;
    const u = call.name === 'socket' || call.name === 'poll' ? null : this.udpFd(a[0]);
    if (u) return this.udpCall(call, u);
    switch (call.name) {
      case 'socket': {
        const domain = this.int(a[0], 'domain');
        const type = this.int(a[1], 'type');
        if (domain !== 2 && domain !== 10) return err('EAFNOSUPPORT');
        const fam: 4 | 6 = domain === 10 ? 6 : 4;
        if ((type & 0xf) === 2) {
          const fd = this.lowestFd();
          this.udpFds.set(fd, {
            udp: this.stack.socket('udp', fam) as UdpSocket,
            nonblock: (type & SOCK_NONBLOCK) !== 0,
          });
          return { ret: fd, errno: null };
        }
        if ((type & 0xf) !== 1) return err('EPROTONOSUPPORT');
        const sock = this.tcp.socket(fam);
        const fd = this.lowestFd();
        this.fds.set(fd, { sock, nonblock: (type & SOCK_NONBLOCK) !== 0 });
        return { ret: fd, errno: null };
      }
      case 'bind': {
        const f = this.fd(a[0]);
        const sa = this.sockaddr(a[1]);
        f.sock.bind(sa.addr === '0.0.0.0' || sa.addr === '::' ? null : sa.addr, sa.port);
        return { ret: 0, errno: null };
      }
      case 'listen': {
        this.fd(a[0]).sock.listen(this.int(a[1], 'backlog'));
        return { ret: 0, errno: null };
      }
      case 'accept':
      case 'accept4': {
        const f = this.fd(a[0]);
        const flags = call.name === 'accept4' && a[3] ? this.int(a[3], 'flags') : 0;
        return this.blocking(f.nonblock, () => {
          const s = f.sock.accept();
          const fd = this.lowestFd();
          this.fds.set(fd, { sock: s, nonblock: (flags & SOCK_NONBLOCK) !== 0 });
          let peer: Value = { t: 'ellipsis' };
          try {
            peer = this.nameValue(s.getpeername());
          } catch {}
          return { ret: fd, errno: null, out: { 1: peer } };
        });
      }
      case 'connect': {
        const f = this.fd(a[0]);
        const sa = this.sockaddr(a[1]);
        try {
          f.sock.connect(sa.addr, sa.port);
          return { ret: 0, errno: null };
        } catch (e) {
          if (!(e instanceof SysError) || e.code !== 'EINPROGRESS' || f.nonblock) throw e;
        }
        // a blocking connect: wait for the handshake to finish or fail
        return this.blocking(false, () => {
          const ev = f.sock.poll();
          if (!(ev & (POLLOUT | POLLERR | POLLHUP))) throw new WouldBlock();
          const e = f.sock.getsockopt('SO_ERROR') as number;
          if (e) return err(errnoName(e));
          return { ret: 0, errno: null };
        });
      }
      case 'write':
      case 'send':
      case 'sendto': {
        const f = this.fd(a[0]);
        const n = this.int(a[2], 'length');
        const flags = call.name !== 'write' && a[3] ? this.int(a[3], 'flags') : 0;
        const nonblock = f.nonblock || (flags & 0x40) !== 0;
        if (isNull(a[1]) && n > 0) return this.blocking(nonblock, () => sendFromNull(f.sock));
        let done = 0;
        const data = new Uint8Array(n);
        return this.blocking(nonblock, () => {
          while (done < n) {
            let k: number;
            try {
              // MSG_MORE / MSG_EOR shape PSH marking (src/tcp/push.ts); a partial write pushes without MSG_MORE.
              k = f.sock.send(data, done, n - done, flags & 0x8080);
            } catch (e) {
              if (e instanceof SysError && e.code === 'EAGAIN') {
                if (nonblock && done > 0) return { ret: done, errno: null };
                if (nonblock) throw e;
                throw new WouldBlock();
              }
              if (done > 0) return { ret: done, errno: null };
              throw e;
            }
            done += k;
            if (nonblock) break;
          }
          return { ret: done, errno: null };
        });
      }
      case 'recvmsg': {
        // The iovecs filled as one read; msg_control comes back with a
        // TCP_CM_INQ message when TCP_INQ is on (the only one usnet makes).
        const f = this.fd(a[0]);
        const m = a[1];
        const n = msgIovLen(m, true);
        const flags = a[2] ? this.int(a[2], 'flags') : 0;
        return this.blocking(f.nonblock || (flags & 0x40) !== 0, () => {
          const got = f.sock.recvInto(new Uint8Array(n), 0, n);
          const control: Value[] = f.sock.recvInq ? [cmsgInq(f.sock.inqHint())] : [];
          return { ret: got, errno: null, out: { 1: msghdrOut(m as Value, control) } };
        });
      }
      case 'sendmsg':
        // No control data: the iovecs' bytes go as one send() with the flags.
        return this.dispatch({
          ...call,
          name: 'send',
          args: [a[0], { t: 'ellipsis' }, { t: 'int', v: msgIovLen(a[1]) }, a[2] ?? { t: 'int', v: 0 }],
        });
      case 'read':
      case 'recv':
      case 'recvfrom': {
        const f = this.fd(a[0]);
        const n = this.int(a[2], 'length');
        const flags = call.name !== 'read' && a[3] ? this.int(a[3], 'flags') : 0;
        const nonblock = f.nonblock || (flags & 0x40) !== 0;
        if (isNull(a[1]) && n > 0) return this.blocking(nonblock, () => recvIntoNull(f.sock, n));
        return this.blocking(nonblock, () => {
          const buf = new Uint8Array(n);
          const got = f.sock.recvInto(buf, 0, n);
          return { ret: got, errno: null };
        });
      }
      case 'close': {
        const f = this.fd(a[0]);
        this.fds.delete((a[0] as { v: number }).v);
        f.sock.close();
        return { ret: 0, errno: null };
      }
      case 'shutdown': {
        this.fd(a[0]).sock.shutdown(this.int(a[1], 'how'));
        return { ret: 0, errno: null };
      }
      case 'setsockopt': {
        const f = this.fd(a[0]);
        const name = this.optName(a[1], a[2]);
        const v = a[3];
        let value: number | string | { onoff: number; linger: number };
        if (v?.t === 'linger') value = { onoff: v.onoff, linger: v.linger };
        else if (v?.t === 'str') value = v.v;
        else if (v?.t === 'list' && v.items.length === 2 && name === 'IP_LOCAL_PORT_RANGE')
          value = (this.int(v.items[1], 'hi') << 16) | this.int(v.items[0], 'lo');
        else value = this.int(v, name);
        f.sock.setsockopt(name, value);
        return { ret: 0, errno: null };
      }
      case 'getsockopt': {
        const f = this.fd(a[0]);
        const name = this.optName(a[1], a[2]);
        const v = f.sock.getsockopt(name);
        let outV: Value;
        let len = 4;
        if (typeof v === 'number') outV = { t: 'list', items: [{ t: 'int', v }] };
        else if (typeof v === 'string') {
          outV = { t: 'str', v };
          // Linux copies TCP_CA_NAME_MAX (16) bytes for TCP_CONGESTION
          len = name === 'TCP_CONGESTION' ? 16 : v.length;
        } else if (v && typeof v === 'object' && 'onoff' in v) {
          outV = { t: 'linger', onoff: Number(v.onoff), linger: Number(v.linger) };
          len = 8;
        } else if (name === 'TCP_INFO') {
          // Linux copies min(optlen, sizeof(struct tcp_info)) bytes
          len =
            a[4] && a[4].t !== 'ellipsis' ? Math.min(this.int(a[4], 'optlen'), TCP_INFO_LEN) : TCP_INFO_LEN;
          outV = tcpInfoValue(v as Record<string, number>, len);
        } else throw new Error(`getsockopt ${name}: usnet returns a structure the drill cannot compare`);
        return { ret: 0, errno: null, out: { 3: outV, 4: { t: 'list', items: [{ t: 'int', v: len }] } } };
      }
      case 'fcntl': {
        const f = this.fd(a[0]);
        const cmd = this.int(a[1], 'cmd');
        if (cmd === 3) return { ret: O_RDWR | (f.nonblock ? O_NONBLOCK : 0), errno: null };
        if (cmd === 4) {
          f.nonblock = (this.int(a[2], 'flags') & O_NONBLOCK) !== 0;
          return { ret: 0, errno: null };
        }
        if (cmd === 1 || cmd === 2) return { ret: 0, errno: null };
        return err('EINVAL');
      }
      case 'getsockname':
      case 'getpeername': {
        const f = this.fd(a[0]);
        const n = call.name === 'getsockname' ? f.sock.getsockname() : f.sock.getpeername();
        return { ret: 0, errno: null, out: { 1: this.nameValue(n) } };
      }
      case 'ioctl': {
        const f = this.fd(a[0]);
        const req = this.int(a[1], 'request');
        let n: number;
        if (req === SYMBOLS.SIOCINQ) n = f.sock.recvQueue;
        else if (req === SYMBOLS.SIOCOUTQ) n = f.sock.sendQueue;
        else return err('ENOTTY' as ErrnoCode);
        return { ret: 0, errno: null, out: { 2: { t: 'list', items: [{ t: 'int', v: n }] } } };
      }
      case 'poll':
        return this.poll(a);
      default:
        throw new Error(`system call ${call.name}() is not supported by the usnet target`);
    }
  }

  private optName(level: Value | undefined, opt: Value | undefined): TcpSockOpt {
    if (opt?.t === 'int' && opt.sym && SOCKOPTS.has(opt.sym)) return opt.sym as TcpSockOpt;
    const lv = this.int(level, 'level');
    const num = this.int(opt, 'optname');
    for (const n of LEVEL_OPTS[lv] ?? []) if (SYMBOLS[n] === num) return n as TcpSockOpt;
    throw new SysError('ENOPROTOOPT', 'setsockopt');
  }

  private poll(a: Value[]): Promise<SyscallResult> {
    const list = a[0];
    if (list?.t !== 'list') throw new Error('poll: expected a list of pollfd');
    const timeout = this.int(a[2], 'timeout');
    const deadline = timeout < 0 ? Number.POSITIVE_INFINITY : this.us + timeout * 1000;
    const attempt = (): SyscallResult | null => {
      let n = 0;
      const items: Value[] = [];
      for (const p of list.items) {
        if (p.t !== 'pollfd') throw new Error('poll: expected {fd=..., events=...}');
        const f = this.fds.get(p.fd) ?? this.udpFds.get(p.fd);
        const ev = f
          ? ('sock' in f ? f.sock.poll() : f.udp.poll()) & (p.events | POLLERR | POLLHUP)
          : POLLNVAL;
        if (ev) n++;
        items.push({ t: 'pollfd', fd: p.fd, events: p.events, revents: ev });
      }
      if (n > 0 || this.us >= deadline) return { ret: n, errno: null, out: { 0: { t: 'list', items } } };
      return null;
    };
    const r = attempt();
    if (r) return Promise.resolve(r);
    return new Promise((resolve) => this.waiters.push({ attempt, resolve }));
  }

  // ------------------------------------------------------------ shell

  private ssRows(): SsRow[] {
    return this.tcp.list().map((r) => {
      const fmt = (x: Uint8Array | null) => (x === null ? null : formatAddr(x));
      const fam: 4 | 6 = r.family === 6 || (r.laddr !== null && r.laddr.length === 16) ? 6 : 4;
      // Linux makes a socket bound to a specific IPv6 address v6-only (inet6_bind)
      const boundV6 =
        r.laddr !== null && r.laddr.length === 16 && !isV4Mapped(r.laddr) && r.laddr.some((b) => b !== 0);
      return {
        v6only: fam === 6 && (r.v6only === true || boundV6),
        state: (r.state === 'CLOSE' ? 'UNCONN' : r.state) as SsState,
        recvQ: r.recvQ,
        sendQ: r.sendQ,
        family: fam,
        laddr: fmt(r.laddr),
        lport: r.lport,
        raddr: fmt(r.raddr),
        rport: r.rport,
        timer: r.timer ? `(${r.timer},${ssTimerText(r.timerMs)},${r.retrans})` : undefined,
      };
    });
  }

  private tool(tool: string, argv: string[]) {
    if (tool === 'sysctl') return runSysctl(argv, this.stack.sysctl);
    if (tool === 'ss') return runSs(argv, this.ssRows());
    if (tool === 'ip' || tool === 'tc' || tool === 'ethtool') return runIpTc(tool, argv);
    return runNstat(argv, this.stack.counters.snapshot(), this.nstatHist);
  }

  async shell(command: string): Promise<ShellResult> {
    this.shellRunner ??= new ToolShell(
      (t, argv) => this.tool(t, argv),
      ['sysctl', 'ss', 'nstat', 'ip', 'tc', 'ethtool'],
    );
    return this.shellRunner.run(command, {
      cwd: (this.cfg as DrillConfig).cwd ?? process.cwd(),
      // packetdrill exports its pid, which is the shell's $PPID: the kernel
      // selftests' set_sysctls.py names its restore script after it and the
      // script's last line runs `/tmp/sysctl_restore_${PPID}.sh`.
      env: { PACKETDRILL_PID: String(process.pid), ...this.cfg.defines },
    });
  }

  async close(): Promise<void> {
    for (const f of this.fds.values()) {
      try {
        f.sock.close();
      } catch {}
    }
    this.fds.clear();
    for (const f of this.udpFds.values()) {
      try {
        f.udp.close();
      } catch {}
    }
    this.udpFds.clear();
    this.waiters = [];
    const s = this.shellRunner;
    this.shellRunner = null;
    if (s) await s.close();
  }
}

/**
 * The socket's TCP_INFO record as the struct a script compares field by
 * field: the fields within the first `len` bytes of struct tcp_info. (A
 * field usnet does not keep is not in the record, so a script asking for
 * it fails as "not reported" rather than against a made-up value.)
 */
function tcpInfoValue(info: Record<string, number>, len: number): Value {
  const fields: Record<string, Value> = {};
  for (const [k, v] of Object.entries(info)) if (tcpInfoFieldWithin(k, len)) fields[k] = { t: 'int', v };
  return { t: 'struct', fields };
}

/** Total length of a msghdr's iovecs: `{msg_name(...)=..., msg_iov(2)=[{..., 40}, {iov_base=..., iov_len=20}], msg_flags=0}`. */
function msgIovLen(m: Value | undefined, receiving = false): number {
  if (m?.t !== 'struct') throw new Error('sendmsg/recvmsg: expected a msghdr');
  const ctl = m.fields.msg_control;
  // (for recvmsg, msg_control is what the script expects back)
  if (!receiving && ctl !== undefined && ctl.t !== 'ellipsis' && !(ctl.t === 'int' && ctl.v === 0))
    throw new Error('sendmsg with control data is not supported by the usnet target');
  const iov = m.fields.msg_iov;
  if (iov?.t !== 'list') throw new Error('sendmsg: expected msg_iov(n)=[...]');
  let n = 0;
  for (const it of iov.items) {
    const len = it.t === 'struct' ? (it.fields.iov_len ?? it.fields['1']) : undefined;
    if (len?.t !== 'int') throw new Error('sendmsg: expected iovecs {..., len}');
    n += len.v;
  }
  return n;
}

/** recvmsg's msghdr as it comes back: the script's, with the control messages and flags filled in. */
function msghdrOut(m: Value, control: Value[]): Value {
  const fields = m.t === 'struct' ? { ...m.fields } : {};
  fields.msg_control = { t: 'list', items: control };
  fields.msg_flags = { t: 'int', v: 0 };
  return { t: 'struct', fields };
}

/** A TCP_CM_INQ control message (SOL_TCP, TCP_CM_INQ = TCP_INQ, an int). */
function cmsgInq(v: number): Value {
  return {
    t: 'struct',
    fields: {
      cmsg_level: { t: 'int', v: SYMBOLS.SOL_TCP },
      cmsg_type: { t: 'int', v: SYMBOLS.TCP_CM_INQ },
      cmsg_data: { t: 'int', v },
    },
  };
}

/** The script passed NULL (0) where a buffer goes: `write(4, NULL, 1000)`. */
function isNull(v: Value | undefined): boolean {
  return v?.t === 'int' && v.v === 0;
}

/**
 * send() from a NULL buffer, as Linux tcp_sendmsg fails it: the socket's
 * state is checked first (EPIPE, a pending error, EAGAIN or blocking while
 * the send buffer is full), then copying the first byte faults: EFAULT,
 * nothing queued.
 */
function sendFromNull(sock: TcpSocket): SyscallResult {
  sock.send(new Uint8Array(0), 0, 0);
  if (sock.sendQueue >= (sock.getsockopt('SO_SNDBUF') as number)) throw new SysError('EAGAIN', 'send');
  return err('EFAULT');
}

/**
 * recv() into a NULL buffer, as Linux tcp_recvmsg fails it: with data
 * waiting, the copy faults (EFAULT) and the data stays queued; without,
 * the call ends as any read would (0 at end of stream, EAGAIN, an error) or
 * blocks.
 */
function recvIntoNull(sock: TcpSocket, n: number): SyscallResult {
  if (sock.recvQueue > 0) return err('EFAULT');
  return { ret: sock.recvInto(new Uint8Array(0), 0, n), errno: null };
}

function errnoName(n: number): ErrnoCode {
  for (const [k, v] of Object.entries(ERRNO)) if (v === n) return k as ErrnoCode;
  void STRERROR;
  return 'EIO';
}

export function createUsnetTarget(): Target {
  return new UsnetTarget();
}
