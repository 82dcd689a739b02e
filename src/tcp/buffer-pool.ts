/**
 * Free lists of the small byte rings connections use (send and receive
 * buffers). Most connections of a busy server carry a few hundred bytes each
 * way and live for a fraction of a millisecond, so allocating a fresh 1 KiB
 * ring per buffer per connection (an ArrayBuffer with its own off-heap
 * backing store, which V8 must also track and sweep) cost ~14% of a
 * connections-per-second run. A buffer goes back to its free list when its
 * ring is empty and the connection no longer needs it (the control block is
 * freed, or the connection ended); the next connection that writes takes it.
 *
 * One pool per TcpLayer. Sizes are powers of two from MIN_RING (the rings'
 * smallest size) up to POOL_MAX_SIZE; bigger rings are left to the garbage
 * collector (bulk transfers are few and long). Each size keeps at most
 * POOL_BYTES_PER_CLASS bytes of free buffers, so an idle stack holds a
 * bounded amount of memory whatever ran before.
 *
 * A pooled buffer is handed out with whatever bytes its last user left in
 * it: the rings only ever read bytes they wrote themselves (send: the bytes
 * between snd_una and the end of the queued data; receive: readable bytes
 * and out-of-order ranges), so old contents are never seen.
 */

/** Smallest ring (send-buffer.ts pow2() starts there). */
export const MIN_RING = 1024;
/** Largest ring size kept on a free list. */
export const POOL_MAX_SIZE = 16384;
/** Free bytes kept per size class. */
export const POOL_BYTES_PER_CLASS = 1 << 20;

const MIN_SHIFT = 10; // log2(MIN_RING)
const CLASSES = 5; // 1, 2, 4, 8, 16 KiB

/** Shared zero-length ring of every buffer that holds no memory yet. */
export const EMPTY_RING = new Uint8Array(0);

export class BufferPool {
  private readonly free: Uint8Array[][] = [];
  private readonly maxCount: number[] = [];
  /** Buffers handed out from a free list (reused) / newly allocated (for tests and tuning). */
  reused = 0;
  allocated = 0;

  constructor(bytesPerClass = POOL_BYTES_PER_CLASS) {
    for (let c = 0; c < CLASSES; c++) {
      this.free.push([]);
      this.maxCount.push(Math.floor(bytesPerClass / (MIN_RING << c)));
    }
  }

  /** A ring of exactly `size` bytes (a power of two, at least MIN_RING). */
  take(size: number): Uint8Array {
    const c = classOf(size);
    if (c >= 0) {
      const b = this.free[c].pop();
      if (b !== undefined) {
        this.reused++;
        return b;
      }
    }
    this.allocated++;
    return new Uint8Array(size);
  }

  /**
   * Give back a ring from take() that nobody reads or writes any more (never
   * a view into other memory). Sizes outside the pool, the shared empty ring
   * and buffers beyond the class's limit are dropped.
   */
  give(b: Uint8Array): void {
    const c = classOf(b.length);
    if (c < 0) return;
    const list = this.free[c];
    if (list.length < this.maxCount[c]) list.push(b);
  }

  /** Free buffers held, in bytes. */
  get bytesHeld(): number {
    let n = 0;
    for (let c = 0; c < CLASSES; c++) n += this.free[c].length * (MIN_RING << c);
    return n;
  }
}

/** Size class of a power-of-two `size`, or -1 when it is not pooled. */
function classOf(size: number): number {
  if (size < MIN_RING || size > POOL_MAX_SIZE || (size & (size - 1)) !== 0) return -1;
  return 31 - Math.clz32(size) - MIN_SHIFT;
}
