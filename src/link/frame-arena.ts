import { wireMemory } from '../wire/checksum.js';

/**
 * Reused memory for frames in flight: fixed-size slots carved from slabs of
 * WebAssembly memory (`wireMemory`, so the receiver's checksum reads a frame
 * in place), handed out last-released-first. Fresh memory for every frame
 * costs an allocation, page faults on first touch and garbage collection;
 * a ring that walks all its memory keeps missing the cache at MTU 1500. A
 * stack of free slots gives the sender the slot a receiver has just read,
 * still in cache, like a kernel's slab allocator.
 *
 * Two slot sizes: small (pure ACKs and other short frames) and large (up to
 * the MTU). Only for frames whose receiver keeps nothing past its onReceive
 * call (Link.rxBorrow): a slot is overwritten once it is released.
 *
 * `take(len)` returns a handle (or -1 when the arena is at its size limit:
 * the caller copies elsewhere) and leaves a view of exactly `len` bytes in
 * `lastView` (views are kept per slot and reused while the length matches);
 * `release(handle)` frees it, in any order; `untake()` frees the slot the
 * last take() gave (a lent frame that was dropped).
 */
export class FrameArena {
  private readonly small: SlotPool;
  private readonly large: SlotPool;
  /** View of the slot the last take() gave. */
  lastView: Uint8Array = EMPTY;
  private lastHandle = -1;
  /** Slots taken and not yet released. */
  live = 0;

  /** `maxLen`: the largest frame (the link's MTU); `maxBytes`: the most memory the large slots may use. */
  constructor(maxLen: number, maxBytes: number) {
    this.small = new SlotPool(SMALL_SLOT, 256 << 10, maxBytes >>> 3);
    this.large = new SlotPool(Math.max(SMALL_SLOT * 2, (maxLen + 63) & ~63), 4 << 20, maxBytes);
  }

  /** A slot for `len` bytes (its view in lastView), or -1. */
  take(len: number): number {
    let h: number;
    if (len <= SMALL_SLOT) {
      const s = this.small.take();
      if (s < 0) return -1;
      this.lastView = this.small.view(s, len);
      h = s;
    } else {
      if (len > this.large.slotSize) return -1;
      const s = this.large.take();
      if (s < 0) return -1;
      this.lastView = this.large.view(s, len);
      h = s | LARGE;
    }
    this.lastHandle = h;
    this.live++;
    return h;
  }

  /** The frame in slot `handle` is no longer needed. */
  release(handle: number): void {
    if (handle < 0) return;
    this.live--;
    if (handle & LARGE) this.large.give(handle & ~LARGE);
    else this.small.give(handle);
  }

  /** Give back the slot the last take() gave. */
  untake(): void {
    const h = this.lastHandle;
    this.lastHandle = -1;
    this.release(h);
  }
}

const EMPTY = new Uint8Array(0);
/** Bytes of a small slot: a pure ACK with every option (20 + 60, IPv6 40 + 60). */
const SMALL_SLOT = 128;
/** Handle bit for a large slot. */
const LARGE = 1 << 30;

/** Slots of one size: slabs of WebAssembly memory, a stack of free slot numbers, a view per slot. */
class SlotPool {
  readonly slotSize: number;
  private readonly perSlab: number;
  private readonly slabBytes: number;
  private readonly maxSlots: number;
  private slabs: ArrayBufferLike[] = [];
  private free = new Int32Array(64);
  private freeCount = 0;
  private slots = 0;
  private views: Uint8Array[] = [];

  constructor(slotSize: number, slabBytes: number, maxBytes: number) {
    this.slotSize = slotSize;
    this.slabBytes = Math.max(slabBytes, slotSize);
    this.perSlab = Math.floor(this.slabBytes / slotSize);
    this.maxSlots = Math.max(this.perSlab, Math.floor(maxBytes / slotSize));
  }

  take(): number {
    if (this.freeCount === 0 && !this.grow()) return -1;
    return this.free[--this.freeCount];
  }

  give(slot: number): void {
    this.free[this.freeCount++] = slot;
  }

  /** A view of `len` bytes of `slot`: the slot's last view when its length matches. */
  view(slot: number, len: number): Uint8Array {
    const v = this.views[slot];
    if (v.length === len) return v;
    const nv = new Uint8Array(v.buffer, v.byteOffset, len);
    this.views[slot] = nv;
    return nv;
  }

  /** Add a slab's slots to the free stack (lowest slot on top). */
  private grow(): boolean {
    if (this.slots + this.perSlab > this.maxSlots) return false;
    const mem = wireMemory(this.slabBytes);
    this.slabs.push(mem.buffer);
    const first = this.slots;
    this.slots += this.perSlab;
    if (this.free.length < this.slots) {
      const f = new Int32Array(Math.max(this.slots, this.free.length * 2));
      f.set(this.free.subarray(0, this.freeCount));
      this.free = f;
    }
    for (let k = this.perSlab - 1; k >= 0; k--) {
      this.views.push(EMPTY);
      this.free[this.freeCount++] = first + k;
    }
    for (let k = 0; k < this.perSlab; k++)
      this.views[first + k] = new Uint8Array(mem.buffer, k * this.slotSize, this.slotSize);
    return true;
  }
}
