/**
 * The IP layer of one stack: interfaces and addresses, the route tables, the
 * path-MTU cache, IPv4/IPv6 input (validation, local-address check,
 * reassembly, demultiplexing to the registered transports and ICMP) and
 * output (header, fragmentation, transmit). usnet is a host, not a router
 * (ip_forward = 0): datagrams for other addresses are dropped and counted.
 */
import type { Counters } from '../counters.js';
import { ERRNO } from '../errno.js';
import type { Link } from '../link/link.js';
import type { Rng } from '../rng.js';
import type { Sysctl } from '../sysctl.js';
import type { TimerWheel } from '../time/timer-wheel.js';
import {
  type IpAddr,
  isLoopback,
  isMulticast,
  maskAddr,
  parsePrefix,
  prefixMatch,
  v4ToU32,
} from '../wire/addr.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6 } from '../wire/icmp.js';
import { emitIpv4Fast, IPV4_HEADER_LEN, type Ipv4Header, newIpv4Header, parseIpv4 } from '../wire/ipv4.js';
import {
  emitIpv6Fast,
  emitIpv6Fragment,
  IPV6_FRAG_HEADER_LEN,
  IPV6_HEADER_LEN,
  type Ipv6Header,
  NEXTHDR_FRAGMENT,
  NEXTHDR_NONE,
  newIpv6Header,
  parseIpv6,
} from '../wire/ipv6.js';
import { IcmpService } from './icmp-service.js';
import { type IfAddr, NetInterface } from './interface.js';
import { LocalLink } from './local-link.js';
import { PmtuCache } from './pmtu.js';
import { Reassembler } from './reassembly.js';
import { type RouteEntry, RouteTable } from './route-table.js';
import type { Family, IpHandler, IpLayerApi, IpOutputOpts, IpRx, Route } from './types.js';

/** What the IP layer needs from the stack that owns it (no import of Stack: no cycle). */
export interface IpContext {
  readonly counters: Counters;
  readonly sysctl: Sysctl;
  readonly rng: Rng;
  readonly timers: TimerWheel;
  readonly now: number;
}

export interface InterfaceOptions {
  /** "198.18.0.1/24", "fd00::1/64"; a bare address means /32 or /128. */
  addrs?: string[];
  /** Defaults to the link's MTU. */
  mtu?: number;
  /** Treat as a loopback device (default: name === 'lo'). */
  loopback?: boolean;
}

export interface RouteOptions {
  dev: string;
  via?: string;
  src?: string;
  metric?: number;
  mtu?: number;
}

const MAX_PACKET = 65535 + IPV4_HEADER_LEN + IPV6_HEADER_LEN;

export class IpLayer implements IpLayerApi {
  readonly interfaces = new Map<string, NetInterface>();
  readonly routes4 = new RouteTable();
  readonly routes6 = new RouteTable();
  readonly pmtu: PmtuCache;
  readonly icmp: IcmpService;
  readonly reasm: Reassembler;
  /** The built-in loopback device `lo` (127.0.0.1/8, ::1/128). */
  readonly lo: NetInterface;
  private readonly loLink: LocalLink;
  /** Interfaces in an array too: the packet path iterates without an iterator object. */
  private readonly ifList: NetInterface[] = [];
  /** Local addresses: IPv4 by number, IPv6 in a short list, loopback prefixes (127/8, ::1). */
  private readonly localV4 = new Map<number, NetInterface>();
  private readonly localV6: { addr: IpAddr; iface: NetInterface }[] = [];
  private readonly loPrefixes: { addr: IpAddr; prefixLen: number; iface: NetInterface }[] = [];
  /** MTU of the device outDev() last chose (saves an object per packet). */
  private outMtu = 0;
  /**
   * One-entry cache of outDev() for IPv4 (Linux keeps the route in the
   * socket; a stream of segments goes to one destination): the address as a
   * number, the configuration it was computed under (routeVersion()), and
   * the route entry (null: a local destination, via lo).
   */
  private rcKey = -1;
  private rcVersion = -1;
  private rcEntry: RouteEntry | null = null;
  /** Bumped when the local-address indexes are rebuilt. */
  private addrVersion = 0;
  /** The last IPv4 address isLocalV4() found local (as a number), and the addrVersion it was found under. */
  private localKey = -1;
  private localKeyVersion = -1;
  private readonly handlers: (IpHandler | null)[] = new Array<IpHandler | null>(256).fill(null);
  /** Counter ids by ECN codepoint (RFC 3168 §5: Not-ECT, ECT(1), ECT(0), CE): IPv4 at 0..3, IPv6 at 4..7. */
  private readonly ecnIn: Int32Array;
  private readonly h4: Ipv4Header = newIpv4Header();
  private readonly h6: Ipv6Header = newIpv6Header();
  private readonly rx: IpRx;
  /** Fragments are built here, one at a time (links copy what they queue). */
  private readonly scratch = new Uint8Array(MAX_PACKET);
  private ipId: number;
  private ip6Id: number;
  private readonly flowSecret: number;
  private nextIfIndex = 1;
  private readonly c: {
    InReceives: number;
    InHdrErrors: number;
    InAddrErrors: number;
    InTruncated: number;
    InBcastPkts: number;
    InCsumErrors: number;
    InUnknownProtos: number;
    InDelivers: number;
    InOctets: number;
    OutRequests: number;
    OutNoRoutes: number;
    OutOctets: number;
    FragOKs: number;
    FragFails: number;
    FragCreates: number;
    In6Receives: number;
    In6HdrErrors: number;
    In6AddrErrors: number;
    In6Truncated: number;
    In6UnknownProtos: number;
    In6Delivers: number;
    In6Octets: number;
    Out6Requests: number;
    Out6NoRoutes: number;
    Out6Octets: number;
    Frag6OKs: number;
    Frag6Fails: number;
    Frag6Creates: number;
  };

  constructor(private readonly ctx: IpContext) {
    const k = ctx.counters;
    this.c = {
      InReceives: k.id('IpInReceives'),
      InHdrErrors: k.id('IpInHdrErrors'),
      InAddrErrors: k.id('IpInAddrErrors'),
      InTruncated: k.id('IpExtInTruncatedPkts'),
      InBcastPkts: k.id('IpExtInBcastPkts'),
      InCsumErrors: k.id('IpExtInCsumErrors'),
      InUnknownProtos: k.id('IpInUnknownProtos'),
      InDelivers: k.id('IpInDelivers'),
      InOctets: k.id('IpExtInOctets'),
      OutRequests: k.id('IpOutRequests'),
      OutNoRoutes: k.id('IpOutNoRoutes'),
      OutOctets: k.id('IpExtOutOctets'),
      FragOKs: k.id('IpFragOKs'),
      FragFails: k.id('IpFragFails'),
      FragCreates: k.id('IpFragCreates'),
      In6Receives: k.id('Ip6InReceives'),
      In6HdrErrors: k.id('Ip6InHdrErrors'),
      In6AddrErrors: k.id('Ip6InAddrErrors'),
      In6Truncated: k.id('Ip6InTruncatedPkts'),
      In6UnknownProtos: k.id('Ip6InUnknownProtos'),
      In6Delivers: k.id('Ip6InDelivers'),
      In6Octets: k.id('Ip6InOctets'),
      Out6Requests: k.id('Ip6OutRequests'),
      Out6NoRoutes: k.id('Ip6OutNoRoutes'),
      Out6Octets: k.id('Ip6OutOctets'),
      Frag6OKs: k.id('Ip6FragOKs'),
      Frag6Fails: k.id('Ip6FragFails'),
      Frag6Creates: k.id('Ip6FragCreates'),
    };
    // Linux ip_rcv_core / ipv6_rcv count every received packet by its ECN field (IpExt.../Ip6In...Pkts).
    this.ecnIn = new Int32Array([
      k.id('IpExtInNoECTPkts'),
      k.id('IpExtInECT1Pkts'),
      k.id('IpExtInECT0Pkts'),
      k.id('IpExtInCEPkts'),
      k.id('Ip6InNoECTPkts'),
      k.id('Ip6InECT1Pkts'),
      k.id('Ip6InECT0Pkts'),
      k.id('Ip6InCEPkts'),
    ]);
    this.ipId = ctx.rng.u32() & 0xffff;
    this.ip6Id = ctx.rng.u32();
    this.flowSecret = ctx.rng.u32();
    this.rx = {
      family: 4,
      src: this.h4.src,
      dst: this.h4.dst,
      ttl: 0,
      tos: 0,
      flowLabel: 0,
      proto: 0,
      ifname: '',
      reassembled: false,
      broadcast: false,
      pkt: this.scratch,
      pktOff: 0,
      pktLen: 0,
    };
    this.pmtu = new PmtuCache();
    this.icmp = new IcmpService(this, ctx);
    const sc = ctx.sysctl.v;
    this.reasm = new Reassembler(
      ctx.counters,
      ctx.timers,
      {
        highThresh: (f) => (f === 4 ? sc['net.ipv4.ipfrag_high_thresh'] : sc['net.ipv6.ip6frag_high_thresh']),
        timeoutMs: (f) => 1000 * (f === 4 ? sc['net.ipv4.ipfrag_time'] : sc['net.ipv6.ip6frag_time']),
      },
      (family, first, ifname) => this.icmp.reassemblyTimeout(family, first, ifname),
    );
    this.loLink = new LocalLink();
    this.lo = this.addInterface('lo', this.loLink, { addrs: ['127.0.0.1/8', '::1/128'], loopback: true });
  }

  // ---- configuration -------------------------------------------------------

  addInterface(name: string, link: Link, opts: InterfaceOptions = {}): NetInterface {
    if (this.interfaces.has(name)) throw new Error(`interface ${name} exists`);
    const iface = new NetInterface(
      name,
      this.nextIfIndex++,
      link,
      opts.mtu ?? link.mtu,
      opts.loopback ?? name === 'lo',
    );
    this.interfaces.set(name, iface);
    this.ifList.push(iface);
    link.onReceive = (frame) => this.input(iface, frame);
    // Input keeps nothing of a frame past the call: reassembly, UDP and ICMP
    // copy what they queue, TCP copies payload into its receive buffer.
    link.rxBorrow = true;
    for (const a of opts.addrs ?? []) this.addAddress(name, a);
    return iface;
  }

  /** Add "addr/len" to an interface, with its connected (on-link) route, as `ip addr add` does. */
  addAddress(ifname: string, cidr: string): void {
    const iface = this.mustIface(ifname);
    const p = parsePrefixOrThrow(cidr);
    const fam: Family = p.addr.length === 4 ? 4 : 6;
    iface.addrs(fam).push({ addr: p.addr, prefixLen: p.len });
    this.reindex();
    // Linux adds a prefix route for the subnet (proto kernel scope link).
    if (!iface.loopback || fam === 6) {
      (fam === 4 ? this.routes4 : this.routes6).add({
        prefix: maskAddr(p.addr, p.len),
        prefixLen: p.len,
        dev: iface,
        via: null,
        src: p.addr,
        metric: fam === 4 ? 0 : 256,
        mtu: 0,
      });
    }
  }

  addRoute(prefix: string, opts: RouteOptions): void {
    const p = parsePrefixOrThrow(prefix);
    const dev = this.mustIface(opts.dev);
    const via = opts.via === undefined ? null : parsePrefixOrThrow(opts.via).addr;
    const src = opts.src === undefined ? null : parsePrefixOrThrow(opts.src).addr;
    if (via !== null && via.length !== p.addr.length) throw new Error(`gateway family differs: ${opts.via}`);
    (p.addr.length === 4 ? this.routes4 : this.routes6).add({
      prefix: maskAddr(p.addr, p.len),
      prefixLen: p.len,
      dev,
      via,
      src,
      metric: opts.metric ?? (p.addr.length === 4 ? 0 : 1024),
      mtu: opts.mtu ?? 0,
    });
  }

  private mustIface(name: string): NetInterface {
    const i = this.interfaces.get(name);
    if (!i) throw new Error(`no interface ${name}`);
    return i;
  }

  // ---- the transport-facing API -------------------------------------------

  register(proto: number, handler: IpHandler): void {
    this.handlers[proto & 0xff] = handler;
  }

  handler(proto: number): IpHandler | null {
    return this.handlers[proto & 0xff];
  }

  headroom(family: Family): number {
    return family === 4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN;
  }

  isLocal(addr: IpAddr): boolean {
    return this.localIface(addr) !== null;
  }

  /** The interface that owns `addr`, or null. Loopback devices own their whole prefix. */
  localIface(addr: IpAddr): NetInterface | null {
    if (addr.length === 4) {
      const m = this.localV4.get(v4ToU32(addr));
      if (m !== undefined) return m;
    } else {
      const l = this.localV6;
      for (let i = 0; i < l.length; i++) if (bytesEqual(addr, l[i].addr)) return l[i].iface;
    }
    const lp = this.loPrefixes;
    for (let i = 0; i < lp.length; i++)
      if (prefixMatch(addr, lp[i].addr, lp[i].prefixLen)) return lp[i].iface;
    return null;
  }

  /** Rebuild the local-address indexes after a configuration change. */
  private reindex(): void {
    this.addrVersion++;
    this.localV4.clear();
    this.localV6.length = 0;
    this.loPrefixes.length = 0;
    for (const iface of this.ifList) {
      for (const fam of [4, 6] as const) {
        for (const a of iface.addrs(fam)) {
          if (iface.loopback) this.loPrefixes.push({ addr: a.addr, prefixLen: a.prefixLen, iface });
          else if (fam === 4) {
            const k = v4ToU32(a.addr);
            if (!this.localV4.has(k)) this.localV4.set(k, iface);
          } else this.localV6.push({ addr: a.addr, iface });
        }
      }
    }
  }

  route(dst: IpAddr, src?: IpAddr): Route | null {
    if (dst.length !== 4 && dst.length !== 16) return null;
    if (this.isLocal(dst)) {
      return { ifname: this.lo.name, src: src ?? dst, mtu: this.lo.mtu, nexthop: dst, local: true };
    }
    const e = this.lookup(dst);
    if (e === null) return null;
    const s = src ?? e.src ?? this.selectSource(e.dev, dst);
    if (s === null) return null;
    return { ifname: e.dev.name, src: s, mtu: this.pathMtu(e, dst), nexthop: e.via ?? dst, local: false };
  }

  /** Route-table lookup (no local check). */
  lookup(dst: IpAddr): RouteEntry | null {
    return (dst.length === 4 ? this.routes4 : this.routes6).lookup(dst);
  }

  pathMtu(e: RouteEntry, dst: IpAddr): number {
    let mtu = e.mtu > 0 && e.mtu < e.dev.mtu ? e.mtu : e.dev.mtu;
    const p = this.pmtu.get(dst, this.ctx.now);
    if (p > 0 && p < mtu) mtu = p;
    return mtu;
  }

  /** Linux-like source selection: an address of dev in the destination's
   *  subnet, else dev's first address, else any interface's (not loopback). */
  selectSource(dev: NetInterface, dst: IpAddr): IpAddr | null {
    const fam: Family = dst.length === 4 ? 4 : 6;
    const list: IfAddr[] = dev.addrs(fam);
    for (const a of list) if (prefixMatch(dst, a.addr, a.prefixLen)) return a.addr;
    for (const a of list) if (fam === 4 || !isLinkLocal6(a.addr)) return a.addr;
    if (list.length > 0) return list[0].addr;
    for (const iface of this.interfaces.values()) {
      if (iface.loopback) continue;
      const l = iface.addrs(fam);
      if (l.length > 0) return l[0].addr;
    }
    return null;
  }

  output(
    buf: Uint8Array,
    off: number,
    len: number,
    proto: number,
    src: IpAddr,
    dst: IpAddr,
    opts?: IpOutputOpts,
  ): number {
    if (dst.length === 4) return this.output4(buf, off, len, proto, src, dst, opts);
    if (dst.length === 16) return this.output6(buf, off, len, proto, src, dst, opts);
    return ERRNO.EINVAL;
  }

  /** A number that changes whenever addresses, routes or an interface's state change. */
  private routeVersion(): number {
    return this.addrVersion + this.routes4.version + this.routes6.version + NetInterface.upDownVersion;
  }

  /** The device for `dst` (its path MTU in this.outMtu), or null without a route. */
  private outDev(dst: IpAddr): NetInterface | null {
    let key = -1;
    if (dst.length === 4) {
      key = v4ToU32(dst);
      if (key === this.rcKey && this.rcVersion === this.routeVersion()) {
        const e = this.rcEntry;
        if (e === null) {
          this.outMtu = this.lo.mtu;
          return this.lo;
        }
        // The path MTU is looked up every time: ICMP may lower it, and it expires.
        this.outMtu = this.pathMtu(e, dst);
        return e.dev;
      }
    }
    let dev: NetInterface | null;
    let entry: RouteEntry | null = null;
    if (this.isLocal(dst)) {
      this.outMtu = this.lo.mtu;
      dev = this.lo;
    } else {
      entry = this.lookup(dst);
      if (entry === null) return null;
      this.outMtu = this.pathMtu(entry, dst);
      dev = entry.dev;
    }
    if (key >= 0) {
      this.rcKey = key;
      this.rcVersion = this.routeVersion();
      this.rcEntry = entry;
    }
    return dev;
  }

  outputBuffer(dst: IpAddr, len: number): Uint8Array | null {
    const dev = this.outDev(dst);
    if (dev === null) return null;
    const total = (dst.length === 4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN) + len;
    if (total > this.outMtu || total > 65535) return null;
    const link = dev.link;
    return link.txBuffer === undefined ? null : link.txBuffer(total);
  }

  private output4(
    buf: Uint8Array,
    off: number,
    len: number,
    proto: number,
    src: IpAddr,
    dst: IpAddr,
    opts?: IpOutputOpts,
  ): number {
    const c = this.c;
    const k = this.ctx.counters;
    if (off < IPV4_HEADER_LEN || len < 0 || off + len > buf.length || src.length !== 4) return ERRNO.EINVAL;
    if (len + IPV4_HEADER_LEN > 65535) return ERRNO.EMSGSIZE;
    const dev = this.outDev(dst);
    if (dev === null) {
      k.inc(c.OutNoRoutes);
      return ERRNO.ENETUNREACH;
    }
    const mtu = this.outMtu;
    k.inc(c.OutRequests);
    const ttl = opts?.ttl ?? this.ctx.sysctl.v['net.ipv4.ip_default_ttl'];
    const tos = opts?.tos ?? 0;
    const df = opts?.df ?? false;
    const total = len + IPV4_HEADER_LEN;
    if (total <= mtu) {
      const id = opts?.id ?? (df ? 0 : this.nextId());
      const h = off - IPV4_HEADER_LEN;
      emitIpv4Fast(buf, h, total, id, df ? 0x4000 : 0, ttl, proto, tos, src, dst);
      k.inc(c.OutOctets, total);
      // A buffer from outputBuffer() is exactly the datagram: the link gets that very array.
      dev.link.transmit(h === 0 && off + len === buf.length ? buf : buf.subarray(h, off + len));
      return 0;
    }
    if (df) {
      k.inc(c.FragFails);
      return ERRNO.EMSGSIZE;
    }
    // RFC 791 §3.2: every fragment but the last carries a multiple of 8 data bytes.
    const per = (mtu - IPV4_HEADER_LEN) & ~7;
    if (per <= 0) {
      k.inc(c.FragFails);
      return ERRNO.EMSGSIZE;
    }
    const id = opts?.id ?? this.nextId();
    const s = this.scratch;
    for (let o = 0; o < len; o += per) {
      const n = Math.min(per, len - o);
      const mf = o + n < len;
      emitIpv4Fast(s, 0, IPV4_HEADER_LEN + n, id, (mf ? 0x2000 : 0) | (o >> 3), ttl, proto, tos, src, dst);
      s.set(buf.subarray(off + o, off + o + n), IPV4_HEADER_LEN);
      k.inc(c.FragCreates);
      k.inc(c.OutOctets, IPV4_HEADER_LEN + n);
      dev.link.transmit(s.subarray(0, IPV4_HEADER_LEN + n));
    }
    k.inc(c.FragOKs);
    return 0;
  }

  private output6(
    buf: Uint8Array,
    off: number,
    len: number,
    proto: number,
    src: IpAddr,
    dst: IpAddr,
    opts?: IpOutputOpts,
  ): number {
    const c = this.c;
    const k = this.ctx.counters;
    if (off < IPV6_HEADER_LEN || len < 0 || off + len > buf.length || src.length !== 16) return ERRNO.EINVAL;
    if (len > 65535) return ERRNO.EMSGSIZE;
    const dev = this.outDev(dst);
    if (dev === null) {
      k.inc(c.Out6NoRoutes);
      return ERRNO.ENETUNREACH;
    }
    const mtu = this.outMtu;
    k.inc(c.Out6Requests);
    const hop = opts?.ttl ?? this.ctx.sysctl.v['net.ipv6.conf.default.hop_limit'];
    const tc = opts?.tos ?? 0;
    const fl = opts?.flowLabel ?? this.autoFlowLabel(buf, off, len, proto, src, dst);
    const total = len + IPV6_HEADER_LEN;
    if (total <= mtu) {
      const h = off - IPV6_HEADER_LEN;
      emitIpv6Fast(buf, h, len, proto, hop, tc, fl, src, dst);
      k.inc(c.Out6Octets, total);
      dev.link.transmit(h === 0 && off + len === buf.length ? buf : buf.subarray(h, off + len));
      return 0;
    }
    if (opts?.df) {
      k.inc(c.Frag6Fails);
      return ERRNO.EMSGSIZE;
    }
    // RFC 8200 §4.5: the source fragments; data per fragment a multiple of 8.
    const per = (mtu - IPV6_HEADER_LEN - IPV6_FRAG_HEADER_LEN) & ~7;
    if (per <= 0) {
      k.inc(c.Frag6Fails);
      return ERRNO.EMSGSIZE;
    }
    const id = this.nextId6();
    const s = this.scratch;
    const hl = IPV6_HEADER_LEN + IPV6_FRAG_HEADER_LEN;
    for (let o = 0; o < len; o += per) {
      const n = Math.min(per, len - o);
      emitIpv6Fast(s, 0, IPV6_FRAG_HEADER_LEN + n, NEXTHDR_FRAGMENT, hop, tc, fl, src, dst);
      emitIpv6Fragment(s, IPV6_HEADER_LEN, proto, o, o + n < len, id);
      s.set(buf.subarray(off + o, off + o + n), hl);
      k.inc(c.Frag6Creates);
      k.inc(c.Out6Octets, hl + n);
      dev.link.transmit(s.subarray(0, hl + n));
    }
    k.inc(c.Frag6OKs);
    return 0;
  }

  /**
   * net.ipv6.auto_flowlabels (1 = on unless a socket opts out, 3 = always):
   * Linux labels a flow with a hash of its addresses, protocol and ports
   * keyed by a secret, so one flow keeps one label (RFC 6437). Here the
   * secret comes from the stack's generator.
   */
  private autoFlowLabel(
    buf: Uint8Array,
    off: number,
    len: number,
    proto: number,
    src: IpAddr,
    dst: IpAddr,
  ): number {
    const mode = this.ctx.sysctl.v['net.ipv6.auto_flowlabels'];
    if (mode !== 1 && mode !== 3) return 0;
    let h = this.flowSecret ^ proto;
    for (let i = 0; i < 16; i += 4) {
      h = Math.imul(h ^ ((src[i] << 24) | (src[i + 1] << 16) | (src[i + 2] << 8) | src[i + 3]), 0x9e3779b1);
      h = Math.imul(h ^ ((dst[i] << 24) | (dst[i + 1] << 16) | (dst[i + 2] << 8) | dst[i + 3]), 0x85ebca6b);
      h ^= h >>> 15;
    }
    if ((proto === 6 || proto === 17) && len >= 4)
      h = Math.imul(
        h ^ ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]),
        0xc2b2ae35,
      );
    h ^= h >>> 16;
    return h & 0xfffff || 1;
  }

  nextId(): number {
    this.ipId = (this.ipId + 1) & 0xffff;
    return this.ipId;
  }

  private nextId6(): number {
    this.ip6Id = (this.ip6Id + 1) >>> 0;
    return this.ip6Id;
  }

  portUnreachable(rx: IpRx): void {
    this.icmp.portUnreachable(rx);
  }

  // ---- input -----------------------------------------------------------------

  /** A frame arrived on `ifname` (stack.receive). Unknown interface: ignored. */
  receive(ifname: string, frame: Uint8Array): void {
    const iface = this.interfaces.get(ifname);
    if (iface !== undefined) this.input(iface, frame);
  }

  input(iface: NetInterface, frame: Uint8Array): void {
    if (frame.length > 0 && frame[0] >> 4 === 6) this.input6(iface, frame, false);
    else this.input4(iface, frame, false);
  }

  private input4(iface: NetInterface, frame: Uint8Array, reassembled: boolean): void {
    const c = this.c;
    const k = this.ctx.counters;
    const h = this.h4;
    if (!reassembled) {
      k.inc(c.InReceives);
      k.inc(c.InOctets, frame.length);
      // Before the checksum is checked, as Linux (a header with a sane version and length).
      if (frame.length >= IPV4_HEADER_LEN && frame[0] >= 0x45 && frame[0] <= 0x4f)
        k.inc(this.ecnIn[frame[1] & 3]);
    }
    const err = parseIpv4(frame, h, 0, frame.length);
    if (err !== null) {
      // Linux ip_rcv_core: a buffer shorter than the total length is
      // "truncated"; a bad checksum counts as both CsumErrors and HdrErrors.
      if (err === 'truncated' && frame.length >= IPV4_HEADER_LEN && frame[0] >> 4 === 4) k.inc(c.InTruncated);
      else {
        if (err === 'bad-checksum') k.inc(c.InCsumErrors);
        k.inc(c.InHdrErrors);
      }
      return;
    }
    const src = h.src;
    const dst = h.dst;
    // Martian sources (RFC 1812 §5.3.7): multicast, limited broadcast, or
    // loopback arriving on a non-loopback device. Linux drops them silently.
    if (isMulticast(src) || (src[0] === 255 && src[1] === 255 && src[2] === 255 && src[3] === 255)) return;
    if (!iface.loopback && (isLoopback(src) || isLoopback(dst))) return;
    let bcast = false;
    if (!this.isLocalV4(dst)) {
      if (this.isBroadcast(dst)) {
        // Limited or subnet-directed broadcast: for UDP and ICMP (Linux
        // RTCF_BROADCAST); no multicast group is ever joined here.
        bcast = true;
        k.inc(c.InBcastPkts);
      } else {
        // Not ours and we do not forward (ip_forward = 0).
        if (!isMulticast(dst)) k.inc(c.InAddrErrors);
        return;
      }
    }
    if (h.mf || h.fragOffset !== 0) {
      const whole = this.reasm.addV4(h, frame, 0, iface.name);
      if (whole !== null) this.input4(iface, whole, true);
      return;
    }
    const rx = this.rx;
    rx.family = 4;
    rx.src = src;
    rx.dst = dst;
    rx.ttl = h.ttl;
    rx.tos = h.tos;
    rx.flowLabel = 0;
    rx.proto = h.proto;
    rx.ifname = iface.name;
    rx.reassembled = reassembled;
    rx.broadcast = bcast;
    rx.pkt = frame;
    rx.pktOff = 0;
    rx.pktLen = h.totalLen;
    this.deliver(rx, frame, h.headerLen, h.totalLen - h.headerLen);
  }

  /** isLocal for an IPv4 address, remembering the last local one (a stream of packets to one address). */
  private isLocalV4(a: IpAddr): boolean {
    const k = v4ToU32(a);
    if (k === this.localKey && this.localKeyVersion === this.addrVersion) return true;
    if (!this.isLocal(a)) return false;
    this.localKey = k;
    this.localKeyVersion = this.addrVersion;
    return true;
  }

  /** 255.255.255.255 or the broadcast address of one of our IPv4 subnets (prefix < 31). */
  isBroadcast(a: IpAddr): boolean {
    if (a.length !== 4) return false;
    if (a[0] === 255 && a[1] === 255 && a[2] === 255 && a[3] === 255) return true;
    for (const iface of this.ifList) {
      for (const x of iface.v4) {
        if (x.prefixLen >= 31) continue;
        if (!prefixMatch(a, x.addr, x.prefixLen)) continue;
        let all = true;
        for (let bit = x.prefixLen; bit < 32 && all; bit++) all = (a[bit >> 3] & (0x80 >> (bit & 7))) !== 0;
        if (all) return true;
      }
    }
    return false;
  }

  private input6(iface: NetInterface, frame: Uint8Array, reassembled: boolean): void {
    const c = this.c;
    const k = this.ctx.counters;
    const h = this.h6;
    if (!reassembled) {
      k.inc(c.In6Receives);
      k.inc(c.In6Octets, frame.length);
      if (frame.length >= IPV6_HEADER_LEN && frame[0] >> 4 === 6)
        k.inc(this.ecnIn[4 + ((frame[1] >> 4) & 3)]);
    }
    const err = parseIpv6(frame, h, 0, frame.length);
    if (err !== null) {
      if (err === 'truncated' && frame.length >= IPV6_HEADER_LEN && frame[0] >> 4 === 6)
        k.inc(c.In6Truncated);
      else k.inc(c.In6HdrErrors);
      return;
    }
    const src = h.src;
    const dst = h.dst;
    // Linux ip6_rcv_core: multicast source, or loopback address on a
    // non-loopback device, is a header error.
    if (isMulticast(src) || (!iface.loopback && (isLoopback(src) || isLoopback(dst)))) {
      k.inc(c.In6HdrErrors);
      return;
    }
    if (!this.isLocal(dst)) {
      // All-nodes multicast (ff02::1) is accepted; nothing else multicast is joined.
      if (!isAllNodes(dst)) {
        if (!isMulticast(dst)) k.inc(c.In6AddrErrors);
        return;
      }
    }
    if (h.extCount > 0 && !this.checkOptions6(frame, h)) return;
    if (h.routingType >= 0 && h.segmentsLeft > 0) {
      // RFC 8200 §4.4: a Routing header with segments left that we do not
      // process (no type is supported: type 0 is deprecated by RFC 5095).
      k.inc(c.In6HdrErrors);
      this.icmp.paramProblem6(frame, h, 0, this.routingTypeOffset(frame, h), iface);
      return;
    }
    if (h.hasFragment && (h.fragOffset !== 0 || h.mf)) {
      const nh = this.nhFieldOf(frame, h);
      const whole = this.reasm.addV6(h, frame, 0, nh, iface.name);
      if (whole === 'bad-length') {
        k.inc(c.In6HdrErrors);
        this.icmp.paramProblem6(frame, h, 0, 4, iface);
        return;
      }
      if (whole !== null) this.input6(iface, whole, true);
      return;
    }
    const rx = this.rx;
    rx.family = 6;
    rx.src = src;
    rx.dst = dst;
    rx.ttl = h.hopLimit;
    rx.tos = h.trafficClass;
    rx.flowLabel = h.flowLabel;
    rx.proto = h.proto;
    rx.ifname = iface.name;
    rx.reassembled = reassembled;
    rx.broadcast = isMulticast(dst);
    rx.pkt = frame;
    rx.pktOff = 0;
    rx.pktLen = IPV6_HEADER_LEN + h.payloadLen;
    if (h.proto === NEXTHDR_NONE) return;
    this.deliver(rx, frame, h.headerLen, IPV6_HEADER_LEN + h.payloadLen - h.headerLen);
  }

  /**
   * RFC 8200 §4.2 option processing for the Hop-by-Hop and Destination
   * Options headers before the upper layer (as Linux's ip6_parse_tlv):
   * padding runs longer than 7 bytes and PadN with non-zero contents are
   * dropped (RFC 4942 §2.1.9.5); more than 8 non-padding options
   * (max_hbh_opts_number / max_dst_opts_number) are dropped; Router Alert
   * must be 2 bytes long; an unknown option acts by its two high-order bits:
   * skip (00), drop (01), drop and send Parameter Problem code 2 pointing at
   * it (10), the same unless the destination is multicast (11). Returns
   * false when the packet was dropped (counted as Ip6InHdrErrors).
   */
  private checkOptions6(pkt: Uint8Array, h: Ipv6Header): boolean {
    let nh = pkt[6];
    let p = IPV6_HEADER_LEN;
    const end = h.headerLen;
    while (p < end) {
      const hl = nh === NEXTHDR_FRAGMENT ? 8 : nh === 51 ? (pkt[p + 1] + 2) * 4 : (pkt[p + 1] + 1) * 8;
      if (nh === 0 || nh === 60) {
        const verdict = this.tlvVerdict(pkt, p + 2, p + hl, nh === 0);
        if (verdict !== -1) {
          this.ctx.counters.inc(this.c.In6HdrErrors);
          if (verdict >= 0) {
            const mcast = isMulticast(h.dst);
            const action = pkt[verdict] >> 6;
            if (action === 2 || (action === 3 && !mcast))
              this.icmp.sendError6(pkt, 0, IPV6_HEADER_LEN + h.payloadLen, 4, 2, verdict);
          }
          return false;
        }
      }
      nh = pkt[p];
      p += hl;
    }
    return true;
  }

  /** -1: acceptable; -2: drop silently; n >= 0: unknown option at offset n with a drop action. */
  private tlvVerdict(pkt: Uint8Array, p: number, end: number, hbh: boolean): number {
    let pad = 0;
    let count = 0;
    while (p < end) {
      const t = pkt[p];
      if (t === 0) {
        if (++pad > 7) return -2;
        p++;
        continue;
      }
      const olen = pkt[p + 1] + 2;
      if (t === 1) {
        pad += olen;
        if (pad > 7) return -2;
        for (let i = 2; i < olen; i++) if (pkt[p + i] !== 0) return -2;
        p += olen;
        continue;
      }
      pad = 0;
      if (++count > 8) return -2;
      if (hbh && t === 5) {
        if (olen !== 4) return -2; // Router Alert carries 2 bytes (RFC 2711)
      } else if ((t & 0xc0) !== 0) {
        if ((t & 0xc0) === 0x40) return -2;
        return p;
      }
      p += olen;
    }
    return -1;
  }

  /** Offset of the Next Header byte that announced the Fragment header. */
  private nhFieldOf(pkt: Uint8Array, h: Ipv6Header): number {
    let field = 6;
    let nh = pkt[6];
    let p = IPV6_HEADER_LEN;
    while (nh !== NEXTHDR_FRAGMENT && p < h.fragHeaderOff) {
      field = p;
      const hl = nh === 51 ? (pkt[p + 1] + 2) * 4 : (pkt[p + 1] + 1) * 8;
      nh = pkt[p];
      p += hl;
    }
    return field;
  }

  /** Offset of the Next Header byte naming the upper-layer header at `upper`. */
  private lastNhField(pkt: Uint8Array, upper: number): number {
    let field = 6;
    let nh = pkt[6];
    let p = IPV6_HEADER_LEN;
    while (p < upper) {
      field = p;
      const hl = nh === NEXTHDR_FRAGMENT ? 8 : nh === 51 ? (pkt[p + 1] + 2) * 4 : (pkt[p + 1] + 1) * 8;
      nh = pkt[p];
      p += hl;
    }
    return field;
  }

  private routingTypeOffset(pkt: Uint8Array, h: Ipv6Header): number {
    let nh = pkt[6];
    let p = IPV6_HEADER_LEN;
    for (let i = 0; i < h.extCount && nh !== 43; i++) {
      const hl = nh === NEXTHDR_FRAGMENT ? 8 : nh === 51 ? (pkt[p + 1] + 2) * 4 : (pkt[p + 1] + 1) * 8;
      nh = pkt[p];
      p += hl;
    }
    return p + 2;
  }

  private deliver(rx: IpRx, buf: Uint8Array, off: number, len: number): void {
    const c = this.c;
    const k = this.ctx.counters;
    const v4 = rx.family === 4;
    const proto = rx.proto;
    if (proto === (v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6)) {
      k.inc(v4 ? c.InDelivers : c.In6Delivers);
      if (v4) this.icmp.input4(rx, buf, off, len);
      else this.icmp.input6(rx, buf, off, len);
      return;
    }
    const handler = this.handlers[proto];
    if (handler === null) {
      k.inc(v4 ? c.InUnknownProtos : c.In6UnknownProtos);
      // (sendError never answers a broadcast or multicast datagram)
      this.icmp.protocolUnreachable(rx, v4 ? 0 : this.lastNhField(buf, off));
      return;
    }
    k.inc(v4 ? c.InDelivers : c.In6Delivers);
    // Only UDP takes broadcast/multicast datagrams; TCP discards what was not
    // addressed to this host alone (Linux: pkt_type != PACKET_HOST).
    if (rx.broadcast && proto !== 17) return;
    handler.input(rx, buf, off, len);
  }

  // ---- time ------------------------------------------------------------------

  /** Work due now: packets queued on the loopback device. */
  nextDeadline(): number {
    return this.loLink.pending > 0 ? this.ctx.now : Number.POSITIVE_INFINITY;
  }

  /** Deliver loopback traffic (timers are run by the stack's wheel). */
  advance(): void {
    this.loLink.deliver();
  }
}

function isAllNodes(a: IpAddr): boolean {
  if (a.length !== 16 || a[0] !== 0xff || a[1] !== 0x02 || a[15] !== 1) return false;
  for (let i = 2; i < 15; i++) if (a[i] !== 0) return false;
  return true;
}

function isLinkLocal6(a: IpAddr): boolean {
  return a[0] === 0xfe && (a[1] & 0xc0) === 0x80;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function parsePrefixOrThrow(s: string): { addr: IpAddr; len: number } {
  const p = parsePrefix(s);
  if (p === null) throw new TypeError(`invalid address or prefix: ${JSON.stringify(s)}`);
  return p;
}
