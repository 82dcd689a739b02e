import { wireMemory } from '../wire/checksum.js';

/**
 * A byte ring that frames in flight are copied into and released from in
 * the order they were taken (first in, first out), so its memory is reused
 * instead of every frame getting fresh memory: fresh memory costs an
 * allocation, page faults on first touch and garbage collection, several
 * times the copy itself at MTU 1500. The ring lives in WebAssembly memory
 * (`wireMemory`), so the receiver's checksum reads a frame in place.
 *
 * Only for frames whose receiver keeps nothing past its onReceive call
 * (Link.rxBorrow): a frame's bytes are overwritten once it is released.
 *
 * `take(len)` returns the offset of `len` free bytes (or -1 when the ring is
 * full: the caller copies elsewhere); `release(end)` frees the oldest frame
 * taken, whose end (the value `take` left in `lastEnd`) is passed back;
 * `untake()` returns the place just taken (a lent frame that was dropped).
 */
export class FrameArena {
  readonly bytes: Uint8Array;
  readonly buffer: ArrayBufferLike;
  private readonly cap: number;
  /** Start of the oldest live frame, and where the next one goes. */
  private head = 0;
  private tail = 0;
  /** Frames taken and not yet released. */
  live = 0;
  /** Where the frame the last take() placed ends (aligned): pass it to release(). */
  lastEnd = 0;
  private prevTail = 0;

  constructor(size: number) {
    this.bytes = wireMemory(size);
    this.buffer = this.bytes.buffer;
    this.cap = this.bytes.length;
  }

  get capacity(): number {
    return this.cap;
  }

  /** Offset of `len` free bytes, or -1 when they do not fit. Frames start on 16-byte boundaries. */
  take(len: number): number {
    const n = (len + 15) & ~15;
    if (this.live === 0) {
      this.head = 0;
      this.tail = 0;
    }
    let off: number;
    const tail = this.tail;
    if (this.live === 0 || tail > this.head) {
      // Free: [tail, cap) and [0, head).
      if (tail + n <= this.cap) off = tail;
      else if (n <= this.head) off = 0;
      else return -1;
    } else {
      // Wrapped: free is [tail, head).
      if (tail + n <= this.head) off = tail;
      else return -1;
    }
    this.prevTail = tail;
    this.tail = off + n;
    this.lastEnd = off + n;
    this.live++;
    return off;
  }

  /** Give back the place the last take() made (nothing was taken since). */
  untake(): void {
    if (this.live === 0) return;
    this.live--;
    this.tail = this.prevTail;
  }

  /** The oldest live frame (which ended at `end`) is no longer needed. */
  release(end: number): void {
    if (this.live === 0) return;
    this.live--;
    this.head = end;
  }
}
