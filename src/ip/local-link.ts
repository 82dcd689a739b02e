/**
 * The stack's own loopback device (Linux `lo`): packets a stack sends to one
 * of its own addresses are queued here and delivered on the next advance(),
 * never from inside the send (links never deliver re-entrantly).
 */
import type { Link } from '../link/link.js';

/** Linux's lo MTU. */
export const LOOPBACK_MTU = 65536;

export class LocalLink implements Link {
  readonly mtu: number;
  onReceive: ((frame: Uint8Array) => void) | null = null;
  private queue: Uint8Array[] = [];

  constructor(mtu = LOOPBACK_MTU) {
    this.mtu = mtu;
  }

  transmit(frame: Uint8Array): void {
    this.queue.push(frame.slice());
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Deliver what is queued, including what the deliveries themselves send,
   *  up to `limit` packets (bounded so that a ping-pong cannot spin forever). */
  deliver(limit = 10000): number {
    let n = 0;
    while (this.queue.length > 0 && n < limit) {
      const batch = this.queue;
      this.queue = [];
      for (const f of batch) {
        n++;
        this.onReceive?.(f);
      }
    }
    return n;
  }
}
