/**
 * The receive buffer: a byte ring holding data the application has not read
 * yet, followed by room for the advertised window. Out-of-order segments are
 * written straight into their place in the ring (so memory is bounded by the
 * ring, whatever a peer sends) and remembered as a short sorted list of
 * [start, end) offsets past rcv_nxt; when the hole before them fills they
 * become readable without another copy. At most MAX_RANGES separate ranges
 * are kept; a segment that would need more is dropped (Linux bounds its
 * out-of-order queue by memory and prunes it the same way).
 */
import { type BufferPool, EMPTY_RING } from './buffer-pool.js';
import { pow2 } from './send-buffer.js';

export const MAX_RANGES = 32;
const NO_RANGES = new Int32Array(0);

export class RecvBuffer {
  private buf: Uint8Array;
  private mask: number;
  private head = 0; // index of the first unread byte
  /** In-order bytes ready for the application. */
  readable = 0;
  /** Out-of-order ranges as offsets past the end of the readable bytes (i.e. past rcv_nxt). */
  /** Allocated when the first out-of-order segment arrives (most connections never see one). */
  oooStart: Int32Array = NO_RANGES;
  oooEnd: Int32Array = NO_RANGES;
  /** Arrival stamp of each range: when it last received a segment (RFC 2018 §4 block order). */
  oooStamp: Int32Array = NO_RANGES;
  oooCount = 0;
  private stampSeq = 0;

  /** Where rings come from and go back to (a TcpLayer's); null: plain allocation. */
  private readonly pool: BufferPool | null;

  /** `capacity` 0: no memory until data arrives (ensureCapacity); until then the ring is the shared empty one. */
  constructor(capacity = 0, pool: BufferPool | null = null) {
    this.pool = pool;
    const cap = capacity > 0 ? pow2(capacity) : 0;
    this.buf = cap > 0 ? this.alloc(cap) : EMPTY_RING;
    this.mask = cap - 1;
  }

  get capacity(): number {
    return this.buf.length;
  }

  /** Bytes held past rcv_nxt in out-of-order ranges (upper bound of their extent). */
  get oooExtent(): number {
    return this.oooCount === 0 ? 0 : this.oooEnd[this.oooCount - 1];
  }

  /** Bytes of out-of-order data held. */
  get oooBytes(): number {
    let n = 0;
    for (let i = 0; i < this.oooCount; i++) n += this.oooEnd[i] - this.oooStart[i];
    return n;
  }

  /** Room from rcv_nxt to the end of the ring. */
  get free(): number {
    return this.buf.length - this.readable;
  }

  /** Grow the ring (receive-buffer autotuning or SO_RCVBUF). */
  ensureCapacity(n: number): void {
    if (n <= this.buf.length) return;
    const used = this.readable + this.oooExtent;
    const cap = pow2(Math.max(n, used));
    const nb = this.alloc(cap);
    if (used > 0) this.copyRange(0, used, nb, 0); // a first ring has nothing to copy (no view made)
    if (this.pool !== null && this.buf.length > 0) this.pool.give(this.buf);
    this.buf = nb;
    this.mask = cap - 1;
    this.head = 0;
  }

  /**
   * Give the ring back to the pool when it holds nothing (the connection
   * ended or its control block is freed); data arriving later takes a ring
   * again (ensureCapacity).
   */
  release(): void {
    if (this.readable !== 0 || this.oooCount !== 0 || this.buf.length === 0) return;
    if (this.pool !== null) this.pool.give(this.buf);
    this.buf = EMPTY_RING;
    this.mask = -1;
    this.head = 0;
  }

  private alloc(cap: number): Uint8Array {
    return this.pool !== null ? this.pool.take(cap) : new Uint8Array(cap);
  }

  /**
   * Store `len` bytes of `src` at `at` bytes past rcv_nxt. Returns how many
   * bytes became readable (rcv_nxt advance), or -1 when the data could not be
   * kept (no room or too many ranges). Bytes beyond the ring are cut off by
   * the caller (the window never exceeds the ring).
   */
  store(src: Uint8Array, off: number, len: number, at: number): number {
    if (len <= 0) return 0;
    if (at + len > this.free) {
      len = this.free - at;
      if (len <= 0) return -1;
    }
    if (at > 0) {
      if (!this.addRange(at, at + len)) return -1;
      this.copyIn(src, off, len, this.readable + at);
      return 0;
    }
    this.copyIn(src, off, len, this.readable);
    let adv = len;
    // Merge ranges now reachable from the new rcv_nxt.
    let i = 0;
    while (i < this.oooCount && this.oooStart[i] <= adv) {
      if (this.oooEnd[i] > adv) adv = this.oooEnd[i];
      i++;
    }
    const removed = i;
    let w = 0;
    for (let r = removed; r < this.oooCount; r++) {
      this.oooStart[w] = this.oooStart[r] - adv;
      this.oooEnd[w] = this.oooEnd[r] - adv;
      this.oooStamp[w] = this.oooStamp[r];
      w++;
    }
    this.oooCount = w;
    // Ranges that were partially covered already shifted; ranges fully within adv removed.
    this.readable += adv;
    return adv;
  }

  /** Copy up to `len` readable bytes into `dst`; returns the count. */
  read(dst: Uint8Array, off: number, len: number): number {
    const n = Math.min(len, this.readable);
    if (n === 0) return 0;
    this.copyRange(0, n, dst, off);
    this.consume(n);
    return n;
  }

  /** Drop `n` readable bytes (after read or on SHUT_RD). */
  consume(n: number): void {
    this.head = (this.head + n) & this.mask;
    this.readable -= n;
    // Empty: start over at the front, so a reader that keeps up reuses the
    // same (cached) bytes instead of walking the whole ring.
    if (this.readable === 0 && this.oooCount === 0) this.head = 0;
  }

  /**
   * Write into `out` the indices of up to `max` ranges, most recently
   * received first: RFC 2018 §4 wants the first SACK block to hold the latest
   * segment and the rest to repeat the most recently reported ones, which is
   * also the order Linux keeps (each segment moves its block to the front).
   */
  recentOrder(out: Int32Array, max: number): number {
    const n = Math.min(this.oooCount, max);
    let below = 0x7fffffff;
    for (let k = 0; k < n; k++) {
      let best = -1;
      for (let i = 0; i < this.oooCount; i++) {
        const s = this.oooStamp[i];
        if (s < below && (best < 0 || s > this.oooStamp[best])) best = i;
      }
      out[k] = best;
      below = this.oooStamp[best];
    }
    return n;
  }

  /** Drop all out-of-order data (memory pressure, or connection reset). */
  pruneOoo(): void {
    this.oooCount = 0;
  }

  clear(): void {
    this.head = 0;
    this.readable = 0;
    this.oooCount = 0;
  }

  private copyRange(at: number, len: number, dst: Uint8Array, dstOff: number): void {
    const cap = this.buf.length;
    const start = (this.head + at) & this.mask;
    const first = Math.min(len, cap - start);
    dst.set(this.buf.subarray(start, start + first), dstOff);
    if (first < len) dst.set(this.buf.subarray(0, len - first), dstOff + first);
  }

  private copyIn(src: Uint8Array, off: number, len: number, at: number): void {
    const cap = this.buf.length;
    const start = (this.head + at) & this.mask;
    const first = Math.min(len, cap - start);
    // A segment's payload view taken whole (the usual case) needs no view of its own.
    this.buf.set(off === 0 && first === src.length ? src : src.subarray(off, off + first), start);
    if (first < len) this.buf.set(src.subarray(off + first, off + len), 0);
  }

  /** Insert [s, e) into the sorted, disjoint range list, merging neighbours. */
  private addRange(s: number, e: number): boolean {
    if (this.oooStart.length === 0) {
      this.oooStart = new Int32Array(MAX_RANGES);
      this.oooEnd = new Int32Array(MAX_RANGES);
      this.oooStamp = new Int32Array(MAX_RANGES);
    }
    const st = this.oooStart;
    const en = this.oooEnd;
    const sp = this.oooStamp;
    // Stamps are distinct and rise with arrivals; renumber before they overflow.
    if (this.stampSeq >= 0x7ffffffe) this.renumberStamps();
    const stamp = ++this.stampSeq;
    let i = 0;
    while (i < this.oooCount && en[i] < s) i++;
    // i: first range that ends at or after s
    let j = i;
    while (j < this.oooCount && st[j] <= e) {
      if (st[j] < s) s = st[j];
      if (en[j] > e) e = en[j];
      j++;
    }
    const merged = j - i;
    if (merged === 0) {
      if (this.oooCount >= MAX_RANGES) return false;
      for (let k = this.oooCount; k > i; k--) {
        st[k] = st[k - 1];
        en[k] = en[k - 1];
        sp[k] = sp[k - 1];
      }
      st[i] = s;
      en[i] = e;
      sp[i] = stamp;
      this.oooCount++;
      return true;
    }
    st[i] = s;
    en[i] = e;
    sp[i] = stamp;
    const shift = merged - 1;
    if (shift > 0) {
      for (let k = j; k < this.oooCount; k++) {
        st[k - shift] = st[k];
        en[k - shift] = en[k];
        sp[k - shift] = sp[k];
      }
      this.oooCount -= shift;
    }
    return true;
  }

  /** Give the ranges stamps 1..n in their current recency order. */
  private renumberStamps(): void {
    const order = new Int32Array(this.oooCount);
    const n = this.recentOrder(order, this.oooCount);
    for (let k = 0; k < n; k++) this.oooStamp[order[k]] = n - k;
    this.stampSeq = n;
  }
}
