/**
 * UDP header codec (RFC 768) and its checksum rules: optional over IPv4 (a
 * zero field means "none"), mandatory over IPv6 (RFC 8200 §8.1).
 */
import { finishChecksum, fold16, sum16 } from './checksum.js';
import type { WireError } from './errors.js';

export const UDP_HEADER_LEN = 8;
export const IPPROTO_UDP = 17;

const EMPTY = new Uint8Array(0);

export interface UdpHeader {
  srcPort: number;
  dstPort: number;
  /** The length field: header + payload in bytes. */
  length: number;
  /** The checksum field as on the wire (0 = none, IPv4 only). */
  checksum: number;
  /** Payload position in the parsed buffer and its length (length − 8); `payload` views the same bytes. */
  payloadOff: number;
  payloadLen: number;
  payload: Uint8Array;
}

export function newUdpHeader(): UdpHeader {
  return { srcPort: 0, dstPort: 0, length: 0, checksum: 0, payloadOff: 0, payloadLen: 0, payload: EMPTY };
}

/**
 * Parse the datagram `buf[off .. off+len)` (default: all of `buf`). The UDP
 * length field may be shorter than the range (bytes after it, e.g. link
 * padding, are not payload) but not longer ('bad-length'), nor below 8.
 * Checksum is not verified here (udpChecksumOk). Never throws.
 */
export function parseUdp(buf: Uint8Array, out: UdpHeader, off = 0, len = buf.length - off): WireError | null {
  if (off < 0 || len < 0 || off + len > buf.length) return 'truncated';
  if (len < UDP_HEADER_LEN) return 'truncated';
  const ulen = (buf[off + 4] << 8) | buf[off + 5];
  if (ulen < UDP_HEADER_LEN || ulen > len) return 'bad-length';
  out.srcPort = (buf[off] << 8) | buf[off + 1];
  out.dstPort = (buf[off + 2] << 8) | buf[off + 3];
  out.length = ulen;
  out.checksum = (buf[off + 6] << 8) | buf[off + 7];
  out.payloadOff = off + UDP_HEADER_LEN;
  out.payloadLen = ulen - UDP_HEADER_LEN;
  out.payload = ulen === UDP_HEADER_LEN ? EMPTY : buf.subarray(off + UDP_HEADER_LEN, off + ulen);
  return null;
}

/**
 * Write the 8-byte header at `buf[off]` with the fields of `hdr` as given
 * (length and checksum included; see udpFillChecksum). Returns 8. Throws
 * RangeError if it does not fit (a caller bug).
 */
export function emitUdp(hdr: UdpHeader, buf: Uint8Array, off: number): number {
  if (off < 0 || off + UDP_HEADER_LEN > buf.length)
    throw new RangeError('UDP header does not fit in the buffer');
  buf[off] = hdr.srcPort >>> 8;
  buf[off + 1] = hdr.srcPort;
  buf[off + 2] = hdr.dstPort >>> 8;
  buf[off + 3] = hdr.dstPort;
  buf[off + 4] = hdr.length >>> 8;
  buf[off + 5] = hdr.length;
  buf[off + 6] = hdr.checksum >>> 8;
  buf[off + 7] = hdr.checksum;
  return UDP_HEADER_LEN;
}

/**
 * Compute and store the checksum of the datagram `buf[off .. off+len)` given
 * the pseudo-header partial sum. A computed 0 is sent as 0xffff (RFC 768:
 * zero means "no checksum"). Returns the value written.
 */
export function udpFillChecksum(buf: Uint8Array, off: number, len: number, pseudoSum: number): number {
  buf[off + 6] = 0;
  buf[off + 7] = 0;
  let c = finishChecksum(sum16(buf, off, len, pseudoSum));
  if (c === 0) c = 0xffff;
  buf[off + 6] = c >>> 8;
  buf[off + 7] = c;
  return c;
}

/**
 * True when the datagram's checksum verifies. A zero checksum field means
 * "not computed": accepted over IPv4, rejected over IPv6 where the checksum is
 * mandatory (RFC 8200 §8.1; Linux drops such datagrams and counts
 * UdpInCsumErrors unless a tunnel socket opted in to zero checksums, which usnet does not offer).
 */
export function udpChecksumOk(
  buf: Uint8Array,
  off: number,
  len: number,
  pseudoSum: number,
  family: 4 | 6,
): boolean {
  if (buf[off + 6] === 0 && buf[off + 7] === 0) return family === 4;
  return fold16(sum16(buf, off, len, pseudoSum)) === 0xffff;
}
