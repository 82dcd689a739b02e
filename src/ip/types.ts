/**
 * What the IP layer offers the transports above it (docs/internals.md,
 * "ip/ and stack.ts"). TCP and UDP see only these types.
 */
import type { IpAddr } from '../wire/addr.js';

export type Family = 4 | 6;

/** The answer of `ip.route(dst)`. */
export interface Route {
  /** Outgoing interface ('lo' for local destinations). */
  ifname: string;
  /** Source address to use (the preferred address on the outgoing interface). */
  src: IpAddr;
  /** Path MTU: the interface MTU, or less after ICMP frag-needed / packet-too-big. */
  mtu: number;
  /** Next hop: the gateway, or the destination itself when on-link. */
  nexthop: IpAddr;
  /** The destination is one of this stack's own addresses. */
  local: boolean;
}

/**
 * A received datagram as the IP layer hands it to a transport. One object is
 * reused for every packet: valid during `handler.input` only; copy the
 * addresses you keep (`addrCopy`).
 */
export interface IpRx {
  family: Family;
  /** Views of the addresses (4 or 16 bytes). */
  src: IpAddr;
  dst: IpAddr;
  /** TTL / Hop Limit as received. */
  ttl: number;
  /** TOS / Traffic Class byte (DSCP + ECN). */
  tos: number;
  /** IPv6 flow label (0 for IPv4). */
  flowLabel: number;
  /** Upper-layer protocol number. */
  proto: number;
  /** Interface the packet came in on. */
  ifname: string;
  /** True when the datagram was reassembled from fragments. */
  reassembled: boolean;
  /** Addressed to a broadcast (IPv4) or multicast address, not to this host
   *  alone: no ICMP error may answer it. Only UDP and ICMP receive these. */
  broadcast: boolean;
  /** The whole IP packet (header included): what an ICMP error quotes.
   *  `pkt[pktOff .. pktOff+pktLen)`. */
  pkt: Uint8Array;
  pktOff: number;
  pktLen: number;
}

/**
 * An ICMP error about a packet this host sent, delivered to the transport
 * whose protocol the quoted packet carries. One object, reused: valid during
 * `handler.icmpError` only.
 */
export interface IcmpErr {
  family: Family;
  /** Raw ICMP type and code (ICMPv4 or ICMPv6 numbering per `family`). */
  type: number;
  code: number;
  /** Linux's errno for it (icmp_err_convert / icmpv6_err_convert):
   *  ECONNREFUSED for port unreachable, EMSGSIZE for frag-needed /
   *  packet-too-big, EHOSTUNREACH for time exceeded, ... */
  errno: number;
  /** Linux's "fatal" flag: a hard error that aborts a connecting socket. */
  fatal: boolean;
  /** The new path MTU for frag-needed / packet-too-big (after clamping, as
   *  now stored in the route cache), else 0. */
  mtu: number;
  /** Who sent the ICMP message. */
  from: IpAddr;
  /** The quoted packet's addresses: `src` is ours, `dst` the peer. */
  src: IpAddr;
  dst: IpAddr;
  proto: number;
  /** Ports from the first 4 bytes of the quoted transport header. */
  sport: number;
  dport: number;
  /** The quoted transport header (at least 8 bytes): `buf[off .. off+len)`.
   *  TCP reads the sequence number at off+4. */
  buf: Uint8Array;
  off: number;
  len: number;
}

/** What a transport registers with `ip.register(proto, handler)`. */
export interface IpHandler {
  /** `buf[off .. off+len)` is the transport segment (header + payload). */
  input(rx: IpRx, buf: Uint8Array, off: number, len: number): void;
  /** Return false when no socket matched the quoted packet: the IP layer
   *  then counts IcmpInErrors / Icmp6InErrors, as Linux's tcp_v4_err and
   *  __udp4_lib_err do (checked with nstat). */
  // biome-ignore lint/suspicious/noConfusingVoidType: handlers that keep no count return nothing
  icmpError(err: IcmpErr): boolean | void;
}

export interface IpOutputOpts {
  /** TTL / Hop Limit; default net.ipv4.ip_default_ttl / net.ipv6.conf.default.hop_limit. */
  ttl?: number;
  /** TOS / Traffic Class byte; default 0. */
  tos?: number;
  /** Don't fragment: IPv4 DF bit; for either family a datagram larger than
   *  the path MTU is refused with EMSGSIZE instead of fragmented. */
  df?: boolean;
  /** IPv4 Identification. Default: 0 with DF (as Linux does for packets
   *  without a socket id), else the stack's counter. TCP passes its
   *  per-socket counter (Linux inet_id) here. */
  id?: number;
  /** IPv6 flow label; default 0. */
  flowLabel?: number;
}

/** The IP layer as transports see it (`stack.ip`). */
export interface IpLayerApi {
  route(dst: IpAddr, src?: IpAddr): Route | null;
  isLocal(addr: IpAddr): boolean;
  /** 255.255.255.255 or the broadcast address of one of our IPv4 subnets. */
  isBroadcast(addr: IpAddr): boolean;
  headroom(family: Family): number;
  /** Returns 0 when sent (or queued to a link), else a positive Linux errno
   *  (ENETUNREACH no route, EMSGSIZE too big with df, EINVAL bad arguments). */
  output(
    buf: Uint8Array,
    off: number,
    len: number,
    proto: number,
    src: IpAddr,
    dst: IpAddr,
    opts?: IpOutputOpts,
  ): number;
  /**
   * A buffer for one datagram to `dst` carrying `len` transport bytes, lent
   * by the output link (Link.txBuffer) when it has one: write the transport
   * segment at `headroom(family)` and pass the buffer to output() as the
   * very next datagram (off = headroom, the same len); it then reaches the
   * link without a copy. Null when the link lends nothing or the datagram
   * would not fit the path MTU whole: build it in a buffer of your own.
   */
  outputBuffer(dst: IpAddr, len: number): Uint8Array | null;
  register(proto: number, handler: IpHandler): void;
  /** Send ICMP port unreachable about `rx` (UDP with no socket), subject to
   *  Linux's rules and rate limits. */
  portUnreachable(rx: IpRx): void;
}
