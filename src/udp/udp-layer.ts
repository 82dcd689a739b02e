/**
 * UDP (RFC 768, RFC 8200 §8.1 for the IPv6 checksum rule) over the stack's
 * IP layer: the port table, socket lookup with Linux's scoring (a more
 * specific match wins: bound address, connected peer), checksums, and the
 * ICMP side: port unreachable when no socket matches, and hard ICMP errors
 * reported to connected sockets.
 *
 * Counters (nstat names): UdpInDatagrams (counted when the application
 * reads, as Linux does), UdpNoPorts, UdpInErrors, UdpInCsumErrors,
 * UdpRcvbufErrors, UdpOutDatagrams, and the Udp6* twins.
 */
import type { Counters } from '../counters.js';
import { errnoCode, SysError } from '../errno.js';
import { frameTruesize } from '../ip/reassembly.js';
import type { IcmpErr, IpHandler, IpLayerApi, IpRx } from '../ip/types.js';
import type { Rng } from '../rng.js';
import type { Wakeable } from '../stack.js';
import type { Sysctl } from '../sysctl.js';
import { addrEquals, type IpAddr, isUnspecified, isV4Mapped, v4Mapped } from '../wire/addr.js';
import { pseudoSum } from '../wire/checksum.js';
import { newUdpHeader, parseUdp, UDP_HEADER_LEN, udpChecksumOk, udpFillChecksum } from '../wire/udp.js';
import { UdpSocket } from './udp-socket.js';

export const IPPROTO_UDP = 17;

/** What UDP needs from the stack (Stack satisfies it structurally). */
export interface UdpHost {
  readonly counters: Counters;
  readonly sysctl: Sysctl;
  readonly rng: Rng;
  readonly ip: IpLayerApi;
  wake(t: Wakeable): void;
}

export class UdpLayer implements IpHandler {
  private readonly ports = new Map<number, UdpSocket[]>();
  private readonly hdr = newUdpHeader();
  private out = new Uint8Array(2048);
  private readonly c: number[][];
  private readonly ignoredMulti: number;
  /** Reuseport hash key, drawn from the stack's generator on first use. */
  private hashKey = -1;
  private readonly group: UdpSocket[] = [];

  constructor(private readonly host: UdpHost) {
    const k = host.counters;
    const names = ['InDatagrams', 'NoPorts', 'InErrors', 'OutDatagrams', 'RcvbufErrors', 'InCsumErrors'];
    this.c = [names.map((n) => k.id(`Udp${n}`)), names.map((n) => k.id(`Udp6${n}`))];
    this.ignoredMulti = k.id('UdpIgnoredMulti');
    host.ip.register(IPPROTO_UDP, this);
  }

  socket(family: 4 | 6): UdpSocket {
    return new UdpSocket(this, family);
  }

  private inc(family: 4 | 6, which: number): void {
    this.host.counters.inc(this.c[family === 4 ? 0 : 1][which]);
  }

  // ---- helpers for sockets -------------------------------------------------------

  sysctlV6only(): boolean {
    return this.host.sysctl.v['net.ipv6.bindv6only'] !== 0;
  }

  defaultRcvbuf(): number {
    return this.host.sysctl.v['net.core.rmem_default'];
  }

  rmemMax(): number {
    return this.host.sysctl.v['net.core.rmem_max'];
  }

  randomId(): number {
    return this.host.rng.u32() & 0xffff;
  }

  countInDatagram(family: 4 | 6): void {
    this.inc(family, 0);
  }

  // ---- bind / connect --------------------------------------------------------------

  bind(sock: UdpSocket, addr: IpAddr | null, port: number): void {
    let a = addr;
    if (a !== null) {
      if (sock.family === 4 && a.length !== 4) throw new SysError('EAFNOSUPPORT', 'bind');
      if (sock.family === 6 && a.length === 4) a = v4Mapped(a);
      if (isUnspecified(a)) a = null;
    }
    if (a !== null) {
      const local = isV4Mapped(a) ? a.subarray(12) : a;
      if (isV4Mapped(a) && sock.v6only) throw new SysError('EINVAL', 'bind');
      if (!this.host.ip.isLocal(local) && this.host.sysctl.v['net.ipv4.ip_nonlocal_bind'] === 0)
        throw new SysError('EADDRNOTAVAIL', 'bind');
    }
    sock.laddr = a === null ? null : a.slice();
    if (port === 0) port = this.pickPort(sock);
    else if (this.conflicts(sock, port)) {
      sock.laddr = null;
      throw new SysError('EADDRINUSE', 'bind');
    }
    sock.lport = port;
    let list = this.ports.get(port);
    if (list === undefined) {
      list = [];
      this.ports.set(port, list);
    }
    list.push(sock);
  }

  unbind(sock: UdpSocket): void {
    if (sock.lport === 0) return;
    const list = this.ports.get(sock.lport);
    if (list !== undefined) {
      const i = list.indexOf(sock);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.ports.delete(sock.lport);
    }
    sock.lport = 0;
  }

  /**
   * An ephemeral port from net.ipv4.ip_local_port_range: a random start, then
   * the first free port going up (Linux also starts at a random point in the
   * range; its exact stride over hash slots is not reproduced).
   */
  private pickPort(sock: UdpSocket): number {
    const [lo, hi] = this.host.sysctl.v['net.ipv4.ip_local_port_range'];
    const n = hi - lo + 1;
    const start = this.host.rng.below(n);
    for (let i = 0; i < n; i++) {
      const p = lo + ((start + i) % n);
      if (!this.conflicts(sock, p)) return p;
    }
    sock.laddr = null;
    throw new SysError('EAGAIN', 'bind', 'no free ephemeral port');
  }

  /** Would binding `sock` to (sock.laddr, port) clash with a socket already there? */
  private conflicts(sock: UdpSocket, port: number): boolean {
    const list = this.ports.get(port);
    if (list === undefined) return false;
    for (const s of list) {
      if (s === sock) continue;
      if (s.reuseAddr && sock.reuseAddr) continue;
      if (s.reusePort && sock.reusePort) continue;
      if (overlaps(s, sock)) return true;
    }
    return false;
  }

  connect(sock: UdpSocket, addr: IpAddr, port: number): void {
    let dst = addr;
    if (sock.family === 4 && dst.length !== 4) throw new SysError('EAFNOSUPPORT', 'connect');
    if (sock.family === 6 && dst.length === 4) dst = v4Mapped(dst);
    const wireDst = isV4Mapped(dst) ? dst.subarray(12) : dst;
    if (isV4Mapped(dst) && sock.v6only) throw new SysError('ENETUNREACH', 'connect');
    const laddr4 = sock.laddr !== null && isV4Mapped(sock.laddr) ? sock.laddr.subarray(12) : sock.laddr;
    const r = this.host.ip.route(wireDst, laddr4 ?? undefined);
    if (r === null) throw new SysError('ENETUNREACH', 'connect');
    // inet_dgram_connect autobinds first; ip4_datagram_connect then fixes the
    // local address to the route's source when the socket was unbound.
    if (sock.lport === 0) this.bind(sock, null, 0);
    if (sock.laddr === null) sock.laddr = sock.family === 6 ? v4Mapped(r.src) : r.src.slice();
    sock.raddr = dst.slice();
    sock.rport = port;
    sock.inetId = this.randomId();
  }

  // ---- output ------------------------------------------------------------------------

  send(sock: UdpSocket, data: Uint8Array, addr: IpAddr, port: number): number {
    if (port === 0) throw new SysError('EINVAL', 'sendto');
    let dst = addr;
    if (sock.family === 4 && dst.length !== 4) throw new SysError('EAFNOSUPPORT', 'sendto');
    if (sock.family === 6 && dst.length === 4) dst = v4Mapped(dst);
    const mapped = isV4Mapped(dst);
    if (mapped && sock.v6only) throw new SysError('ENETUNREACH', 'sendto');
    const wireDst = mapped ? dst.subarray(12) : dst;
    const v4 = wireDst.length === 4;
    const fam: 4 | 6 = v4 ? 4 : 6;
    const max = v4 ? 65535 - 20 - UDP_HEADER_LEN : 65535 - UDP_HEADER_LEN;
    if (data.length > max) throw new SysError('EMSGSIZE', 'sendto');
    if (sock.lport === 0) this.bind(sock, null, 0);
    let src: IpAddr | null = sock.laddr;
    if (src !== null && isV4Mapped(src)) src = src.subarray(12);
    if (src !== null && src.length !== wireDst.length) throw new SysError('ENETUNREACH', 'sendto');
    const r = this.host.ip.route(wireDst, src ?? undefined);
    if (r === null) throw new SysError('ENETUNREACH', 'sendto');
    // Linux udp_sendmsg: a broadcast destination needs SO_BROADCAST.
    if (v4 && !sock.broadcast && this.host.ip.isBroadcast(wireDst)) throw new SysError('EACCES', 'sendto');
    if (src === null) src = r.src;
    const ip = this.host.ip;
    const hr = ip.headroom(fam);
    const ulen = UDP_HEADER_LEN + data.length;
    if (this.out.length < hr + ulen) this.out = new Uint8Array(Math.max(hr + ulen, this.out.length * 2));
    const b = this.out;
    b[hr] = sock.lport >> 8;
    b[hr + 1] = sock.lport;
    b[hr + 2] = port >> 8;
    b[hr + 3] = port;
    b[hr + 4] = ulen >> 8;
    b[hr + 5] = ulen;
    b.set(data, hr + UDP_HEADER_LEN);
    udpFillChecksum(b, hr, ulen, pseudoSum(src, wireDst, IPPROTO_UDP, ulen));
    // Linux IP_PMTUDISC_WANT (the default with ip_no_pmtu_disc = 0): DF when
    // the datagram fits the path MTU, local fragmentation when it does not.
    const df = hr + ulen <= r.mtu;
    const connected = sock.raddr !== null;
    let id: number | undefined;
    if (v4 && connected) {
      id = sock.inetId;
      sock.inetId = (sock.inetId + 1) & 0xffff;
    }
    const err = ip.output(b, hr, ulen, IPPROTO_UDP, src, wireDst, {
      df: v4 ? df : false,
      id,
      ttl: sock.ttl >= 0 ? sock.ttl : undefined,
      tos: sock.tos,
    });
    if (err !== 0) throw new SysError(errnoCode(err) ?? 'EIO', 'sendto');
    this.inc(fam, 3);
    return data.length;
  }

  // ---- input ---------------------------------------------------------------------------

  input(rx: IpRx, buf: Uint8Array, off: number, len: number): void {
    const fam = rx.family;
    const h = this.hdr;
    if (parseUdp(buf, h, off, len) !== null) {
      this.inc(fam, 2);
      return;
    }
    if (!udpChecksumOk(buf, off, h.length, pseudoSum(rx.src, rx.dst, IPPROTO_UDP, h.length), fam)) {
      this.inc(fam, 5);
      this.inc(fam, 2);
      return;
    }
    if (rx.broadcast) {
      this.deliverBroadcast(rx, buf);
      return;
    }
    const sock = this.lookup(rx.dst, h.dstPort, rx.src, h.srcPort);
    if (sock === null) {
      this.inc(fam, 1);
      this.host.ip.portUnreachable(rx);
      return;
    }
    this.enqueue(sock, rx, buf);
  }

  private enqueue(sock: UdpSocket, rx: IpRx, buf: Uint8Array): void {
    const h = this.hdr;
    const fam = rx.family;
    // Linux 6.x __udp_enqueue_schedule_skb: refused when charging it would
    // take the socket past SO_RCVBUF (measured: test/udp/kernel-bind.test.ts).
    const charge = datagramTruesize(rx.pktLen);
    if (sock.queued + charge > sock.rcvbuf) {
      this.inc(fam, 4);
      this.inc(fam, 2);
      return;
    }
    sock.queued += charge;
    sock.charges.push(charge);
    sock.queue.push({
      data: buf.slice(h.payloadOff, h.payloadOff + h.payloadLen),
      addr: sock.family === 6 && fam === 4 ? v4Mapped(rx.src) : rx.src.slice(),
      port: h.srcPort,
    });
    this.host.wake(sock);
  }

  /**
   * A datagram to a broadcast (or multicast) address goes to every socket on
   * the port that is bound to the wildcard or to that address (and, when
   * connected, to this sender); none: UdpIgnoredMulti, and never an ICMP error
   * (Linux __udp4_lib_mcast_deliver).
   */
  private deliverBroadcast(rx: IpRx, buf: Uint8Array): void {
    const h = this.hdr;
    const list = this.ports.get(h.dstPort);
    let n = 0;
    if (list !== undefined) {
      for (const s of list.slice()) {
        if (rx.family === 4 ? s.family === 6 && s.v6only : s.family === 4) continue;
        if (s.laddr !== null && !sameAddr(s.laddr, rx.dst)) continue;
        if (s.raddr !== null && (!sameAddr(s.raddr, rx.src) || s.rport !== h.srcPort)) continue;
        this.enqueue(s, rx, buf);
        n++;
      }
    }
    if (n === 0) this.host.counters.inc(this.ignoredMulti);
  }

  /**
   * The socket for a datagram to (daddr, dport) from (saddr, sport): the
   * highest score wins (Linux compute_score: an IPv4 socket beats a dual-stack
   * one; a bound address and a connected peer each make a match more specific).
   */
  lookup(daddr: IpAddr, dport: number, saddr: IpAddr, sport: number): UdpSocket | null {
    const list = this.ports.get(dport);
    if (list === undefined) return null;
    let best: UdpSocket | null = null;
    let bestScore = -1;
    const v4 = daddr.length === 4;
    for (const s of list) {
      let score: number;
      if (v4) {
        if (s.family === 4) score = 2;
        else if (s.v6only) continue;
        else score = 1;
      } else {
        if (s.family === 4) continue;
        score = 1;
      }
      if (s.laddr !== null) {
        if (!sameAddr(s.laddr, daddr)) continue;
        score += 4;
      }
      if (s.raddr !== null) {
        if (!sameAddr(s.raddr, saddr)) continue;
        score += 4;
        if (s.rport !== sport) continue;
        score += 4;
      }
      if (score > bestScore) {
        best = s;
        bestScore = score;
      }
    }
    if (best?.reusePort && best.raddr === null)
      return this.reuseportSelect(list, best, daddr, dport, saddr, sport);
    return best;
  }

  /**
   * SO_REUSEPORT: unconnected sockets bound to the same address and port
   * form a group (in bind order); a flow's hash picks one, so one 4-tuple
   * always reaches the same socket (Linux reuseport_select_sock with
   * reciprocal_scale; the hash key here comes from the stack's generator).
   */
  private reuseportSelect(
    list: UdpSocket[],
    first: UdpSocket,
    daddr: IpAddr,
    dport: number,
    saddr: IpAddr,
    sport: number,
  ): UdpSocket {
    const group = this.group;
    group.length = 0;
    for (const s of list) {
      if (!s.reusePort || s.raddr !== null || s.family !== first.family) continue;
      if (s.laddr === null ? first.laddr !== null : first.laddr === null || !addrEquals(s.laddr, first.laddr))
        continue;
      group.push(s);
    }
    if (group.length < 2) return first;
    if (this.hashKey < 0) this.hashKey = this.host.rng.u32();
    let h = this.hashKey ^ ((dport << 16) | sport);
    for (const a of [saddr, daddr])
      for (let i = 0; i < a.length; i += 4) {
        h = Math.imul(h ^ ((a[i] << 24) | (a[i + 1] << 16) | (a[i + 2] << 8) | a[i + 3]), 0x9e3779b1);
        h ^= h >>> 15;
      }
    h = Math.imul(h ^ (h >>> 13), 0x85ebca6b) >>> 0;
    return group[Math.floor((h * group.length) / 4294967296)];
  }

  icmpError(err: IcmpErr): boolean {
    // The quoted datagram went from (src, sport) to (dst, dport): find the
    // socket that would receive the reply.
    const sock = this.lookup(err.src, err.sport, err.dst, err.dport);
    if (sock === null) return false;
    const pmtu =
      (err.family === 4 && err.type === 3 && err.code === 4) || (err.family === 6 && err.type === 2);
    // Linux __udp4_lib_err without IP_RECVERR: only hard errors, only on connected sockets.
    if (!(err.fatal || pmtu) || sock.raddr === null) return true;
    const code = errnoCode(err.errno);
    if (
      code === 'ECONNREFUSED' ||
      code === 'EHOSTUNREACH' ||
      code === 'ENETUNREACH' ||
      code === 'EMSGSIZE' ||
      code === 'EACCES'
    )
      sock.err = code;
    else sock.err = 'EPROTO';
    this.host.wake(sock);
    return true;
  }
}

/**
 * What Linux charges a received datagram against SO_RCVBUF: the skb's
 * truesize. Small frames get their head from the small-head cache (640
 * bytes with the shared info) plus the sk_buff (256): 896; larger ones are
 * rounded up to their kmalloc bucket (frameTruesize).
 */
export function datagramTruesize(frameLen: number): number {
  const head = ((64 + frameLen + 63) & ~63) + 320;
  return head <= 640 ? 896 : frameTruesize(frameLen);
}

/** An address as stored on a socket (v4, v6 or v4-mapped) equals a packet's address. */
function sameAddr(sockAddr: IpAddr, pkt: IpAddr): boolean {
  if (sockAddr.length === pkt.length) return addrEquals(sockAddr, pkt);
  if (sockAddr.length === 16 && pkt.length === 4 && isV4Mapped(sockAddr)) {
    return (
      sockAddr[12] === pkt[0] && sockAddr[13] === pkt[1] && sockAddr[14] === pkt[2] && sockAddr[15] === pkt[3]
    );
  }
  return false;
}

/** Do two sockets' local bindings cover a common address (same port assumed)? */
function overlaps(a: UdpSocket, b: UdpSocket): boolean {
  const a4 = coversV4(a);
  const b4 = coversV4(b);
  if (a4 !== false && b4 !== false && (a4 === null || b4 === null || addrEquals(a4, b4))) return true;
  const a6 = coversV6(a);
  const b6 = coversV6(b);
  return a6 !== false && b6 !== false && (a6 === null || b6 === null || addrEquals(a6, b6));
}

/** The IPv4 address a socket is bound to (null = any), or false if it takes no IPv4. */
function coversV4(s: UdpSocket): IpAddr | null | false {
  if (s.family === 4) return s.laddr;
  if (s.laddr === null) return s.v6only ? false : null;
  return isV4Mapped(s.laddr) ? s.laddr.subarray(12) : false;
}

function coversV6(s: UdpSocket): IpAddr | null | false {
  if (s.family === 4) return false;
  if (s.laddr === null) return null;
  return isV4Mapped(s.laddr) ? false : s.laddr;
}
