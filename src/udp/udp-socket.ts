/**
 * A UDP socket with the BSD calls and Linux's errno for each: bind, connect,
 * send/sendto, recv/recvfrom, close, poll. Always non-blocking: an empty
 * receive queue throws EAGAIN. A hard ICMP error (port unreachable, ...) on
 * a connected socket is reported once by the next send or receive call
 * (Linux sk_err without IP_RECVERR).
 */
import { SysError } from '../errno.js';
import type { Family } from '../ip/types.js';
import { POLLERR, POLLHUP, POLLIN, POLLOUT, type SockName } from '../socket/poll.js';
import type { Wakeable } from '../stack.js';
import { formatAddr, type IpAddr, mustParseAddr } from '../wire/addr.js';
import type { UdpLayer } from './udp-layer.js';

export { POLLERR, POLLHUP, POLLIN, POLLOUT, type SockName };

export interface Datagram {
  data: Uint8Array;
  /** Sender address and port. */
  addr: IpAddr;
  port: number;
}

export class UdpSocket implements Wakeable {
  readonly family: Family;
  /** Bound local address (null = wildcard) and port (0 = not bound). */
  laddr: IpAddr | null = null;
  lport = 0;
  /** Connected peer, or null. */
  raddr: IpAddr | null = null;
  rport = 0;
  reuseAddr = false;
  reusePort = false;
  /** SO_BROADCAST: may send to a broadcast address. */
  broadcast = false;
  /** IPV6_V6ONLY; default net.ipv6.bindv6only. */
  v6only: boolean;
  /** IP_TTL / IPV6_UNICAST_HOPS; -1 = the sysctl default. */
  ttl = -1;
  /** IP_TOS / IPV6_TCLASS. */
  tos = 0;
  /** SO_RCVBUF as Linux reports it (the set value doubled). */
  rcvbuf: number;
  /** Linux inet_id: IPv4 ID of datagrams on a connected socket. */
  inetId: number;
  closed = false;
  /** Pending error (errno code), reported once. */
  err: 'ECONNREFUSED' | 'EHOSTUNREACH' | 'ENETUNREACH' | 'EMSGSIZE' | 'EACCES' | 'EPROTO' | null = null;
  onEvent: ((events: number) => void) | null = null;
  wakeQueued = false;
  /** @internal receive queue, and what each entry is charged against rcvbuf */
  readonly queue: Datagram[] = [];
  readonly charges: number[] = [];
  /** @internal bytes charged against rcvbuf */
  queued = 0;

  constructor(
    private readonly layer: UdpLayer,
    family: Family,
  ) {
    this.family = family;
    this.v6only = layer.sysctlV6only();
    this.rcvbuf = layer.defaultRcvbuf();
    this.inetId = layer.randomId();
  }

  bind(addr: string | IpAddr | null, port = 0): void {
    this.check('bind');
    if (this.lport !== 0) throw new SysError('EINVAL', 'bind', 'already bound');
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SysError('EINVAL', 'bind');
    const a = addr === null ? null : typeof addr === 'string' ? mustParseAddr(addr) : addr;
    this.layer.bind(this, a, port);
  }

  connect(addr: string | IpAddr, port: number): void {
    this.check('connect');
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SysError('EINVAL', 'connect');
    const a = typeof addr === 'string' ? mustParseAddr(addr) : addr;
    this.layer.connect(this, a, port);
  }

  /** Send on a connected socket. Returns the bytes sent. */
  send(data: Uint8Array): number {
    this.check('send');
    if (this.raddr === null) throw new SysError('EDESTADDRREQ', 'send');
    this.reportError('send');
    return this.layer.send(this, data, this.raddr, this.rport);
  }

  sendto(data: Uint8Array, addr: string | IpAddr, port: number): number {
    this.check('sendto');
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SysError('EINVAL', 'sendto');
    const a = typeof addr === 'string' ? mustParseAddr(addr) : addr;
    this.reportError('sendto');
    return this.layer.send(this, data, a, port);
  }

  recvfrom(): Datagram {
    this.check('recvfrom');
    this.reportError('recvfrom');
    const d = this.queue.shift();
    if (d === undefined) throw new SysError('EAGAIN', 'recvfrom');
    this.queued -= this.charges.shift() ?? 0;
    this.layer.countInDatagram(d.addr.length === 4 || isMappedV4(d.addr) ? 4 : 6);
    return d;
  }

  recv(): Uint8Array {
    return this.recvfrom().data;
  }

  poll(): number {
    if (this.closed) return POLLHUP;
    let ev = POLLOUT;
    if (this.queue.length > 0) ev |= POLLIN;
    if (this.err !== null) ev |= POLLERR;
    return ev;
  }

  close(): void {
    if (this.closed) return;
    this.layer.unbind(this);
    this.closed = true;
    this.queue.length = 0;
    this.charges.length = 0;
    this.queued = 0;
  }

  getsockname(): SockName {
    const any = this.family === 4 ? '0.0.0.0' : '::';
    return {
      address: this.laddr === null ? any : formatAddr(this.laddr),
      port: this.lport,
      family: this.family === 4 ? 'IPv4' : 'IPv6',
    };
  }

  getpeername(): SockName {
    if (this.raddr === null) throw new SysError('ENOTCONN', 'getpeername');
    return { address: formatAddr(this.raddr), port: this.rport, family: this.family === 4 ? 'IPv4' : 'IPv6' };
  }

  /** SO_RCVBUF: Linux doubles the value (bookkeeping overhead), capped by rmem_max. */
  setRcvbuf(bytes: number): void {
    this.rcvbuf = Math.max(2 * Math.min(bytes, this.layer.rmemMax()), 2304);
  }

  fireEvents(): void {
    this.onEvent?.(this.poll());
  }

  private check(call: string): void {
    if (this.closed) throw new SysError('EBADF', call);
  }

  private reportError(call: string): void {
    const e = this.err;
    if (e !== null) {
      this.err = null;
      throw new SysError(e, call);
    }
  }
}

function isMappedV4(a: IpAddr): boolean {
  if (a.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return false;
  return a[10] === 0xff && a[11] === 0xff;
}
