/**
 * ICMPv4 (RFC 792, RFC 1191) and ICMPv6 (RFC 4443) messages: the 8-byte
 * header (type, code, checksum, and the 4 type-specific bytes) parsed into a
 * caller-owned object and emitted into a buffer. The body (echo data or the
 * quoted offending packet) stays in the buffer: `bodyOff`/`bodyLen`.
 *
 * Checksums: ICMPv4 covers the message only; ICMPv6 also covers the IPv6
 * pseudo-header (RFC 4443 §2.3), so verifying and filling it need addresses.
 */
import { checksum, fold16, pseudoSumV6, sum16 } from './checksum.js';
import type { WireError } from './errors.js';

export const ICMP_HEADER_LEN = 8;
export const IPPROTO_ICMP = 1;
export const IPPROTO_ICMPV6 = 58;

// ICMPv4 types and codes (RFC 792, RFC 1191, RFC 1812)
export const ICMP_ECHOREPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_SOURCE_QUENCH = 4;
export const ICMP_REDIRECT = 5;
export const ICMP_ECHO = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETERPROB = 12;
export const ICMP_TIMESTAMP = 13;
export const ICMP_TIMESTAMPREPLY = 14;

export const ICMP_NET_UNREACH = 0;
export const ICMP_HOST_UNREACH = 1;
export const ICMP_PROT_UNREACH = 2;
export const ICMP_PORT_UNREACH = 3;
export const ICMP_FRAG_NEEDED = 4;
export const ICMP_EXC_TTL = 0;
export const ICMP_EXC_FRAGTIME = 1;

// ICMPv6 types and codes (RFC 4443)
export const ICMPV6_DEST_UNREACH = 1;
export const ICMPV6_PKT_TOOBIG = 2;
export const ICMPV6_TIME_EXCEED = 3;
export const ICMPV6_PARAMPROB = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;

export const ICMPV6_NOROUTE = 0;
export const ICMPV6_ADM_PROHIBITED = 1;
export const ICMPV6_ADDR_UNREACH = 3;
export const ICMPV6_PORT_UNREACH = 4;
export const ICMPV6_EXC_HOPLIMIT = 0;
export const ICMPV6_EXC_FRAGTIME = 1;
export const ICMPV6_HDR_FIELD = 0;
export const ICMPV6_UNK_NEXTHDR = 1;

export interface IcmpHeader {
  type: number;
  code: number;
  checksum: number;
  /** The 4 bytes after the checksum as one unsigned 32-bit number. The
   *  fields below are views of it by message type; emit writes `rest`
   *  unless the type has named fields (see emitIcmp). */
  rest: number;
  /** Echo request/reply: identifier and sequence number. */
  id: number;
  seq: number;
  /** ICMPv4 fragmentation-needed next-hop MTU (RFC 1191, low 16 bits) or
   *  ICMPv6 packet-too-big MTU (32 bits); 0 otherwise. */
  mtu: number;
  /** Parameter problem pointer (v4: 1 byte, v6: 32 bits); 0 otherwise. */
  pointer: number;
  /** Offset (in the parsed buffer) and length of the message body: echo
   *  data, or the quoted packet of an error message. */
  bodyOff: number;
  bodyLen: number;
}

export function newIcmpHeader(): IcmpHeader {
  return {
    type: 0,
    code: 0,
    checksum: 0,
    rest: 0,
    id: 0,
    seq: 0,
    mtu: 0,
    pointer: 0,
    bodyOff: 0,
    bodyLen: 0,
  };
}

/** ICMPv4 error messages (RFC 1122 §3.2.2): never answered with an error. */
export function isIcmp4Error(type: number): boolean {
  return (
    type === ICMP_DEST_UNREACH ||
    type === ICMP_SOURCE_QUENCH ||
    type === ICMP_REDIRECT ||
    type === ICMP_TIME_EXCEEDED ||
    type === ICMP_PARAMETERPROB
  );
}

/** ICMPv6 error messages have types 0..127 (RFC 4443 §2.1). */
export function isIcmp6Error(type: number): boolean {
  return type < 128;
}

function parseCommon(buf: Uint8Array, out: IcmpHeader, off: number, len: number): WireError | null {
  if (off < 0 || len < 0 || off + len > buf.length) return 'truncated';
  if (len < ICMP_HEADER_LEN) return 'truncated';
  out.type = buf[off];
  out.code = buf[off + 1];
  out.checksum = (buf[off + 2] << 8) | buf[off + 3];
  out.rest = ((buf[off + 4] << 24) | (buf[off + 5] << 16) | (buf[off + 6] << 8) | buf[off + 7]) >>> 0;
  out.id = 0;
  out.seq = 0;
  out.mtu = 0;
  out.pointer = 0;
  out.bodyOff = off + ICMP_HEADER_LEN;
  out.bodyLen = len - ICMP_HEADER_LEN;
  return null;
}

/**
 * Parse an ICMPv4 message `buf[off .. off+len)`. Checks length and (unless
 * `verifyChecksum` is false) the checksum; fills the type-specific fields.
 */
export function parseIcmp4(
  buf: Uint8Array,
  out: IcmpHeader,
  off = 0,
  len = buf.length - off,
  verifyChecksum = true,
): WireError | null {
  const err = parseCommon(buf, out, off, len);
  if (err) return err;
  if (verifyChecksum && checksum(buf, off, len) !== 0) return 'bad-checksum';
  const t = out.type;
  if (t === ICMP_ECHO || t === ICMP_ECHOREPLY || t === ICMP_TIMESTAMP || t === ICMP_TIMESTAMPREPLY) {
    out.id = out.rest >>> 16;
    out.seq = out.rest & 0xffff;
  } else if (t === ICMP_DEST_UNREACH && out.code === ICMP_FRAG_NEEDED) {
    out.mtu = out.rest & 0xffff;
  } else if (t === ICMP_PARAMETERPROB) {
    out.pointer = out.rest >>> 24;
  }
  return null;
}

/**
 * Parse an ICMPv6 message `buf[off .. off+len)` carried from `src` to `dst`.
 * Checks length and (when `verifyChecksum`) the checksum with the
 * pseudo-header; fills the type-specific fields.
 */
export function parseIcmp6(
  buf: Uint8Array,
  out: IcmpHeader,
  src: Uint8Array,
  dst: Uint8Array,
  off = 0,
  len = buf.length - off,
  verifyChecksum = true,
): WireError | null {
  const err = parseCommon(buf, out, off, len);
  if (err) return err;
  if (verifyChecksum && !icmp6ChecksumOk(buf, off, len, src, dst)) return 'bad-checksum';
  const t = out.type;
  if (t === ICMPV6_ECHO_REQUEST || t === ICMPV6_ECHO_REPLY) {
    out.id = out.rest >>> 16;
    out.seq = out.rest & 0xffff;
  } else if (t === ICMPV6_PKT_TOOBIG) {
    out.mtu = out.rest;
  } else if (t === ICMPV6_PARAMPROB) {
    out.pointer = out.rest;
  }
  return null;
}

/** The 4 type-specific bytes that `h`'s named fields say, for `family`. */
function restOf(h: IcmpHeader, family: 4 | 6): number {
  const t = h.type;
  if (family === 4) {
    if (t === ICMP_ECHO || t === ICMP_ECHOREPLY || t === ICMP_TIMESTAMP || t === ICMP_TIMESTAMPREPLY)
      return (((h.id & 0xffff) << 16) | (h.seq & 0xffff)) >>> 0;
    if (t === ICMP_DEST_UNREACH && h.code === ICMP_FRAG_NEEDED)
      return ((h.rest & 0xffff0000) | (h.mtu & 0xffff)) >>> 0;
    if (t === ICMP_PARAMETERPROB) return (((h.pointer & 0xff) << 24) | (h.rest & 0xffffff)) >>> 0;
    return h.rest >>> 0;
  }
  if (t === ICMPV6_ECHO_REQUEST || t === ICMPV6_ECHO_REPLY)
    return (((h.id & 0xffff) << 16) | (h.seq & 0xffff)) >>> 0;
  if (t === ICMPV6_PKT_TOOBIG) return h.mtu >>> 0;
  if (t === ICMPV6_PARAMPROB) return h.pointer >>> 0;
  return h.rest >>> 0;
}

/**
 * Write the 8-byte header of `h` at `buf[off ..]` with a zero checksum; the
 * type-specific bytes come from the named fields (id/seq for echo, mtu for
 * frag-needed / packet-too-big, pointer for parameter problem) and from
 * `rest` otherwise. Fill the checksum afterwards with `finishIcmp4` or
 * `finishIcmp6`, once the body is in place. Returns 8.
 */
export function emitIcmp(h: IcmpHeader, buf: Uint8Array, off: number, family: 4 | 6): number {
  const r = restOf(h, family);
  buf[off] = h.type;
  buf[off + 1] = h.code;
  buf[off + 2] = 0;
  buf[off + 3] = 0;
  buf[off + 4] = r >>> 24;
  buf[off + 5] = r >>> 16;
  buf[off + 6] = r >>> 8;
  buf[off + 7] = r;
  h.rest = r;
  return ICMP_HEADER_LEN;
}

/** Fill the checksum of the ICMPv4 message `buf[off .. off+len)`; returns it. */
export function finishIcmp4(buf: Uint8Array, off: number, len: number): number {
  buf[off + 2] = 0;
  buf[off + 3] = 0;
  const c = checksum(buf, off, len);
  buf[off + 2] = c >> 8;
  buf[off + 3] = c;
  return c;
}

/** Fill the checksum of the ICMPv6 message `buf[off .. off+len)` sent from
 *  `src` to `dst` (pseudo-header included); returns it. */
export function finishIcmp6(
  buf: Uint8Array,
  off: number,
  len: number,
  src: Uint8Array,
  dst: Uint8Array,
): number {
  buf[off + 2] = 0;
  buf[off + 3] = 0;
  const c = ~fold16(sum16(buf, off, len, pseudoSumV6(src, dst, 58, len))) & 0xffff;
  buf[off + 2] = c >> 8;
  buf[off + 3] = c;
  return c;
}

export function icmp6ChecksumOk(
  buf: Uint8Array,
  off: number,
  len: number,
  src: Uint8Array,
  dst: Uint8Array,
): boolean {
  return fold16(sum16(buf, off, len, pseudoSumV6(src, dst, 58, len))) === 0xffff;
}
