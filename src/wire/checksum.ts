/**
 * The Internet checksum (RFC 1071) and the IPv4/IPv6 pseudo-header sums that
 * TCP, UDP and ICMPv6 add to it (RFC 9293 §3.1, RFC 768, RFC 8200 §8.1).
 *
 * Speed matters: every segment in and out is summed. Three paths, chosen per
 * call, all giving the same result:
 *
 *  1. WebAssembly SIMD over the buffer in place, when the buffer lives in
 *     WebAssembly memory (allocate it with `wireBuffer(size)`): 16 bytes per
 *     load, `i32x4.extadd_pairwise_i16x8_u` into 32-bit lanes. ~40-50 GB/s,
 *     close to the speed of a memory copy.
 *  2. The same kernel after copying the bytes into a staging area, for any
 *     other buffer of a few hundred bytes or more: a copy plus the SIMD sum
 *     still beats scalar JS by 2-3x.
 *  3. Portable JS (`sum16Portable`): native 32-bit words through a
 *     Uint32Array over the whole ArrayBuffer (cached for the last buffer
 *     seen), accumulated in doubles (exact up to 2^53), folded once. Used for
 *     short spans and where WebAssembly SIMD is unavailable (old engines,
 *     a Content-Security-Policy without 'wasm-unsafe-eval').
 *
 * RFC 1071 §2(B): the ones'-complement sum is byte-order independent up to a
 * final byte swap, so summing little-endian words and swapping the folded
 * 16-bit result gives the network-order sum.
 *
 * Sums are "partial": unfolded, uncomplemented non-negative numbers that may
 * be added together (e.g. pseudo-header + segment) and then passed through
 * `fold16`. Keep a partial sum below 2^53 (a few thousand 64 KiB buffers).
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// Single-entry caches. In Node 20's V8, reading `.buffer` (~20 ns) and
// `.byteOffset` (~10 ns) of a typed array are not inlined; packet buffers come
// from pools, so remember them for the last array (and ArrayBuffer) seen.
let wordsArray: Uint8Array | null = null;
let wordsByteOffset = 0;
let wordsBuffer: ArrayBufferLike | null = null;
let cachedWords: Uint32Array | null = null;

/** A Uint32Array over all of buf's ArrayBuffer (null for resizable buffers); sets wordsByteOffset. */
function wordsOf(buf: Uint8Array): Uint32Array | null {
  if (buf === wordsArray) return cachedWords;
  const ab = buf.buffer;
  wordsArray = buf;
  wordsByteOffset = buf.byteOffset;
  if (ab !== wordsBuffer) {
    wordsBuffer = ab;
    // A resizable/growable buffer could shrink under a fixed-length view; such
    // buffers take the byte loop instead.
    const r = ab as { resizable?: boolean; growable?: boolean };
    cachedWords =
      r.resizable === true || r.growable === true ? null : new Uint32Array(ab, 0, ab.byteLength >>> 2);
  }
  return cachedWords;
}

/** Below this many bytes the byte loop beats the word loop (which must look up the buffer). */
const WORD_LOOP_MIN = 256;

/** Byte loop: network-order 16-bit words of buf[i..end), weights relative to index `base`. */
function sumBytes(buf: Uint8Array, i: number, end: number, base: number): number {
  let s = 0;
  if (((i - base) & 1) !== 0 && i < end) {
    s += buf[i];
    i++;
  }
  for (; i + 7 < end; i += 8) {
    s +=
      ((buf[i] << 8) | buf[i + 1]) +
      ((buf[i + 2] << 8) | buf[i + 3]) +
      ((buf[i + 4] << 8) | buf[i + 5]) +
      ((buf[i + 6] << 8) | buf[i + 7]);
  }
  for (; i + 1 < end; i += 2) s += (buf[i] << 8) | buf[i + 1];
  if (i < end) s += buf[i] << 8;
  return s;
}

/**
 * `sum16` without WebAssembly: the portable JS path (exported for tests and
 * the benchmark; use `sum16`).
 */
export function sum16Portable(buf: Uint8Array, off: number, len: number, acc = 0): number {
  if (off < 0) off = 0;
  let end = off + len;
  if (end > buf.length) end = buf.length;
  if (end - off < WORD_LOOP_MIN) return acc + sumBytes(buf, off, end, off);
  const words = wordsOf(buf);
  if (words === null) return acc + sumBytes(buf, off, end, off);

  // Leading bytes up to 4-byte alignment of the underlying buffer.
  const lead = (4 - ((wordsByteOffset + off) & 3)) & 3;
  let s = lead === 0 ? 0 : sumBytes(buf, off, off + lead, off);
  const start = off + lead;
  let w = (wordsByteOffset + start) >>> 2;
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

// ---- WebAssembly SIMD kernel ----
//
// One function, sum(ptr: i32, n: i32) -> f64: the sum of the little-endian
// 16-bit words of memory[ptr .. ptr+n) (an odd last byte counts as a word with
// a zero high byte). Main loop: four 16-byte loads, each widened pairwise to
// 4 x u32 and added into a v128 accumulator. A lane gains at most 4 * 131070
// per 64 bytes, so lanes are flushed into an i64 total every 256 KiB, long
// before they could wrap. Then 16-byte blocks, 2-byte words and a last byte.
// Hand-assembled (the module is ~280 bytes; no toolchain needed):
//
//   (func (param $p i32) (param $n i32) (result f64)
//     (local $acc v128) (local $total i64) (local $end i32) (local $chunkEnd i32) (local $bulkEnd i32)
//     end = p + n ; bulkEnd = p + (n & -64)
//     block loop                                   ;; 64-byte blocks
//       br_if 1 (p >= bulkEnd)
//       chunkEnd = (bulkEnd - p > 256K) ? p + 256K : bulkEnd ; acc = 0
//       loop acc += (pw(load p) + pw(load p+16)) + (pw(load p+32) + pw(load p+48))
//            p += 64 ; br_if 0 (p < chunkEnd) end
//       total += lane0 + lane1 + lane2 + lane3 ; br 0
//     end end
//     acc = 0
//     block loop br_if 1 (p + 16 > end) ; acc += pw(load p) ; p += 16 ; br 0 end end
//     total += lanes
//     block loop br_if 1 (p + 2 > end) ; total += load16_u p ; p += 2 ; br 0 end end
//     if (p < end) total += load8_u p
//     f64.convert_i64_u total)
const CHUNK = [0x80, 0x80, 0x10]; // i32.const 262144 (signed LEB128)
const GET = 0x20;
const SET = 0x21;
const TEE = 0x22;
const P = 0; // locals
const N = 1;
const ACC = 2;
const TOTAL = 3;
const END = 4;
const CHUNK_END = 5;
const BULK_END = 6;
const LOAD_PW = (offset: number) => [GET, P, 0xfd, 0x00, 0x00, offset, 0xfd, 0x7f]; // v128.load; i32x4.extadd_pairwise_i16x8_u
const I32X4_ADD = [0xfd, 0xae, 0x01];
const LANE = (i: number) => [GET, ACC, 0xfd, 0x1b, i, 0xad, 0x7c]; // i32x4.extract_lane; i64.extend_i32_u; i64.add
const ADD_LANES = [GET, TOTAL, ...LANE(0), ...LANE(1), ...LANE(2), ...LANE(3), SET, TOTAL];
const ZERO_ACC = [0xfd, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, SET, ACC];
const ADVANCE = (k: number) => [GET, P, 0x41, ...(k === 64 ? [0xc0, 0x00] : [k]), 0x6a, TEE, P]; // p += k (leaves p)
// biome-ignore format: one instruction group per line
const KERNEL_BODY = [
  0x03, 0x01, 0x7b, 0x01, 0x7e, 0x03, 0x7f, // locals: v128, i64, 3 x i32
  GET, P, GET, N, 0x6a, SET, END, // end = p + n
  GET, P, GET, N, 0x41, 0x40, 0x71, 0x6a, SET, BULK_END, // bulkEnd = p + (n & -64)
  0x02, 0x40, 0x03, 0x40, // block, loop
  GET, P, GET, BULK_END, 0x4f, 0x0d, 1, // br_if 1 (p >= bulkEnd)
  GET, P, 0x41, ...CHUNK, 0x6a, GET, BULK_END, // p + CHUNK, bulkEnd
  GET, BULK_END, GET, P, 0x6b, 0x41, ...CHUNK, 0x4b, 0x1b, SET, CHUNK_END, // select(bulkEnd - p > CHUNK)
  ...ZERO_ACC,
  0x03, 0x40, // loop
  GET, ACC,
  ...LOAD_PW(0), ...LOAD_PW(16), ...I32X4_ADD,
  ...LOAD_PW(32), ...LOAD_PW(48), ...I32X4_ADD,
  ...I32X4_ADD, ...I32X4_ADD, SET, ACC,
  ...ADVANCE(64), GET, CHUNK_END, 0x49, 0x0d, 0, // br_if 0 (p < chunkEnd)
  0x0b, // end inner loop
  ...ADD_LANES,
  0x0c, 0, // br 0 (outer loop)
  0x0b, 0x0b, // end loop, end block
  ...ZERO_ACC,
  0x02, 0x40, 0x03, 0x40, // block, loop: 16-byte blocks
  GET, P, 0x41, 16, 0x6a, GET, END, 0x4b, 0x0d, 1, // br_if 1 (p + 16 > end)
  GET, ACC, ...LOAD_PW(0), ...I32X4_ADD, SET, ACC,
  ...ADVANCE(16), 0x1a, // drop
  0x0c, 0, 0x0b, 0x0b, // br 0, end, end
  ...ADD_LANES,
  0x02, 0x40, 0x03, 0x40, // block, loop: 2-byte words
  GET, P, 0x41, 2, 0x6a, GET, END, 0x4b, 0x0d, 1, // br_if 1 (p + 2 > end)
  GET, TOTAL, GET, P, 0x2f, 0x01, 0x00, 0xad, 0x7c, SET, TOTAL, // total += i32.load16_u p
  ...ADVANCE(2), 0x1a, // drop
  0x0c, 0, 0x0b, 0x0b, // br 0, end, end
  GET, P, GET, END, 0x49, 0x04, 0x40, // if (p < end)
  GET, TOTAL, GET, P, 0x2d, 0x00, 0x00, 0xad, 0x7c, SET, TOTAL, // total += i32.load8_u p
  0x0b, // end if
  GET, TOTAL, 0xba, // f64.convert_i64_u total
  0x0b,
];

function leb128(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function kernelModule(): Uint8Array {
  const section = (id: number, bytes: number[]) => [id, ...leb128(bytes.length), ...bytes];
  const name = (s: string) => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
  // biome-ignore format: one section per line
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm" version 1
    ...section(1, [1, 0x60, 2, 0x7f, 0x7f, 1, 0x7c]), // type 0: (i32, i32) -> f64
    ...section(2, [1, ...name('m'), ...name('mem'), 0x02, 0x00, 0x01]), // import m.mem: memory, min 1 page
    ...section(3, [1, 0]), // func 0 has type 0
    ...section(7, [1, ...name('sum'), 0x00, 0]), // export "sum" = func 0
    ...section(10, [1, ...leb128(KERNEL_BODY.length), ...KERNEL_BODY]),
  ];
  return new Uint8Array(bytes);
}

type Kernel = (ptr: number, n: number) => number;

interface WasmApi {
  memory: WebAssembly.Memory;
  sum: Kernel;
}

// The module is compiled once; each memory gets its own instance (an imported
// memory binds an instance to it).
let wasmModule: WebAssembly.Module | null = null;
try {
  if (typeof WebAssembly === 'object') wasmModule = new WebAssembly.Module(kernelModule() as BufferSource);
} catch {
  wasmModule = null; // no SIMD support, or compilation forbidden: the JS path serves
}

function instantiate(pages: number): WasmApi | null {
  if (wasmModule === null) return null;
  try {
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const inst = new WebAssembly.Instance(wasmModule, { m: { mem: memory } });
    return { memory, sum: inst.exports.sum as Kernel };
  } catch {
    return null;
  }
}

/** Staging area for path 2: bytes are copied here in chunks of up to 64 KiB. */
const STAGE_BYTES = 65536;
const stage = instantiate(STAGE_BYTES / 65536);
const stageBytes = stage === null ? null : new Uint8Array(stage.memory.buffer);

/** Kernel for each WebAssembly memory handed out by wireBuffer, keyed by its ArrayBuffer. */
const arenaKernels = new WeakMap<ArrayBufferLike, Kernel>();
// The last array seen by sum16's WebAssembly path: its kernel (null = not in
// WebAssembly memory) and byte offset.
let lastArray: Uint8Array | null = null;
let lastKernel: Kernel | null = null;
let lastByteOffset = 0;
// ... and the last ArrayBuffer seen there, with its kernel.
let lastBuffer: ArrayBufferLike | null = null;
let lastBufferKernel: Kernel | null = null;

const ARENA_BYTES = 4 << 20;
let arena: Uint8Array | null = null;
let arenaTop = 0;

/**
 * A zeroed buffer of `size` bytes that `sum16`/`checksum` read in place with
 * the SIMD kernel (it lives in WebAssembly memory). Allocate packet-buffer
 * pools with it once, not per packet: space is carved from 4 MiB arenas that
 * are released only when every buffer in them is unreachable. Buffers over
 * 1 MiB, or all buffers when WebAssembly SIMD is unavailable, are plain
 * Uint8Arrays (checksummed through the copy or JS path). Each buffer starts on
 * a 64-byte boundary.
 */
export function wireBuffer(size: number): Uint8Array {
  if (wasmModule === null || size > ARENA_BYTES / 4) return new Uint8Array(size);
  if (arena === null || arenaTop + size > arena.length) {
    const api = instantiate(ARENA_BYTES / 65536);
    if (api === null) return new Uint8Array(size);
    arena = new Uint8Array(api.memory.buffer);
    arenaKernels.set(api.memory.buffer, api.sum);
    arenaTop = 0;
  }
  const view = new Uint8Array(arena.buffer, arenaTop, size);
  arenaTop += (size + 63) & ~63;
  return view;
}

/**
 * A zeroed buffer of at least `size` bytes in a WebAssembly memory of its
 * own (whole 64 KiB pages), which `sum16`/`checksum` read in place; a plain
 * Uint8Array when WebAssembly SIMD is unavailable. For long-lived rings that
 * reuse their memory (MemoryWire's frame arenas): a fresh WebAssembly memory
 * costs page faults on first touch, so allocate once and recycle.
 */
export function wireMemory(size: number): Uint8Array {
  const pages = Math.max(1, Math.ceil(size / 65536));
  const api = instantiate(pages);
  if (api === null) return new Uint8Array(size);
  arenaKernels.set(api.memory.buffer, api.sum);
  return new Uint8Array(api.memory.buffer);
}

/** Which implementation serves large sums: 'wasm-simd' or 'js'. */
export function checksumBackend(): 'wasm-simd' | 'js' {
  return stage !== null ? 'wasm-simd' : 'js';
}

/**
 * Spans shorter than these stay in JS: below them a WebAssembly call (~8 ns)
 * or the call plus a copy into the staging area costs more than the byte loop
 * (which runs at ~2 GB/s).
 */
const IN_PLACE_MIN = 32;
const STAGED_MIN = 128;

function swap16(x: number): number {
  return ((x & 0xff) << 8) | (x >>> 8);
}

/**
 * The ones'-complement partial sum of `buf[off .. off+len)` as network-order
 * 16-bit words (an odd trailing byte is padded with zero), plus `acc`.
 * Reads are clamped to `buf.length`. The result is not folded: pass it to
 * `fold16` (or add more partial sums first).
 */
export function sum16(buf: Uint8Array, off: number, len: number, acc = 0): number {
  if (off < 0) off = 0;
  let end = off + len;
  if (end > buf.length) end = buf.length;
  // Headers (IPv4 20 B, pure ACKs 20-32 B) take the byte loop right here: this
  // function stays small enough for the optimiser to inline into callers.
  if (end - off < IN_PLACE_MIN) return acc + sumBytes(buf, off, end, off);
  return acc + sumLong(buf, off, end - off);
}

/** sum16 for spans of IN_PLACE_MIN bytes or more (off, n already clamped). */
function sumLong(buf: Uint8Array, off: number, n: number): number {
  if (stage === null) return sum16Portable(buf, off, n);
  if (buf !== lastArray) {
    // Learning an array costs ~35 ns (.buffer, .byteOffset, a WeakMap lookup):
    // not worth it for a short span of an array seen once (e.g. a received ACK).
    if (n < STAGED_MIN) return sum16Portable(buf, off, n);
    lastArray = buf;
    // Frames are views that come and go over a few long-lived buffers (a
    // wire's arena): the WeakMap lookup is needed only when the buffer changes.
    const ab = buf.buffer;
    if (ab !== lastBuffer) {
      lastBuffer = ab;
      lastBufferKernel = arenaKernels.get(ab) ?? null;
    }
    lastKernel = lastBufferKernel;
    lastByteOffset = buf.byteOffset;
  }
  let t: number;
  if (lastKernel !== null) {
    t = fold16(lastKernel(lastByteOffset + off, n));
  } else {
    if (n < STAGED_MIN) return sum16Portable(buf, off, n);
    t = 0;
    // Chunks start at even distances from `off`, so their sums simply add up.
    for (let done = 0; done < n; ) {
      const c = Math.min(n - done, STAGE_BYTES);
      stageBytes!.set(buf.subarray(off + done, off + done + c));
      t = fold16(t + stage.sum(0, c));
      done += c;
    }
  }
  // The kernel sums little-endian words: one swap gives network order.
  return swap16(t);
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

/** The pseudo-header partial sum for a packet between `src` and `dst`: IPv4 for 4-byte addresses, else IPv6. */
export function pseudoSum(src: Uint8Array, dst: Uint8Array, proto: number, len: number): number {
  return src.length === 4 ? pseudoSumV4(src, dst, proto, len) : pseudoSumV6(src, dst, proto, len);
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
