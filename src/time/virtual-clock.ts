import type { Clock } from './clock.js';

/**
 * A clock that moves only when told to. Time never goes backwards: a
 * simulation whose time could rewind would fire timers out of order.
 */
export class VirtualClock implements Clock {
  private t: number;

  constructor(start = 0) {
    if (!Number.isFinite(start)) throw new RangeError(`VirtualClock: start must be finite, got ${start}`);
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  /** Jump to absolute time `t` (>= now). */
  set(t: number): void {
    if (!(t >= this.t) || !Number.isFinite(t)) {
      throw new RangeError(
        `VirtualClock: cannot set time to ${t} (now ${this.t}); time never goes backwards`,
      );
    }
    this.t = t;
  }

  /** Move forward by `dt` >= 0 milliseconds; returns the new time. */
  advance(dt: number): number {
    if (!(dt >= 0) || !Number.isFinite(dt)) throw new RangeError(`VirtualClock: bad step ${dt}`);
    this.t += dt;
    return this.t;
  }
}
