/**
 * The Internet checksum (RFC 1071) and the IPv4/IPv6 pseudo-header sums that
 * TCP, UDP and ICMPv6 add to it (RFC 9293 §3.1, RFC 768, RFC 8200 §8.1).
 *
 * Speed matters: every segment in and out is summed. The bulk of a buffer is
 * read as native 32-bit words through a Uint32Array over the whole
 * ArrayBuffer (cached for the last buffer seen, so pooled packet buffers pay
 * no allocation), accumulated in doubles (exact up to 2^53), and folded once
 * at the end. RFC 1071 §2(B): the ones'-complement sum is byte-order
 * independent up to a final byte swap, so summing little-endian words and
 * swapping the 16-bit result gives the network-order sum.
 *
 * Sums are "partial": unfolded, uncomplemented non-negative numbers that may
 * be added together (e.g. pseudo-header + segment) and then passed through
 * `fold16`. Keep a partial sum below 2^53 (a few thousand 64 KiB buffers).
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// Single-entry view cache: packet buffers come from pools, so consecutive
// calls mostly hit the same ArrayBuffer and need no new view.
let cachedBuffer: ArrayBufferLike | null = null;
let cachedWords: Uint32Array = new Uint32Array(0);

function wordsOf(ab: ArrayBufferLike): Uint32Array | null {
  if (ab === cachedBuffer) return cachedWords;
  // A resizable/growable buffer could shrink under a fixed-length view; such
  // buffers take the byte loop instead.
  const r = ab as { resizable?: boolean; growable?: boolean };
  if (r.resizable === true || r.growable === true) return null;
  cachedWords = new Uint32Array(ab, 0, ab.byteLength >>> 2);
  cachedBuffer = ab;
  return cachedWords;
}

/** Below this many bytes the plain byte loop is as fast as the word loop. */
const WORD_LOOP_MIN = 32;

/** Byte loop: network-order 16-bit words of buf[i..end), weights relative to index `base`. */
function sumBytes(buf: Uint8Array, i: number, end: number, base: number): number {
  let s = 0;
  if (((i - base) & 1) !== 0 && i < end) {
    s += buf[i];
    i++;
  }
  for (; i + 1 < end; i += 2) s += (buf[i] << 8) | buf[i + 1];
  if (i < end) s += buf[i] << 8;
  return s;
}

/**
 * The ones'-complement partial sum of `buf[off .. off+len)` as network-order
 * 16-bit words (an odd trailing byte is padded with zero), plus `acc`.
 * Reads are clamped to `buf.length`. The result is not folded: pass it to
 * `fold16` (or add more partial sums first).
 */
export function sum16(buf: Uint8Array, off: number, len: number, acc = 0): number {
  let end = off + len;
  if (end > buf.length) end = buf.length;
  if (off < 0) off = 0;
  if (end - off < WORD_LOOP_MIN) return acc + sumBytes(buf, off, end, off);
  const words = wordsOf(buf.buffer);
  if (words === null) return acc + sumBytes(buf, off, end, off);

  // Leading bytes up to 4-byte alignment of the underlying buffer.
  const lead = (4 - ((buf.byteOffset + off) & 3)) & 3;
  let s = lead === 0 ? 0 : sumBytes(buf, off, off + lead, off);
  const start = off + lead;
  let w = (buf.byteOffset + start) >>> 2;
  let n = (end - start) >>> 2;
  const tail = start + n * 4;

  let t = 0;
  while (n > 0) {
    // Doubles hold 2^53 exactly: 2^20 words of < 2^32 each never overflow.
    let chunk = Math.min(n, 0x100000);
    n -= chunk;
    let a = 0;
    let b = 0;
    while (chunk >= 16) {
      a +=
        words[w] +
        words[w + 1] +
        words[w + 2] +
        words[w + 3] +
        words[w + 4] +
        words[w + 5] +
        words[w + 6] +
        words[w + 7];
      b +=
        words[w + 8] +
        words[w + 9] +
        words[w + 10] +
        words[w + 11] +
        words[w + 12] +
        words[w + 13] +
        words[w + 14] +
        words[w + 15];
      w += 16;
      chunk -= 16;
    }
    while (chunk > 0) {
      a += words[w];
      w++;
      chunk--;
    }
    t = fold16(t + a + b);
  }
  // t is the sum of the word region as native-order 16-bit lanes. On a
  // little-endian machine each lane is byte-swapped relative to network
  // order; an odd `lead` shifts the region by one byte, which swaps again.
  if (LITTLE_ENDIAN !== ((lead & 1) === 1)) t = ((t & 0xff) << 8) | (t >>> 8);
  s += t;
  if (tail < end) s += sumBytes(buf, tail, end, off);
  return acc + s;
}

/** Fold a non-negative partial sum (< 2^53) into 16 bits with end-around carry. */
export function fold16(x: number): number {
  while (x > 0x7fffffff) x = (x % 0x10000) + Math.floor(x / 0x10000);
  x = (x & 0xffff) + (x >>> 16);
  x = (x & 0xffff) + (x >>> 16);
  return x;
}

/** The Internet checksum of `buf[off .. off+len)`: the complement of the folded sum. */
export function checksum(buf: Uint8Array, off: number, len: number, acc = 0): number {
  return ~fold16(sum16(buf, off, len, acc)) & 0xffff;
}

/** Complement of a folded partial sum, i.e. the value to put in a checksum field. */
export function finishChecksum(partial: number): number {
  return ~fold16(partial) & 0xffff;
}

/**
 * True when a region that contains its own checksum field verifies: the
 * folded sum (plus pseudo-header partial sum `acc`) is 0xffff (RFC 1071 §1).
 */
export function checksumOk(buf: Uint8Array, off: number, len: number, acc = 0): boolean {
  return fold16(sum16(buf, off, len, acc)) === 0xffff;
}

/**
 * Partial sum of the IPv4 pseudo-header (RFC 9293 §3.1, RFC 768): source and
 * destination address, zero, protocol, upper-layer length. `src`/`dst` are
 * read at `srcOff`/`dstOff` (default 0) so header bytes can be used in place.
 */
export function pseudoSumV4(
  src: Uint8Array,
  dst: Uint8Array,
  proto: number,
  len: number,
  srcOff = 0,
  dstOff = 0,
): number {
  return (
    ((src[srcOff] << 8) | src[srcOff + 1]) +
    ((src[srcOff + 2] << 8) | src[srcOff + 3]) +
    ((dst[dstOff] << 8) | dst[dstOff + 1]) +
    ((dst[dstOff + 2] << 8) | dst[dstOff + 3]) +
    proto +
    (len & 0xffff)
  );
}

/**
 * Partial sum of the IPv6 pseudo-header (RFC 8200 §8.1): 16-byte source and
 * destination, 32-bit upper-layer length, next header.
 */
export function pseudoSumV6(
  src: Uint8Array,
  dst: Uint8Array,
  proto: number,
  len: number,
  srcOff = 0,
  dstOff = 0,
): number {
  let s = proto + (len >>> 16) + (len & 0xffff);
  for (let i = 0; i < 16; i += 2) {
    s += ((src[srcOff + i] << 8) | src[srcOff + i + 1]) + ((dst[dstOff + i] << 8) | dst[dstOff + i + 1]);
  }
  return s;
}

/**
 * RFC 1624 eqn. 3 incremental update: the new checksum field value after a
 * 16-bit word covered by `csum` changes from `oldWord` to `newWord`
 * (HC' = ~(~HC + ~m + m')). Used e.g. for TTL decrement or NAT-style rewrites.
 */
export function checksumUpdate16(csum: number, oldWord: number, newWord: number): number {
  return ~fold16((~csum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff)) & 0xffff;
}

/** As `checksumUpdate16` for a 32-bit field (e.g. an IPv4 address or sequence number). */
export function checksumUpdate32(csum: number, oldValue: number, newValue: number): number {
  return (
    ~fold16(
      (~csum & 0xffff) +
        (~(oldValue >>> 16) & 0xffff) +
        (~oldValue & 0xffff) +
        (newValue >>> 16) +
        (newValue & 0xffff),
    ) & 0xffff
  );
}
