/**
 * ICMP for IPv4 (RFC 792, RFC 1122 §3.2.2) and ICMPv6 (RFC 4443) on a host:
 * answers echo requests, sends errors about datagrams it cannot deliver
 * (port/protocol unreachable, reassembly time exceeded, parameter problem)
 * under Linux's rules and rate limits, and hands received errors to the
 * transport whose packet they quote (`handler.icmpError`), after updating the
 * path-MTU cache for fragmentation-needed / packet-too-big.
 */
import type { Counters } from '../counters.js';
import { ERRNO } from '../errno.js';
import type { Rng } from '../rng.js';
import type { Sysctl } from '../sysctl.js';
import type { IpAddr } from '../wire/addr.js';
import { isMulticast, isUnspecified } from '../wire/addr.js';
import {
  emitIcmp,
  finishIcmp4,
  finishIcmp6,
  ICMP_DEST_UNREACH,
  ICMP_ECHO,
  ICMP_ECHOREPLY,
  ICMP_EXC_FRAGTIME,
  ICMP_FRAG_NEEDED,
  ICMP_HEADER_LEN,
  ICMP_PARAMETERPROB,
  ICMP_PORT_UNREACH,
  ICMP_PROT_UNREACH,
  ICMP_SOURCE_QUENCH,
  ICMP_TIME_EXCEEDED,
  ICMPV6_DEST_UNREACH,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  ICMPV6_EXC_FRAGTIME,
  ICMPV6_PARAMPROB,
  ICMPV6_PKT_TOOBIG,
  ICMPV6_PORT_UNREACH,
  ICMPV6_TIME_EXCEED,
  ICMPV6_UNK_NEXTHDR,
  type IcmpHeader,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  isIcmp4Error,
  isIcmp6Error,
  newIcmpHeader,
  parseIcmp4,
  parseIcmp6,
} from '../wire/icmp.js';
import type { Ipv6Header } from '../wire/ipv6.js';
import { IcmpRateLimiter } from './icmp-ratelimit.js';
import type { NetInterface } from './interface.js';
import type { PmtuCache, PmtuSnapshot } from './pmtu.js';
import type { RouteEntry } from './route-table.js';
import type { Family, IcmpErr, IpHandler, IpLayerApi, IpOutputOpts, IpRx } from './types.js';

/** The parts of the IP layer ICMP uses (IpLayer implements it). */
export interface IcmpHost extends Pick<IpLayerApi, 'isLocal' | 'isBroadcast' | 'output'> {
  localIface(addr: IpAddr): NetInterface | null;
  lookup(dst: IpAddr): RouteEntry | null;
  selectSource(dev: NetInterface, dst: IpAddr): IpAddr | null;
  handler(proto: number): IpHandler | null;
  pmtu: PmtuCache;
  pathMtu(e: RouteEntry, dst: IpAddr): number;
}

export interface IcmpContext {
  readonly counters: Counters;
  readonly sysctl: Sysctl;
  readonly rng: Rng;
  readonly now: number;
}

/** An echo reply seen by this stack (for ping-like users and tests). */
export interface EchoReply {
  family: Family;
  from: IpAddr;
  id: number;
  seq: number;
  data: Uint8Array;
  ttl: number;
}

/** Linux icmp_err_convert[]: errno and "fatal" per ICMPv4 unreachable code. */
const UNREACH4: [number, boolean][] = [
  [ERRNO.ENETUNREACH, false], // NET_UNREACH
  [ERRNO.EHOSTUNREACH, false], // HOST_UNREACH
  [ERRNO.ENOPROTOOPT, true], // PROT_UNREACH
  [ERRNO.ECONNREFUSED, true], // PORT_UNREACH
  [ERRNO.EMSGSIZE, false], // FRAG_NEEDED
  [ERRNO.EOPNOTSUPP, false], // SR_FAILED
  [ERRNO.ENETUNREACH, true], // NET_UNKNOWN
  [ERRNO.EHOSTDOWN, true], // HOST_UNKNOWN
  [64 /* ENONET */, true], // HOST_ISOLATED
  [ERRNO.ENETUNREACH, true], // NET_ANO
  [ERRNO.EHOSTUNREACH, true], // HOST_ANO
  [ERRNO.ENETUNREACH, false], // NET_UNR_TOS
  [ERRNO.EHOSTUNREACH, false], // HOST_UNR_TOS
  [ERRNO.EHOSTUNREACH, true], // PKT_FILTERED
  [ERRNO.EHOSTUNREACH, true], // PREC_VIOLATION
  [ERRNO.EHOSTUNREACH, true], // PREC_CUTOFF
];

/** Linux icmpv6_err_convert tab_unreach[]. */
const UNREACH6: [number, boolean][] = [
  [ERRNO.ENETUNREACH, false], // NOROUTE
  [ERRNO.EACCES, true], // ADM_PROHIBITED
  [ERRNO.EHOSTUNREACH, false], // NOT_NEIGHBOUR
  [ERRNO.EHOSTUNREACH, false], // ADDR_UNREACH
  [ERRNO.ECONNREFUSED, true], // PORT_UNREACH
  [ERRNO.EACCES, true], // POLICY_FAIL
  [ERRNO.EACCES, true], // REJECT_ROUTE
];

const EPROTO = ERRNO.EPROTO;
/** RFC 1812 §4.3.2.3 / Linux: an ICMPv4 error quotes at most 576 - 28 bytes. */
const ICMP4_ERR_MAX = 576;
/** RFC 4443 §2.4(c): an ICMPv6 error fits in the minimum MTU. */
const IPV6_MIN_MTU = 1280;
/** Linux ip_rt_min_pmtu default is net.ipv4.route.min_pmtu; IPv6 never goes below 1280. */

export class IcmpService {
  /** Called for every echo reply received (ping users, tests). */
  onEchoReply: ((r: EchoReply) => void) | null = null;
  private readonly hdr: IcmpHeader = newIcmpHeader();
  private readonly limiter: IcmpRateLimiter;
  private out = new Uint8Array(2048);
  private readonly err: IcmpErr;
  private readonly ids = new Map<string, number>();
  /** [v4 in, v4 out, v6 in, v6 out][type] → [IcmpMsg id, classic id or -1]. */
  private readonly typeIds: [number, number][][] = [[], [], [], []];

  constructor(
    private readonly ip: IcmpHost,
    private readonly ctx: IcmpContext,
  ) {
    this.limiter = new IcmpRateLimiter(ctx.rng.fork());
    this.err = {
      family: 4,
      type: 0,
      code: 0,
      errno: 0,
      fatal: false,
      mtu: 0,
      from: new Uint8Array(4),
      src: new Uint8Array(4),
      dst: new Uint8Array(4),
      proto: 0,
      sport: 0,
      dport: 0,
      buf: this.out,
      off: 0,
      len: 0,
    };
    // Register the names nstat shows so that a snapshot lists them even at 0.
    for (const n of [
      'IcmpInMsgs',
      'IcmpInErrors',
      'IcmpInCsumErrors',
      'IcmpInDestUnreachs',
      'IcmpInTimeExcds',
      'IcmpInEchos',
      'IcmpInEchoReps',
      'IcmpOutMsgs',
      'IcmpOutErrors',
      'IcmpOutRateLimitGlobal',
      'IcmpOutRateLimitHost',
      'IcmpOutDestUnreachs',
      'IcmpOutTimeExcds',
      'IcmpOutEchos',
      'IcmpOutEchoReps',
      'Icmp6InMsgs',
      'Icmp6InErrors',
      'Icmp6InCsumErrors',
      'Icmp6OutMsgs',
      'Icmp6OutErrors',
      'Icmp6OutRateLimitHost',
      'Icmp6InDestUnreachs',
      'Icmp6InPktTooBigs',
      'Icmp6InTimeExcds',
      'Icmp6InEchos',
      'Icmp6InEchoReplies',
      'Icmp6OutDestUnreachs',
      'Icmp6OutTimeExcds',
      'Icmp6OutEchos',
      'Icmp6OutEchoReplies',
    ])
      this.id(n);
  }

  private id(name: string): number {
    let i = this.ids.get(name);
    if (i === undefined) {
      i = this.ctx.counters.id(name);
      this.ids.set(name, i);
    }
    return i;
  }

  private inc(name: string): void {
    this.ctx.counters.inc(this.id(name));
  }

  /** Per-type counters: IcmpMsgInType8 and the classic names (IcmpInEchos).
   *  Ids are resolved once per (family, direction, type): no strings per packet. */
  private countType(family: Family, dir: 'In' | 'Out', type: number): void {
    const slot = (family === 4 ? 0 : 2) + (dir === 'In' ? 0 : 1);
    let ids = this.typeIds[slot][type];
    if (ids === undefined) {
      const k = this.ctx.counters;
      const msg = k.id(`${family === 4 ? 'IcmpMsg' : 'Icmp6'}${dir}Type${type}`);
      const n = family === 4 ? CLASSIC4[type] : CLASSIC6[type];
      ids = [msg, n === undefined ? -1 : k.id(`${family === 4 ? 'Icmp' : 'Icmp6'}${dir}${n}`)];
      this.typeIds[slot][type] = ids;
    }
    this.ctx.counters.inc(ids[0]);
    if (ids[1] >= 0) this.ctx.counters.inc(ids[1]);
  }

  private ensureOut(n: number): Uint8Array {
    if (this.out.length < n) this.out = new Uint8Array(Math.max(n, this.out.length * 2));
    return this.out;
  }

  // ---- input -----------------------------------------------------------------

  input4(rx: IpRx, buf: Uint8Array, off: number, len: number): void {
    const h = this.hdr;
    this.inc('IcmpInMsgs');
    const err = parseIcmp4(buf, h, off, len);
    if (err !== null) {
      if (err === 'bad-checksum') this.inc('IcmpInCsumErrors');
      this.inc('IcmpInErrors');
      return;
    }
    this.countType(4, 'In', h.type);
    if (rx.broadcast) {
      // Linux icmp_rcv: to a broadcast address only echo (unless
      // icmp_echo_ignore_broadcasts) and the like are taken; the rest is an error.
      if (h.type !== ICMP_ECHO || this.ctx.sysctl.v['net.ipv4.icmp_echo_ignore_broadcasts'] !== 0) {
        this.inc('IcmpInErrors');
        return;
      }
    }
    switch (h.type) {
      case ICMP_ECHO:
        if (this.ctx.sysctl.v['net.ipv4.icmp_echo_ignore_all'] === 0) this.echoReply(rx, buf, off, len);
        return;
      case ICMP_ECHOREPLY:
        this.echoReplyIn(4, rx, h, buf, off, len);
        return;
      case ICMP_DEST_UNREACH:
      case ICMP_TIME_EXCEEDED:
      case ICMP_PARAMETERPROB:
        this.errorIn4(rx, h, buf, off, len);
        return;
      default:
        // Source quench is ignored (RFC 6633); redirects are not followed;
        // timestamps and the rest are not answered.
        return;
    }
  }

  input6(rx: IpRx, buf: Uint8Array, off: number, len: number): void {
    const h = this.hdr;
    // Linux 6.x counts InMsgs before validating, like ICMPv4 (checked with nstat).
    this.inc('Icmp6InMsgs');
    const err = parseIcmp6(buf, h, rx.src, rx.dst, off, len);
    if (err !== null) {
      if (err === 'bad-checksum') this.inc('Icmp6InCsumErrors');
      this.inc('Icmp6InErrors');
      return;
    }
    this.countType(6, 'In', h.type);
    switch (h.type) {
      case ICMPV6_ECHO_REQUEST:
        if (this.ctx.sysctl.v['net.ipv6.icmp.echo_ignore_all'] === 0) this.echoReply(rx, buf, off, len);
        return;
      case ICMPV6_ECHO_REPLY:
        this.echoReplyIn(6, rx, h, buf, off, len);
        return;
      case ICMPV6_DEST_UNREACH:
      case ICMPV6_PKT_TOOBIG:
      case ICMPV6_TIME_EXCEED:
      case ICMPV6_PARAMPROB:
        this.errorIn6(rx, h, buf, off, len);
        return;
      default:
        // Neighbour Discovery, MLD and the rest: raw-IP links have no
        // neighbours to discover; nothing to do.
        return;
    }
  }

  /** An echo reply to one of our pings: handed to `onEchoReply` (copies: `buf` is the link's). */
  private echoReplyIn(
    family: Family,
    rx: IpRx,
    h: IcmpHeader,
    buf: Uint8Array,
    off: number,
    len: number,
  ): void {
    this.onEchoReply?.({
      family,
      from: rx.src.slice(),
      id: h.id,
      seq: h.seq,
      data: buf.slice(off + ICMP_HEADER_LEN, off + len),
      ttl: rx.ttl,
    });
  }

  /** RFC 792 / RFC 1122 §3.2.2: an error quotes the IP header + at least 8 bytes. */
  private errorIn4(rx: IpRx, h: IcmpHeader, buf: Uint8Array, off: number, len: number): void {
    const q = off + ICMP_HEADER_LEN;
    const qlen = len - ICMP_HEADER_LEN;
    if (qlen < 20 || buf[q] >> 4 !== 4) {
      this.inc('IcmpInErrors');
      return;
    }
    const ihl = (buf[q] & 0x0f) * 4;
    if (ihl < 20 || ihl + 8 > qlen) {
      this.inc('IcmpInErrors');
      return;
    }
    const e = this.err;
    e.family = 4;
    e.type = h.type;
    e.code = h.code;
    e.mtu = 0;
    if (h.type === ICMP_DEST_UNREACH) {
      if (h.code > 15) return;
      [e.errno, e.fatal] = UNREACH4[h.code];
    } else if (h.type === ICMP_TIME_EXCEEDED) {
      e.errno = ERRNO.EHOSTUNREACH;
      e.fatal = false;
    } else {
      e.errno = EPROTO;
      e.fatal = true;
    }
    const src = buf.subarray(q + 12, q + 16);
    const dst = buf.subarray(q + 16, q + 20);
    const pmtuMsg = h.type === ICMP_DEST_UNREACH && h.code === ICMP_FRAG_NEEDED;
    this.quotedError(rx, h.mtu, pmtuMsg, buf[q + 9], src, dst, buf, q + ihl, qlen - ihl);
  }

  private errorIn6(rx: IpRx, h: IcmpHeader, buf: Uint8Array, off: number, len: number): void {
    const q = off + ICMP_HEADER_LEN;
    const qlen = len - ICMP_HEADER_LEN;
    if (qlen < 40 || buf[q] >> 4 !== 6) {
      this.inc('Icmp6InErrors');
      return;
    }
    const p = this.transportAt6(buf, q, qlen);
    if (p < 0) return;
    const nh = this.nextHeader;
    if (p + 8 > qlen) {
      this.inc('Icmp6InErrors');
      return;
    }
    const e = this.err;
    e.family = 6;
    e.type = h.type;
    e.code = h.code;
    e.mtu = 0;
    if (h.type === ICMPV6_DEST_UNREACH) {
      [e.errno, e.fatal] = h.code < UNREACH6.length ? UNREACH6[h.code] : [EPROTO, true];
    } else if (h.type === ICMPV6_PKT_TOOBIG) {
      e.errno = ERRNO.EMSGSIZE;
      e.fatal = false;
    } else if (h.type === ICMPV6_TIME_EXCEED) {
      e.errno = ERRNO.EHOSTUNREACH;
      e.fatal = false;
    } else {
      e.errno = EPROTO;
      e.fatal = true;
    }
    const src = buf.subarray(q + 8, q + 24);
    const dst = buf.subarray(q + 24, q + 40);
    this.quotedError(rx, h.mtu, h.type === ICMPV6_PKT_TOOBIG, nh, src, dst, buf, q + p, qlen - p);
  }

  /**
   * The common end of errorIn4/errorIn6, with `this.err` filled: the quoted
   * packet went `src` → `dst` carrying `proto` at `buf[at .. at+n)`.
   * `pmtuMsg`: frag-needed / packet-too-big reporting `mtu`.
   */
  private quotedError(
    rx: IpRx,
    mtu: number,
    pmtuMsg: boolean,
    proto: number,
    src: IpAddr,
    dst: IpAddr,
    buf: Uint8Array,
    at: number,
    n: number,
  ): void {
    const e = this.err;
    // Only errors about packets we could have sent: from one of our addresses.
    if (!this.ip.isLocal(src)) return;
    let snap: PmtuSnapshot | null = null;
    if (pmtuMsg) {
      snap = this.ip.pmtu.snapshot(dst, this.ctx.now);
      e.mtu = this.updatePmtu(dst, mtu, e.family);
      if (e.mtu === 0) return;
    }
    // Linux lowers the path MTU only from a transport's error handler that
    // found the socket (udp_err / tcp_v4_err, udpv6_err / tcp_v6_err): undo it when none did.
    if (!this.deliverError(e, rx, proto, src, dst, buf, at, n) && snap !== null)
      this.ip.pmtu.restore(dst, snap);
  }

  /**
   * Lower the path MTU towards `dst` (Linux __ip_rt_update_pmtu: an IPv4 value
   * below route.min_pmtu becomes min_pmtu; never raised by ICMP). Returns the MTU now
   * in force for `dst`, or 0 when there is no route.
   */
  private updatePmtu(dst: IpAddr, reported: number, family: Family): number {
    const e = this.ip.lookup(dst);
    if (e === null) return 0;
    const now = this.ctx.now;
    const old = this.ip.pathMtu(e, dst);
    const sc = this.ctx.sysctl.v;
    // IPv6: a Packet Too Big below the minimum MTU changes nothing (RFC 8021
    // deprecates the atomic fragments it used to ask for; Linux ignores it).
    if (family === 6 && reported < IPV6_MIN_MTU) return old;
    const min = family === 4 ? sc['net.ipv4.route.min_pmtu'] : IPV6_MIN_MTU;
    let mtu = reported;
    if (mtu < min) mtu = Math.min(old, min);
    if (mtu >= old) return old;
    const life = 1000 * (family === 4 ? sc['net.ipv4.route.mtu_expires'] : sc['net.ipv6.route.mtu_expires']);
    this.ip.pmtu.set(dst, mtu, now, life);
    return mtu;
  }

  private deliverError(
    e: IcmpErr,
    rx: IpRx,
    proto: number,
    src: Uint8Array,
    dst: Uint8Array,
    buf: Uint8Array,
    toff: number,
    tlen: number,
  ): boolean {
    const handler = this.ip.handler(proto);
    if (handler === null) return false;
    e.from = rx.src;
    e.src = src;
    e.dst = dst;
    e.proto = proto;
    e.sport = (buf[toff] << 8) | buf[toff + 1];
    e.dport = (buf[toff + 2] << 8) | buf[toff + 3];
    e.buf = buf;
    e.off = toff;
    e.len = tlen;
    if (handler.icmpError(e) === false) {
      this.inc(e.family === 4 ? 'IcmpInErrors' : 'Icmp6InErrors');
      return false;
    }
    return true;
  }

  // ---- echo ------------------------------------------------------------------

  private echoReply(rx: IpRx, buf: Uint8Array, off: number, len: number): void {
    const v4 = rx.family === 4;
    const dst = rx.src;
    let src: IpAddr | null = rx.dst;
    if (rx.broadcast) {
      // A ping to a broadcast (v4) or ff02::1 (v6) is answered from a unicast
      // address (RFC 1122 §3.2.2.6, RFC 4443 §4.2).
      const e = this.ip.lookup(dst);
      src = e === null ? null : this.ip.selectSource(e.dev, dst);
      if (src === null) return;
    }
    if (isUnspecified(dst) || isMulticast(dst)) return;
    const hr = v4 ? 20 : 40;
    const out = this.ensureOut(hr + len);
    out.set(buf.subarray(off, off + len), hr);
    out[hr] = v4 ? ICMP_ECHOREPLY : ICMPV6_ECHO_REPLY;
    out[hr + 1] = 0;
    if (v4) finishIcmp4(out, hr, len);
    else finishIcmp6(out, hr, len, src, dst);
    // Linux icmp_reply / icmpv6_echo_reply keep the request's TOS / traffic class.
    const r = this.ip.output(out, hr, len, v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6, src, dst, { tos: rx.tos });
    if (r === 0) {
      this.inc(v4 ? 'IcmpOutMsgs' : 'Icmp6OutMsgs');
      this.countType(rx.family, 'Out', v4 ? ICMP_ECHOREPLY : ICMPV6_ECHO_REPLY);
    }
  }

  /**
   * Send an echo request (what `ping` does). Returns 0 or an errno number.
   * `src` defaults to the route's source address.
   */
  sendEcho(
    dst: IpAddr,
    id: number,
    seq: number,
    data: Uint8Array,
    src?: IpAddr,
    opts?: IpOutputOpts,
  ): number {
    const v4 = dst.length === 4;
    let s = src ?? null;
    if (s === null) {
      if (this.ip.isLocal(dst)) s = dst;
      else {
        const e = this.ip.lookup(dst);
        s = e === null ? null : (e.src ?? this.ip.selectSource(e.dev, dst));
      }
      if (s === null) return ERRNO.ENETUNREACH;
    }
    const hr = v4 ? 20 : 40;
    const len = ICMP_HEADER_LEN + data.length;
    const out = this.ensureOut(hr + len);
    const h = this.hdr;
    h.type = v4 ? ICMP_ECHO : ICMPV6_ECHO_REQUEST;
    h.code = 0;
    h.id = id;
    h.seq = seq;
    emitIcmp(h, out, hr, v4 ? 4 : 6);
    out.set(data, hr + ICMP_HEADER_LEN);
    if (v4) finishIcmp4(out, hr, len);
    else finishIcmp6(out, hr, len, s, dst);
    const r = this.ip.output(out, hr, len, v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6, s, dst, opts);
    if (r === 0) {
      this.inc(v4 ? 'IcmpOutMsgs' : 'Icmp6OutMsgs');
      this.countType(v4 ? 4 : 6, 'Out', h.type);
    }
    return r;
  }

  // ---- errors we send ------------------------------------------------------------

  portUnreachable(rx: IpRx): void {
    if (rx.family === 4)
      this.sendError4(rx.pkt, rx.pktOff, rx.pktLen, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0);
    else this.sendError6(rx.pkt, rx.pktOff, rx.pktLen, ICMPV6_DEST_UNREACH, ICMPV6_PORT_UNREACH, 0);
  }

  /** No transport for the protocol: ICMPv4 protocol unreachable, or ICMPv6
   *  parameter problem "unrecognized Next Header" pointing at `pointer`. */
  protocolUnreachable(rx: IpRx, pointer: number): void {
    if (rx.family === 4)
      this.sendError4(rx.pkt, rx.pktOff, rx.pktLen, ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, 0);
    else this.sendError6(rx.pkt, rx.pktOff, rx.pktLen, ICMPV6_PARAMPROB, ICMPV6_UNK_NEXTHDR, pointer);
  }

  /** ICMPv6 parameter problem, erroneous header field at `pointer` (RFC 4443 §3.4). */
  paramProblem6(pkt: Uint8Array, h: Ipv6Header, off: number, pointer: number, _iface: NetInterface): void {
    this.sendError6(pkt, off, 40 + h.payloadLen, ICMPV6_PARAMPROB, 0, pointer);
  }

  /** A reassembly queue expired with its first fragment: Time Exceeded code 1. */
  reassemblyTimeout(family: Family, first: Uint8Array, _ifname: string): void {
    if (family === 4) this.sendError4(first, 0, first.length, ICMP_TIME_EXCEEDED, ICMP_EXC_FRAGTIME, 0);
    else this.sendError6(first, 0, first.length, ICMPV6_TIME_EXCEED, ICMPV6_EXC_FRAGTIME, 0);
  }

  /**
   * icmp_send(): an ICMPv4 error about `pkt[off .. off+len)` (an IPv4 packet
   * that arrived here). Not sent about non-first fragments, ICMP errors,
   * packets from unspecified/multicast/broadcast sources (RFC 1122
   * §3.2.2); rate-limited as Linux does. `rest` is the 4 type-specific bytes.
   */
  sendError4(pkt: Uint8Array, off: number, len: number, type: number, code: number, rest: number): boolean {
    if (len < 20) return false;
    const ihl = (pkt[off] & 0x0f) * 4;
    if ((((pkt[off + 6] << 8) | pkt[off + 7]) & 0x1fff) !== 0) return false;
    const osrc = pkt.subarray(off + 12, off + 16);
    const odst = pkt.subarray(off + 16, off + 20);
    if (isUnspecified(osrc) || isMulticast(osrc) || (osrc[0] & osrc[1] & osrc[2] & osrc[3]) === 255)
      return false;
    if (pkt[off + 9] === IPPROTO_ICMP) {
      if (len < ihl + 1) return false;
      const t = pkt[off + ihl];
      if (t > 18 || isIcmp4Error(t)) return false;
    }
    const src: IpAddr = this.ip.isLocal(odst) ? odst.slice() : (this.sourceFor(osrc) ?? new Uint8Array(0));
    if (src.length !== 4) return false;
    const dst = osrc.slice();
    const mtu = this.routeMtu(dst);
    if (!this.allow(4, type, code, dst)) return false;
    const qlen = Math.min(len, Math.min(mtu, ICMP4_ERR_MAX) - 20 - ICMP_HEADER_LEN);
    // Linux: errors carry the offending TOS bits with precedence "internetwork
    // control" (RT_TOS(tos) | IPTOS_PREC_INTERNETCONTROL); ICMP is sent without DF.
    const tos = (pkt[off + 1] & 0x1e) | 0xc0;
    return this.emitError(4, type, code, rest, pkt, off, qlen, src, dst, tos);
  }

  /** icmp6_send(): an ICMPv6 error about the IPv6 packet `pkt[off .. off+len)`. */
  sendError6(pkt: Uint8Array, off: number, len: number, type: number, code: number, rest: number): boolean {
    if (len < 40) return false;
    const osrc = pkt.subarray(off + 8, off + 24);
    const odst = pkt.subarray(off + 24, off + 40);
    // RFC 4443 §2.4(e): not about multicast destinations (except packet too
    // big and parameter problem code 2), nor to unspecified/multicast sources.
    if (isMulticast(odst) && type !== ICMPV6_PKT_TOOBIG && !(type === ICMPV6_PARAMPROB && code === 2))
      return false;
    if (isUnspecified(osrc) || isMulticast(osrc)) return false;
    if (this.quotesIcmp6Error(pkt, off, len)) return false;
    const src: IpAddr | null =
      this.ip.isLocal(odst) && !isMulticast(odst) ? odst.slice() : this.sourceFor(osrc);
    if (src === null || src.length !== 16) return false;
    const dst = osrc.slice();
    if (!this.allow(6, type, code, dst)) return false;
    const qlen = Math.min(len, IPV6_MIN_MTU - 40 - ICMP_HEADER_LEN);
    return this.emitError(6, type, code, rest, pkt, off, qlen, src, dst, -1);
  }

  /**
   * The common end of sendError4/sendError6: an error of `type`/`code` (`rest`:
   * the 4 type-specific bytes) quoting `pkt[off .. off+qlen)`, sent `src` → `dst`
   * (with `tos` when >= 0), and counted.
   */
  private emitError(
    family: Family,
    type: number,
    code: number,
    rest: number,
    pkt: Uint8Array,
    off: number,
    qlen: number,
    src: IpAddr,
    dst: IpAddr,
    tos: number,
  ): boolean {
    const hr = family === 4 ? 20 : 40;
    const out = this.ensureOut(hr + ICMP_HEADER_LEN + qlen);
    const h = this.hdr;
    h.type = type;
    h.code = code;
    h.rest = rest;
    h.mtu = rest;
    h.pointer = rest;
    h.id = 0;
    h.seq = 0;
    emitIcmp(h, out, hr, family);
    out.set(pkt.subarray(off, off + qlen), hr + ICMP_HEADER_LEN);
    const n = ICMP_HEADER_LEN + qlen;
    if (family === 4) finishIcmp4(out, hr, n);
    else finishIcmp6(out, hr, n, src, dst);
    const proto = family === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
    const r = this.ip.output(out, hr, n, proto, src, dst, tos >= 0 ? { tos } : undefined);
    if (r !== 0) {
      this.inc(family === 4 ? 'IcmpOutErrors' : 'Icmp6OutErrors');
      return false;
    }
    this.inc(family === 4 ? 'IcmpOutMsgs' : 'Icmp6OutMsgs');
    this.countType(family, 'Out', type);
    return true;
  }

  /** Linux is_ineligible(): never answer an ICMPv6 error (or an unparsable one) with an error. */
  private quotesIcmp6Error(pkt: Uint8Array, off: number, len: number): boolean {
    const p = this.transportAt6(pkt, off, len);
    if (p < 0 || this.nextHeader !== IPPROTO_ICMPV6) return false;
    if (p + 1 > len) return true;
    return isIcmp6Error(pkt[off + p]);
  }

  /** Set by transportAt6: the protocol of the header it stopped at. */
  private nextHeader = 0;

  /**
   * Walk the extension headers (hop-by-hop, routing, fragment, destination
   * options, AH) of the IPv6 packet at `buf[off .. off+len)` to its transport
   * header: its offset from `off`, with its protocol in `nextHeader`; -1 when
   * a header runs past `len` or the packet is a non-first fragment.
   */
  private transportAt6(buf: Uint8Array, off: number, len: number): number {
    let nh = buf[off + 6];
    let p = 40;
    for (let i = 0; i < 8 && (nh === 0 || nh === 43 || nh === 44 || nh === 60 || nh === 51); i++) {
      if (p + 8 > len) return -1;
      const at = off + p;
      if (nh === 44 && ((buf[at + 2] << 8) | buf[at + 3]) & 0xfff8) return -1; // not the first fragment
      const hl = nh === 44 ? 8 : nh === 51 ? (buf[at + 1] + 2) * 4 : (buf[at + 1] + 1) * 8;
      nh = buf[at];
      p += hl;
    }
    this.nextHeader = nh;
    return p;
  }

  private sourceFor(dst: IpAddr): IpAddr | null {
    const e = this.ip.lookup(dst);
    return e === null ? null : (e.src ?? this.ip.selectSource(e.dev, dst));
  }

  private routeMtu(dst: IpAddr): number {
    if (this.ip.isLocal(dst)) return 65536;
    const e = this.ip.lookup(dst);
    return e === null ? 576 : this.ip.pathMtu(e, dst);
  }

  /** Linux icmp_ratemask / icmpv6 ratemask, global credit, then per-host bucket. */
  private allow(family: Family, type: number, code: number, dst: IpAddr): boolean {
    let limited: boolean;
    if (family === 4) {
      // net.ipv4.icmp_ratemask default 6168: types 3, 4, 11, 12; frag-needed never limited.
      limited =
        (type === ICMP_DEST_UNREACH && code !== ICMP_FRAG_NEEDED) ||
        type === ICMP_SOURCE_QUENCH ||
        type === ICMP_TIME_EXCEEDED ||
        type === ICMP_PARAMETERPROB;
    } else {
      // net.ipv6.icmp.ratemask default 0-1,3-127: every error but packet too big.
      limited = type < 128 && type !== ICMPV6_PKT_TOOBIG;
    }
    if (!limited) return true;
    const now = this.ctx.now;
    const sc = this.ctx.sysctl.v;
    if (!this.limiter.globalAllow(now, sc['net.ipv4.icmp_msgs_per_sec'], sc['net.ipv4.icmp_msgs_burst'])) {
      this.inc('IcmpOutRateLimitGlobal');
      return false;
    }
    // No per-host limit towards ourselves (Linux: loopback device).
    if (!this.ip.isLocal(dst)) {
      let interval: number;
      if (family === 4) interval = sc['net.ipv4.icmp_ratelimit'];
      else {
        interval = sc['net.ipv6.icmp.ratelimit'];
        const e = this.ip.lookup(dst);
        const plen = e === null ? 128 : e.prefixLen;
        if (plen < 128) interval = Math.floor(interval / 2 ** ((128 - plen) >> 5));
      }
      if (!this.limiter.hostAllow(dst, now, interval)) {
        this.inc(family === 4 ? 'IcmpOutRateLimitHost' : 'Icmp6OutRateLimitHost');
        return false;
      }
    }
    this.limiter.globalConsume();
    return true;
  }
}

/** The classic per-type names (/proc/net/snmp Icmp: InEchos, OutDestUnreachs, ...). */
const CLASSIC4: Record<number, string> = {
  0: 'EchoReps',
  3: 'DestUnreachs',
  4: 'SrcQuenchs',
  5: 'Redirects',
  8: 'Echos',
  11: 'TimeExcds',
  12: 'ParmProbs',
  13: 'Timestamps',
  14: 'TimestampReps',
};
const CLASSIC6: Record<number, string> = {
  1: 'DestUnreachs',
  2: 'PktTooBigs',
  3: 'TimeExcds',
  4: 'ParmProblems',
  128: 'Echos',
  129: 'EchoReplies',
};
