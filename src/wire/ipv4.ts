/**
 * IPv4 header (RFC 791): parse into a caller-owned object, emit into a buffer.
 *
 * Parsing validates what a host must check before using a datagram
 * (RFC 1122 §3.2.1.1-3.2.1.2 and what Linux's ip_rcv checks): version 4,
 * IHL >= 5, header within the buffer, total length >= header length and
 * within the buffer, header checksum, and IPv4 options length-checked (each
 * option's length byte must be >= 2 and fit; the options themselves are
 * skipped, not interpreted). Fragment fields are recognised and exposed.
 * Nothing here throws or reads past `off + len`.
 */
import { checksum } from './checksum.js';
import type { WireError } from './errors.js';

export const IPV4_HEADER_LEN = 20;

export interface Ipv4Header {
  /** Header length in bytes (IHL * 4), 20..60. */
  headerLen: number;
  /** The whole second byte: DSCP (6 bits) and ECN (2 bits). */
  tos: number;
  /** Total length field: header + payload, bytes. */
  totalLen: number;
  id: number;
  /** The reserved ("evil") flag bit; kept so that parse+emit round-trips. */
  rf: boolean;
  df: boolean;
  mf: boolean;
  /** Fragment offset in bytes (the field times 8). */
  fragOffset: number;
  ttl: number;
  proto: number;
  /** Header checksum as read (parse) or as written (emit). */
  checksum: number;
  /** 4 bytes each, owned by this object: parse copies into them. */
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  /** Options bytes (headerLen - 20 of them): a view into the parsed buffer,
   *  or what emit writes; empty when there are none. */
  options: Uint8Array;
}

const NO_OPTIONS = new Uint8Array(0);

export function newIpv4Header(): Ipv4Header {
  return {
    headerLen: IPV4_HEADER_LEN,
    tos: 0,
    totalLen: IPV4_HEADER_LEN,
    id: 0,
    rf: false,
    df: false,
    mf: false,
    fragOffset: 0,
    ttl: 64,
    proto: 0,
    checksum: 0,
    src: new Uint8Array(4),
    dst: new Uint8Array(4),
    options: NO_OPTIONS,
  };
}

/** True when this header describes a fragment (MF set or non-zero offset). */
export function isIpv4Fragment(h: Ipv4Header): boolean {
  return h.mf || h.fragOffset !== 0;
}

/**
 * Parse the IPv4 header at `buf[off ..]` (the datagram is `len` bytes long,
 * default: to the end of `buf`). Returns null on success or why the bytes are
 * not a valid IPv4 header. `verifyChecksum` false skips the checksum (for
 * tools that want to show a corrupted packet).
 */
export function parseIpv4(
  buf: Uint8Array,
  out: Ipv4Header,
  off = 0,
  len = buf.length - off,
  verifyChecksum = true,
): WireError | null {
  if (off < 0 || len < 0 || off + len > buf.length) return 'truncated';
  if (len < IPV4_HEADER_LEN) return 'truncated';
  const b0 = buf[off];
  if (b0 >> 4 !== 4) return 'bad-version';
  const hl = (b0 & 0x0f) * 4;
  if (hl < IPV4_HEADER_LEN || hl > len) return 'bad-header-length';
  const total = (buf[off + 2] << 8) | buf[off + 3];
  // Linux ip_rcv_core: skb->len < tot_len → truncated; tot_len < ihl*4 → header error.
  if (total < hl) return 'bad-length';
  if (total > len) return 'truncated';
  if (verifyChecksum && checksum(buf, off, hl) !== 0) return 'bad-checksum';
  if (hl > IPV4_HEADER_LEN) {
    const err = checkOptions(buf, off + IPV4_HEADER_LEN, off + hl);
    if (err) return err;
    out.options = buf.subarray(off + IPV4_HEADER_LEN, off + hl);
  } else {
    out.options = NO_OPTIONS;
  }
  const ff = (buf[off + 6] << 8) | buf[off + 7];
  out.headerLen = hl;
  out.tos = buf[off + 1];
  out.totalLen = total;
  out.id = (buf[off + 4] << 8) | buf[off + 5];
  out.rf = (ff & 0x8000) !== 0;
  out.df = (ff & 0x4000) !== 0;
  out.mf = (ff & 0x2000) !== 0;
  out.fragOffset = (ff & 0x1fff) * 8;
  out.ttl = buf[off + 8];
  out.proto = buf[off + 9];
  out.checksum = (buf[off + 10] << 8) | buf[off + 11];
  const s = out.src;
  const d = out.dst;
  s[0] = buf[off + 12];
  s[1] = buf[off + 13];
  s[2] = buf[off + 14];
  s[3] = buf[off + 15];
  d[0] = buf[off + 16];
  d[1] = buf[off + 17];
  d[2] = buf[off + 18];
  d[3] = buf[off + 19];
  // A fragment whose end runs past the 64 KiB datagram limit cannot be reassembled.
  if (out.fragOffset + total - hl > 65535) return 'bad-fragment';
  return null;
}

/** Walk the option list (RFC 791 §3.1): EOL ends it, NOP is one byte, every
 *  other option has a length byte >= 2 that must fit in the option space. */
function checkOptions(buf: Uint8Array, p: number, end: number): WireError | null {
  while (p < end) {
    const kind = buf[p];
    if (kind === 0) return null;
    if (kind === 1) {
      p++;
      continue;
    }
    if (p + 1 >= end) return 'bad-option';
    const olen = buf[p + 1];
    if (olen < 2 || p + olen > end) return 'bad-option';
    p += olen;
  }
  return null;
}

/**
 * Write `h` at `buf[off ..]`: 20 bytes plus `h.options` padded with EOL to a
 * multiple of 4. Sets `h.headerLen` and `h.checksum` from what was written
 * (`h.totalLen` is written as given). Returns the header length. The caller
 * makes sure the buffer has room (at most 60 bytes).
 */
export function emitIpv4(h: Ipv4Header, buf: Uint8Array, off: number): number {
  const optLen = h.options.length;
  const hl = IPV4_HEADER_LEN + ((optLen + 3) & ~3);
  buf[off] = 0x40 | (hl >> 2);
  buf[off + 1] = h.tos;
  buf[off + 2] = h.totalLen >> 8;
  buf[off + 3] = h.totalLen;
  buf[off + 4] = h.id >> 8;
  buf[off + 5] = h.id;
  const ff = (h.rf ? 0x8000 : 0) | (h.df ? 0x4000 : 0) | (h.mf ? 0x2000 : 0) | ((h.fragOffset >> 3) & 0x1fff);
  buf[off + 6] = ff >> 8;
  buf[off + 7] = ff;
  buf[off + 8] = h.ttl;
  buf[off + 9] = h.proto;
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  buf.set(h.src, off + 12);
  buf.set(h.dst, off + 16);
  if (optLen > 0) {
    buf.set(h.options, off + IPV4_HEADER_LEN);
    for (let i = IPV4_HEADER_LEN + optLen; i < hl; i++) buf[off + i] = 0;
  }
  const c = checksum(buf, off, hl);
  buf[off + 10] = c >> 8;
  buf[off + 11] = c;
  h.headerLen = hl;
  h.checksum = c;
  return hl;
}

/**
 * Write a plain 20-byte header without building a header object: the output
 * fast path. Returns 20.
 */
export function emitIpv4Fast(
  buf: Uint8Array,
  off: number,
  totalLen: number,
  id: number,
  flagsFrag: number,
  ttl: number,
  proto: number,
  tos: number,
  src: Uint8Array,
  dst: Uint8Array,
): number {
  buf[off] = 0x45;
  buf[off + 1] = tos;
  buf[off + 2] = totalLen >> 8;
  buf[off + 3] = totalLen;
  buf[off + 4] = id >> 8;
  buf[off + 5] = id;
  buf[off + 6] = flagsFrag >> 8;
  buf[off + 7] = flagsFrag;
  buf[off + 8] = ttl;
  buf[off + 9] = proto;
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  buf[off + 12] = src[0];
  buf[off + 13] = src[1];
  buf[off + 14] = src[2];
  buf[off + 15] = src[3];
  buf[off + 16] = dst[0];
  buf[off + 17] = dst[1];
  buf[off + 18] = dst[2];
  buf[off + 19] = dst[3];
  const c = checksum(buf, off, IPV4_HEADER_LEN);
  buf[off + 10] = c >> 8;
  buf[off + 11] = c;
  return IPV4_HEADER_LEN;
}
