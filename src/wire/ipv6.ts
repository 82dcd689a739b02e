/**
 * IPv6 header (RFC 8200) and its extension-header chain: parse into a
 * caller-owned object, emit the fixed header and a Fragment header.
 *
 * Parsing checks version 6 and that the payload length fits the buffer, then
 * walks the extension headers that a host processes — Hop-by-Hop Options (0,
 * only directly after the fixed header, RFC 8200 §4.1), Routing (43),
 * Fragment (44), Destination Options (60), and AH (51) whose length unit
 * differs — until it reaches an upper-layer protocol (or No Next Header,
 * 59). Option TLVs inside Hop-by-Hop and Destination Options are
 * length-checked (Pad1 is one byte; every other option's length must fit).
 * The chain is bounded (MAX_EXT_HEADERS) so a crafted packet cannot make the
 * walk long. Nothing here throws or reads past `off + len`.
 */
import type { WireError } from './errors.js';

export const IPV6_HEADER_LEN = 40;
export const IPV6_FRAG_HEADER_LEN = 8;

export const NEXTHDR_HOP = 0;
export const NEXTHDR_ROUTING = 43;
export const NEXTHDR_FRAGMENT = 44;
export const NEXTHDR_AUTH = 51;
export const NEXTHDR_NONE = 59;
export const NEXTHDR_DEST = 60;

/** More extension headers than any sane packet carries; stops crafted chains. */
export const MAX_EXT_HEADERS = 8;

export interface Ipv6Header {
  trafficClass: number;
  flowLabel: number;
  /** Payload length field: bytes after the fixed 40-byte header. */
  payloadLen: number;
  /** Next Header of the fixed header (the first extension header or the upper layer). */
  nextHeader: number;
  hopLimit: number;
  /** 16 bytes each, owned by this object: parse copies into them. */
  readonly src: Uint8Array;
  readonly dst: Uint8Array;

  // Filled by the extension-header walk:
  /** Upper-layer protocol (TCP 6, UDP 17, ICMPv6 58, ...) or 59 (none). */
  proto: number;
  /** Bytes from the start of the packet to the upper-layer header (40 + extensions). */
  headerLen: number;
  /** Number of extension headers walked. */
  extCount: number;
  hasHopByHop: boolean;
  /** Routing header type and Segments Left, -1 when there is no Routing header. */
  routingType: number;
  segmentsLeft: number;
  /** A Fragment header was found: */
  hasFragment: boolean;
  /** Offset of the Fragment header from the start of the packet (0 if none). */
  fragHeaderOff: number;
  /** Fragment offset in bytes, M flag, Identification. */
  fragOffset: number;
  mf: boolean;
  fragId: number;
  /** Offset from the start of the packet where the fragmentable part starts
   *  (just after the Fragment header); 0 if no Fragment header. */
  fragPayloadOff: number;
}

export function newIpv6Header(): Ipv6Header {
  return {
    trafficClass: 0,
    flowLabel: 0,
    payloadLen: 0,
    nextHeader: 0,
    hopLimit: 64,
    src: new Uint8Array(16),
    dst: new Uint8Array(16),
    proto: 0,
    headerLen: IPV6_HEADER_LEN,
    extCount: 0,
    hasHopByHop: false,
    routingType: -1,
    segmentsLeft: 0,
    hasFragment: false,
    fragHeaderOff: 0,
    fragOffset: 0,
    mf: false,
    fragId: 0,
    fragPayloadOff: 0,
  };
}

/**
 * Parse the IPv6 packet at `buf[off ..]` (`len` bytes, default to the end of
 * `buf`; bytes past 40 + payload length are ignored, as Linux trims them).
 * Returns null or why the packet is not valid. `walk` false stops after the
 * fixed header (`proto` = `nextHeader`, `headerLen` = 40).
 */
export function parseIpv6(
  buf: Uint8Array,
  out: Ipv6Header,
  off = 0,
  len = buf.length - off,
  walk = true,
): WireError | null {
  if (off < 0 || len < 0 || off + len > buf.length) return 'truncated';
  if (len < IPV6_HEADER_LEN) return 'truncated';
  if (buf[off] >> 4 !== 6) return 'bad-version';
  const plen = (buf[off + 4] << 8) | buf[off + 5];
  // Jumbograms (payload length 0 with a Jumbo option) are not supported: a
  // zero payload length is only valid for an empty payload here.
  if (IPV6_HEADER_LEN + plen > len) return 'truncated';
  out.trafficClass = ((buf[off] & 0x0f) << 4) | (buf[off + 1] >> 4);
  out.flowLabel = ((buf[off + 1] & 0x0f) << 16) | (buf[off + 2] << 8) | buf[off + 3];
  out.payloadLen = plen;
  out.nextHeader = buf[off + 6];
  out.hopLimit = buf[off + 7];
  const s = out.src;
  const d = out.dst;
  for (let i = 0; i < 16; i++) {
    s[i] = buf[off + 8 + i];
    d[i] = buf[off + 24 + i];
  }
  out.extCount = 0;
  out.hasHopByHop = false;
  out.routingType = -1;
  out.segmentsLeft = 0;
  out.hasFragment = false;
  out.fragHeaderOff = 0;
  out.fragOffset = 0;
  out.mf = false;
  out.fragId = 0;
  out.fragPayloadOff = 0;
  out.proto = out.nextHeader;
  out.headerLen = IPV6_HEADER_LEN;
  if (!walk) return null;
  return walkExtensions(buf, out, off, IPV6_HEADER_LEN + plen);
}

function walkExtensions(buf: Uint8Array, out: Ipv6Header, off: number, end: number): WireError | null {
  let nh = out.nextHeader;
  let p = IPV6_HEADER_LEN; // relative to off
  for (;;) {
    if (
      nh !== NEXTHDR_HOP &&
      nh !== NEXTHDR_ROUTING &&
      nh !== NEXTHDR_FRAGMENT &&
      nh !== NEXTHDR_DEST &&
      nh !== NEXTHDR_AUTH
    ) {
      out.proto = nh;
      out.headerLen = p;
      return null;
    }
    if (out.extCount >= MAX_EXT_HEADERS) return 'bad-ext-header';
    // RFC 8200 §4.1: Hop-by-Hop Options only directly after the fixed header.
    if (nh === NEXTHDR_HOP && p !== IPV6_HEADER_LEN) return 'bad-ext-header';
    if (p + 8 > end) return 'bad-ext-header';
    const at = off + p;
    const next = buf[at];
    let hlen: number;
    if (nh === NEXTHDR_FRAGMENT) {
      // RFC 8200 §4.5: fixed 8 bytes; only one Fragment header makes sense.
      if (out.hasFragment) return 'bad-fragment';
      hlen = 8;
      const fo = (buf[at + 2] << 8) | buf[at + 3];
      out.hasFragment = true;
      out.fragHeaderOff = p;
      out.fragOffset = fo & 0xfff8;
      out.mf = (fo & 1) !== 0;
      out.fragId = ((buf[at + 4] << 24) | (buf[at + 5] << 16) | (buf[at + 6] << 8) | buf[at + 7]) >>> 0;
      out.fragPayloadOff = p + 8;
    } else if (nh === NEXTHDR_AUTH) {
      hlen = (buf[at + 1] + 2) * 4; // RFC 4302 §2.2: length in 4-octet units, minus 2
    } else {
      hlen = (buf[at + 1] + 1) * 8; // RFC 8200 §4.3-4.6: 8-octet units, not counting the first 8
    }
    if (p + hlen > end) return 'bad-ext-header';
    if (nh === NEXTHDR_HOP || nh === NEXTHDR_DEST) {
      const err = checkTlvs(buf, at + 2, at + hlen);
      if (err) return err;
      if (nh === NEXTHDR_HOP) out.hasHopByHop = true;
    } else if (nh === NEXTHDR_ROUTING) {
      out.routingType = buf[at + 2];
      out.segmentsLeft = buf[at + 3];
    }
    out.extCount++;
    p += hlen;
    nh = next;
    // After a Fragment header of a non-first fragment the rest is payload
    // data, not headers: stop and report the protocol the fragment carries.
    if (out.hasFragment && out.fragOffset !== 0 && out.fragPayloadOff === p) {
      out.proto = nh;
      out.headerLen = p;
      return null;
    }
  }
}

/** RFC 8200 §4.2: Pad1 (type 0) is a single byte; others are type, length, data. */
function checkTlvs(buf: Uint8Array, p: number, end: number): WireError | null {
  while (p < end) {
    if (buf[p] === 0) {
      p++;
      continue;
    }
    if (p + 2 > end) return 'bad-option';
    const olen = buf[p + 1];
    if (p + 2 + olen > end) return 'bad-option';
    p += 2 + olen;
  }
  return null;
}

/**
 * Write the fixed 40-byte header of `h` at `buf[off ..]` (Next Header from
 * `h.nextHeader`, payload length from `h.payloadLen`). Returns 40.
 */
export function emitIpv6(h: Ipv6Header, buf: Uint8Array, off: number): number {
  return emitIpv6Fast(
    buf,
    off,
    h.payloadLen,
    h.nextHeader,
    h.hopLimit,
    h.trafficClass,
    h.flowLabel,
    h.src,
    h.dst,
  );
}

/** The output fast path: write the fixed header from plain values. Returns 40. */
export function emitIpv6Fast(
  buf: Uint8Array,
  off: number,
  payloadLen: number,
  nextHeader: number,
  hopLimit: number,
  trafficClass: number,
  flowLabel: number,
  src: Uint8Array,
  dst: Uint8Array,
): number {
  buf[off] = 0x60 | ((trafficClass >> 4) & 0x0f);
  buf[off + 1] = ((trafficClass & 0x0f) << 4) | ((flowLabel >> 16) & 0x0f);
  buf[off + 2] = flowLabel >> 8;
  buf[off + 3] = flowLabel;
  buf[off + 4] = payloadLen >> 8;
  buf[off + 5] = payloadLen;
  buf[off + 6] = nextHeader;
  buf[off + 7] = hopLimit;
  buf.set(src, off + 8);
  buf.set(dst, off + 24);
  return IPV6_HEADER_LEN;
}

/**
 * Write a Fragment header (RFC 8200 §4.5) at `buf[off ..]`: `nextHeader` is
 * the protocol of the fragmentable part, `fragOffset` in bytes (a multiple of
 * 8). Returns 8.
 */
export function emitIpv6Fragment(
  buf: Uint8Array,
  off: number,
  nextHeader: number,
  fragOffset: number,
  mf: boolean,
  id: number,
): number {
  buf[off] = nextHeader;
  buf[off + 1] = 0;
  const fo = (fragOffset & 0xfff8) | (mf ? 1 : 0);
  buf[off + 2] = fo >> 8;
  buf[off + 3] = fo;
  buf[off + 4] = id >>> 24;
  buf[off + 5] = id >>> 16;
  buf[off + 6] = id >>> 8;
  buf[off + 7] = id;
  return IPV6_FRAG_HEADER_LEN;
}
