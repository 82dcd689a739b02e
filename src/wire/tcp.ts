/**
 * TCP header codec (RFC 9293 §3.1). `parseTcp` fills a caller-owned, reusable
 * `TcpHeader` (options decoded into fields by `tcp-options.ts`); `emitTcp`
 * writes a header plus options. Neither allocates except for the `payload`
 * subarray view. Checksums are separate steps because they need the IP
 * pseudo-header (`pseudoSumV4/6` in checksum.ts).
 */
import { checksumOk, finishChecksum, sum16 } from './checksum.js';
import type { WireError } from './errors.js';
import {
  linuxOptionsLen,
  parseTcpOptionsInto,
  resetTcpOptions,
  type TcpOption,
  tcpOptionListLen,
  writeLinuxOptions,
  writeTcpOptionList,
} from './tcp-options.js';

/** Flag bits of `TcpHeader.flags`: byte 13 of the header, plus AE (RFC 9768) from byte 12. */
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;
/** AccECN "AE" bit (RFC 9768), formerly NS (RFC 3540); the low bit of byte 12. */
export const TCP_AE = 0x100;

/** Fixed header length in bytes. */
export const TCP_HEADER_LEN = 20;
/** At most 40 bytes of options (data offset ≤ 15 words). */
export const TCP_MAX_OPTIONS_LEN = 40;
export const IPPROTO_TCP = 6;

const EMPTY = new Uint8Array(0);

export interface TcpHeader {
  srcPort: number;
  dstPort: number;
  /** Sequence number, unsigned 32-bit; compare with seq.ts. */
  seq: number;
  /** Acknowledgment number, unsigned 32-bit (meaningful when ACK is set). */
  ack: number;
  /** Header length in BYTES including options (20..60); the wire field is this / 4. Set by parse; emit computes it. */
  dataOffset: number;
  /** TCP_FIN | TCP_SYN | ... ; bits 8..11 are byte 12's low nibble (TCP_AE and three reserved bits). */
  flags: number;
  /** Raw window field (not scaled). */
  window: number;
  checksum: number;
  urgent: number;

  // Options decoded by parse / written by emitTcp without an explicit list.
  // Absent options are -1 / false / 0. Parsing does not judge whether an option
  // is allowed on this segment (e.g. MSS on a non-SYN): TCP input decides, as Linux
  // reads MSS, window scale and SACK-permitted only on SYNs.
  /** MSS (kind 2), -1 when absent. */
  mss: number;
  /** Window-scale shift count (kind 3) as sent (not clamped to 14), -1 when absent. */
  wscale: number;
  /** SACK-permitted (kind 4) present. */
  sackOk: boolean;
  /** Timestamps (kind 8) present; then tsVal/tsEcr are valid. */
  hasTs: boolean;
  tsVal: number;
  tsEcr: number;
  /** SACK blocks (kind 5): left edge at [2i], right edge at [2i+1], for i < sackCount. */
  sackBlocks: Uint32Array;
  sackCount: number;
  /** Number of options of unknown kind that were skipped by their length. */
  unknownOptions: number;

  /** Payload position in the parsed buffer and its length; `payload` is the same bytes as a view. */
  payloadOff: number;
  payloadLen: number;
  payload: Uint8Array;
}

/** A blank header (all zero, options absent): allocate once, reuse for every parse/emit. */
export function newTcpHeader(): TcpHeader {
  return {
    srcPort: 0,
    dstPort: 0,
    seq: 0,
    ack: 0,
    dataOffset: TCP_HEADER_LEN,
    flags: 0,
    window: 0,
    checksum: 0,
    urgent: 0,
    mss: -1,
    wscale: -1,
    sackOk: false,
    hasTs: false,
    tsVal: 0,
    tsEcr: 0,
    sackBlocks: new Uint32Array(8),
    sackCount: 0,
    unknownOptions: 0,
    payloadOff: 0,
    payloadLen: 0,
    payload: EMPTY,
  };
}

/**
 * Parse the TCP segment `buf[off .. off+len)` (default: all of `buf`) into
 * `out`. Returns null on success or why it failed: 'truncated' (shorter than
 * 20 bytes or the range exceeds `buf`), 'bad-header-length' (data offset < 5
 * words or past the segment end) — then `out` is partial and must not be
 * used — or 'bad-option' (a malformed option length, see tcp-options.ts):
 * then `out` is complete, payload included, and its option fields hold what
 * Linux would act on (Linux processes such segments rather than dropping
 * them). Does not verify the checksum (see tcpChecksumOk). Never throws,
 * never reads outside the range.
 */
export function parseTcp(buf: Uint8Array, out: TcpHeader, off = 0, len = buf.length - off): WireError | null {
  if (off < 0 || len < 0 || off + len > buf.length) return 'truncated';
  if (len < TCP_HEADER_LEN) return 'truncated';
  const doff = (buf[off + 12] >>> 4) << 2;
  if (doff < TCP_HEADER_LEN || doff > len) return 'bad-header-length';
  out.srcPort = (buf[off] << 8) | buf[off + 1];
  out.dstPort = (buf[off + 2] << 8) | buf[off + 3];
  out.seq = ((buf[off + 4] << 24) | (buf[off + 5] << 16) | (buf[off + 6] << 8) | buf[off + 7]) >>> 0;
  out.ack = ((buf[off + 8] << 24) | (buf[off + 9] << 16) | (buf[off + 10] << 8) | buf[off + 11]) >>> 0;
  out.dataOffset = doff;
  out.flags = ((buf[off + 12] & 0x0f) << 8) | buf[off + 13];
  out.window = (buf[off + 14] << 8) | buf[off + 15];
  out.checksum = (buf[off + 16] << 8) | buf[off + 17];
  out.urgent = (buf[off + 18] << 8) | buf[off + 19];
  resetTcpOptions(out);
  const o = off + TCP_HEADER_LEN;
  let err: WireError | null = null;
  if (
    doff === TCP_HEADER_LEN + 12 &&
    buf[o] === 1 &&
    buf[o + 1] === 1 &&
    buf[o + 2] === 8 &&
    buf[o + 3] === 10
  ) {
    // Fast path for the layout Linux (and most stacks) put on every data
    // segment and ACK once timestamps are on: NOP, NOP, TS (RFC 7323
    // Appendix A). Same result as the general walk.
    out.hasTs = true;
    out.tsVal = ((buf[o + 4] << 24) | (buf[o + 5] << 16) | (buf[o + 6] << 8) | buf[o + 7]) >>> 0;
    out.tsEcr = ((buf[o + 8] << 24) | (buf[o + 9] << 16) | (buf[o + 10] << 8) | buf[o + 11]) >>> 0;
  } else if (doff > TCP_HEADER_LEN) {
    err = parseTcpOptionsInto(buf, o, off + doff, out);
  }
  out.payloadOff = off + doff;
  out.payloadLen = len - doff;
  out.payload = out.payloadLen === 0 ? EMPTY : buf.subarray(off + doff, off + len);
  return err;
}

/** Bytes `emitTcp(hdr, ..., opts)` will write: 20 plus the options padded to 4. */
export function tcpHeaderLen(hdr: TcpHeader, opts?: readonly TcpOption[] | null): number {
  const o = opts ? tcpOptionListLen(opts) : linuxOptionsLen(hdr);
  return TCP_HEADER_LEN + ((o + 3) & ~3);
}

/**
 * Write the TCP header of `hdr` at `buf[off]` and return its length (the data
 * offset, which is computed, not taken from `hdr.dataOffset`). Options come
 * from `opts` when given (written in that order, zero-padded to a multiple of
 * 4), otherwise from the option fields of `hdr` in Linux's layout (see
 * `writeLinuxOptions`). The checksum field is written as `hdr.checksum`;
 * call `tcpFillChecksum` once the payload is in place. Throws RangeError if
 * the options exceed 40 bytes or the header does not fit in `buf` (a caller
 * bug, never input-dependent on the receive path).
 */
export function emitTcp(
  hdr: TcpHeader,
  buf: Uint8Array,
  off: number,
  opts?: readonly TcpOption[] | null,
): number {
  const hlen = tcpHeaderLen(hdr, opts);
  if (hlen > TCP_HEADER_LEN + TCP_MAX_OPTIONS_LEN) throw new RangeError(`TCP options too long: ${hlen - 20}`);
  if (off < 0 || off + hlen > buf.length) throw new RangeError('TCP header does not fit in the buffer');
  buf[off] = hdr.srcPort >>> 8;
  buf[off + 1] = hdr.srcPort;
  buf[off + 2] = hdr.dstPort >>> 8;
  buf[off + 3] = hdr.dstPort;
  const s = hdr.seq;
  buf[off + 4] = s >>> 24;
  buf[off + 5] = s >>> 16;
  buf[off + 6] = s >>> 8;
  buf[off + 7] = s;
  const a = hdr.ack;
  buf[off + 8] = a >>> 24;
  buf[off + 9] = a >>> 16;
  buf[off + 10] = a >>> 8;
  buf[off + 11] = a;
  buf[off + 12] = ((hlen >>> 2) << 4) | ((hdr.flags >>> 8) & 0x0f);
  buf[off + 13] = hdr.flags;
  buf[off + 14] = hdr.window >>> 8;
  buf[off + 15] = hdr.window;
  buf[off + 16] = hdr.checksum >>> 8;
  buf[off + 17] = hdr.checksum;
  buf[off + 18] = hdr.urgent >>> 8;
  buf[off + 19] = hdr.urgent;
  let o = off + TCP_HEADER_LEN;
  o = opts ? writeTcpOptionList(opts, buf, o) : writeLinuxOptions(hdr, buf, o);
  // Pad with EOL (zero) bytes to the 32-bit boundary (RFC 9293 §3.1 "Padding").
  const end = off + hlen;
  while (o < end) buf[o++] = 0;
  return hlen;
}

/**
 * Compute and store the checksum of the segment `buf[off .. off+len)`
 * (header + payload), given the pseudo-header partial sum (`pseudoSumV4(src,
 * dst, 6, len)` or `pseudoSumV6`). Returns the value written.
 */
export function tcpFillChecksum(buf: Uint8Array, off: number, len: number, pseudoSum: number): number {
  buf[off + 16] = 0;
  buf[off + 17] = 0;
  const c = finishChecksum(sum16(buf, off, len, pseudoSum));
  buf[off + 16] = c >>> 8;
  buf[off + 17] = c;
  return c;
}

/** True when the segment `buf[off .. off+len)` verifies against the pseudo-header partial sum. */
export function tcpChecksumOk(buf: Uint8Array, off: number, len: number, pseudoSum: number): boolean {
  return checksumOk(buf, off, len, pseudoSum);
}
