import type { Steppable } from '../time/steppable.js';
import type { Link } from './link.js';

/**
 * A link that hands every transmitted frame back to the same stack (Linux's
 * `lo`). Frames are copied and delivered only in advance(), never from inside
 * transmit(), so the stack never sees its own packet re-entrantly. Frames
 * transmitted during an advance() (a reply to a delivered frame) wait for the
 * next advance().
 */
export class Loopback implements Link, Steppable {
  readonly mtu: number;
  readonly name: string;
  onReceive: ((frame: Uint8Array) => void) | null = null;
  private queue: Uint8Array[] = [];
  private head = 0;
  private lastNow = 0;
  /** Frames delivered; dropped because nothing was attached; dropped for exceeding the MTU. */
  delivered = 0;
  droppedNoReceiver = 0;
  droppedMtu = 0;

  /** Linux's loopback MTU is 65536. */
  constructor(opts: { mtu?: number; name?: string } = {}) {
    this.mtu = opts.mtu ?? 65536;
    this.name = opts.name ?? 'lo';
  }

  transmit(frame: Uint8Array): void {
    if (frame.length > this.mtu) {
      this.droppedMtu++;
      return;
    }
    this.queue.push(frame.slice());
  }

  /** Due "now" (the last advance time, never later than the driver's clock) while frames wait. */
  nextDeadline(): number {
    return this.head < this.queue.length ? this.lastNow : Infinity;
  }

  advance(now: number): void {
    if (now > this.lastNow) this.lastNow = now;
    const end = this.queue.length;
    while (this.head < end) {
      const f = this.queue[this.head];
      this.queue[this.head++] = EMPTY;
      const rx = this.onReceive;
      if (rx === null) this.droppedNoReceiver++;
      else {
        this.delivered++;
        rx(f);
      }
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    }
  }
}

const EMPTY = new Uint8Array(0);
