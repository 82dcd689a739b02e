/**
 * Runs Steppables (stacks, wires) on Node's event loop in real time: the
 * sans-I/O core never reads a clock or arms a timer (DESIGN principle 1), so
 * this driver does both. It calls advance(now) with a performance.now()-based
 * time when the earliest nextDeadline() is due, just before a link delivers
 * frames (so they are stamped with the time they arrived), and right after
 * (`poke()`: TunLink.beforeDeliver/onDrained are wired by attach()). Code that
 * calls socket methods from outside a callback calls poke() afterwards, since
 * such a call may arm a timer the driver does not know about yet.
 *
 * Time starts at `start` (default 0) when the driver is created, so a Stack
 * constructed with `now: 0` and this driver agree.
 */

import { performance } from 'node:perf_hooks';
import type { Clock } from '../time/clock.js';
import type { Steppable } from '../time/steppable.js';

export interface RealtimeOptions {
  /** The time the clock reads at construction (ms). Default 0. */
  start?: number;
  /** Let the process exit while only this driver's timer is pending (default false). */
  unref?: boolean;
}

/** performance.now() shifted so it reads `start` at construction. */
export class RealtimeClock implements Clock {
  private readonly offset: number;
  constructor(start = 0) {
    this.offset = start - performance.now();
  }
  now(): number {
    return performance.now() + this.offset;
  }
}

/** Passes through advance() calls that found more due work before yielding to the event loop. */
const MAX_ROUNDS = 64;

export class RealtimeDriver {
  readonly clock: RealtimeClock;
  private readonly items: Steppable[] = [];
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private running = false;
  private inStep = false;
  private readonly unref: boolean;
  private last = -Infinity;

  constructor(items: Steppable[] = [], opts: RealtimeOptions = {}) {
    this.clock = new RealtimeClock(opts.start ?? 0);
    this.unref = opts.unref ?? false;
    for (const s of items) this.items.push(s);
  }

  now(): number {
    // Never hand a Steppable a time earlier than the last one (performance.now is monotonic; this guards rounding).
    const t = this.clock.now();
    if (t > this.last) this.last = t;
    return this.last;
  }

  add(item: Steppable): void {
    this.items.push(item);
    if (this.running) this.poke();
  }

  /**
   * Wires a link's "frames delivered" hook to poke(), so the stack processes
   * them at once. Works with any link that exposes `onDrained` (TunLink).
   */
  attach(link: { onDrained: (() => void) | null; beforeDeliver?: (() => void) | null }): void {
    if ('beforeDeliver' in link) link.beforeDeliver = () => this.sync();
    link.onDrained = () => this.poke();
  }

  /** Brings every item's clock up to now without re-arming (frames are about to be delivered). */
  sync(): void {
    if (!this.running || this.inStep) return;
    this.inStep = true;
    try {
      const now = this.now();
      for (const s of this.items) s.advance(now);
    } finally {
      this.inStep = false;
    }
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.poke();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }

  /** Advances everything to now and re-arms the timer for the earliest deadline. */
  poke(): void {
    if (!this.running || this.inStep) return;
    this.inStep = true;
    try {
      let next = Infinity;
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const now = this.now();
        for (const s of this.items) s.advance(now);
        next = Infinity;
        for (const s of this.items) {
          const d = s.nextDeadline();
          if (d < next) next = d;
        }
        if (next > this.now()) break;
      }
      this.schedule(next);
    } finally {
      this.inStep = false;
    }
  }

  private schedule(at: number): void {
    if (!this.running) return;
    if (at === this.timerAt && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = at;
    if (at === Infinity) return;
    // setTimeout fires no earlier than asked (in whole ms); advance() is given the true time then.
    const delay = Math.max(0, Math.ceil(at - this.now()));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.poke();
    }, delay);
    if (this.unref) this.timer.unref();
  }
}
