/**
 * The send buffer and retransmission queue in one: a byte ring holding
 * everything from snd_una onwards (sent-but-unacknowledged bytes first, then
 * bytes not yet sent). Application data is copied in once (write); output
 * copies it once more straight into the outgoing frame (copyOut). Acked
 * bytes are released by moving the head (ack), never by copying.
 */
import { type BufferPool, EMPTY_RING } from './buffer-pool.js';

export class SendBuffer {
  private buf: Uint8Array;
  private mask: number;
  private head = 0; // index of the byte at snd_una
  /** Bytes held: [snd_una, snd_una + length). */
  length = 0;

  /** Where rings come from and go back to (a TcpLayer's); null: plain allocation. */
  private readonly pool: BufferPool | null;

  /**
   * `initial` 0: no memory until the first write (most connections of a busy
   * server send little); until then the ring is the shared empty one.
   */
  constructor(initial = 0, pool: BufferPool | null = null) {
    this.pool = pool;
    const cap = initial > 0 ? pow2(initial) : 0;
    this.buf = cap > 0 ? this.alloc(cap) : EMPTY_RING;
    this.mask = cap - 1;
  }

  get capacity(): number {
    return this.buf.length;
  }

  /** Append up to `len` bytes of `src` from `off`, limited by `limit` total bytes held. Returns the count taken. */
  write(src: Uint8Array, off: number, len: number, limit: number): number {
    const n = Math.min(len, limit - this.length);
    if (n <= 0) return 0;
    if (this.length + n > this.buf.length) this.grow(this.length + n);
    const cap = this.buf.length;
    const tail = (this.head + this.length) & this.mask;
    // (cap >= length + n here: grow() ran above)
    const first = Math.min(n, cap - tail);
    this.buf.set(
      first === len && off === 0 && src.length === len ? src : src.subarray(off, off + first),
      tail,
    );
    if (first < n) this.buf.set(src.subarray(off + first, off + n), 0);
    this.length += n;
    return n;
  }

  /** Copy `len` bytes starting `at` bytes past snd_una into `dst` at `dstOff`. */
  copyOut(at: number, len: number, dst: Uint8Array, dstOff: number): void {
    const cap = this.buf.length;
    const start = (this.head + at) & this.mask;
    const first = Math.min(len, cap - start);
    dst.set(this.buf.subarray(start, start + first), dstOff);
    if (first < len) dst.set(this.buf.subarray(0, len - first), dstOff + first);
  }

  /** Release `n` acknowledged bytes from the front. */
  ack(n: number): void {
    if (n > this.length) n = this.length;
    this.head = (this.head + n) & this.mask;
    this.length -= n;
    if (this.length === 0) this.head = 0;
  }

  clear(): void {
    this.head = 0;
    this.length = 0;
  }

  /**
   * Give the ring back to the pool when it holds nothing (the connection
   * ended or its control block is freed); a later write takes a ring again.
   */
  release(): void {
    if (this.length !== 0 || this.buf.length === 0) return;
    if (this.pool !== null) this.pool.give(this.buf);
    this.buf = EMPTY_RING;
    this.mask = -1;
    this.head = 0;
  }

  private alloc(cap: number): Uint8Array {
    return this.pool !== null ? this.pool.take(cap) : new Uint8Array(cap);
  }

  private grow(need: number): void {
    const cap = pow2(need);
    const nb = this.alloc(cap);
    if (this.length > 0) this.copyOut(0, this.length, nb, 0); // a first ring has nothing to copy (no view made)
    if (this.pool !== null && this.buf.length > 0) this.pool.give(this.buf);
    this.buf = nb;
    this.mask = cap - 1;
    this.head = 0;
  }
}

export function pow2(n: number): number {
  let c = 1024;
  while (c < n) c *= 2;
  return c;
}
