/**
 * Runs Steppables (stacks, wires) in real time with nothing but what every
 * JavaScript engine has: `performance.now()` and `setTimeout`. The sans-I/O
 * core never reads a clock nor arms a timer (DESIGN principle 1); this
 * driver does both, in a page, a worker, Deno or Node alike. It is the
 * browser counterpart of src/node/realtime.ts.
 *
 * Each step advances every item, in the order added, to the current time,
 * then arms one timer for the earliest nextDeadline(). Add stacks before the
 * wires that feed them: a stack is then brought to the current time before
 * the wire hands it frames, so its RTT samples and timers use the arrival
 * time. Code that calls socket methods from outside a step (a click handler,
 * a timer, a resolved promise) calls sync() before and kick() after: the
 * stacks' clocks stand still between steps, so a segment sent without sync()
 * would carry a stale timestamp and arm its retransmission timer in the past
 * (it then fires too early: a spurious retransmission). kick() re-arms the
 * driver for whatever the call queued. The web net API (net.ts) does both.
 */

import type { Clock } from '../time/clock.js';
import type { Steppable } from '../time/steppable.js';

export interface BrowserDriverOptions {
  /** Time (ms) the clock reads when the driver is created. Default 0, so `new Stack({ now: 0 })` agrees. */
  start?: number;
  /** Time source in ms; default `performance.now()` (falls back to `Date.now()`). */
  now?: () => number;
  /**
   * While work is already due, rounds run back to back for at most this long
   * (ms) before the driver yields to the event loop (so a page stays
   * responsive under a bulk transfer). Default 8.
   */
  sliceMs?: number;
  /** Upper bound on back-to-back rounds in one step, whatever the time. Default 100 000. */
  maxRounds?: number;
}

type TimerId = ReturnType<typeof setTimeout>;

/**
 * A macrotask without setTimeout's clamp (browsers stretch nested
 * setTimeout(0) to 4 ms, Node to 1 ms): setImmediate where it exists, else a
 * MessageChannel, else setTimeout(0).
 */
function makeYield(): (fn: () => void) => void {
  const g = globalThis as {
    setImmediate?: (fn: () => void) => unknown;
    MessageChannel?: new () => {
      port1: { onmessage: (() => void) | null; unref?: () => void };
      port2: { postMessage(v: unknown): void; unref?: () => void };
    };
  };
  if (typeof g.setImmediate === 'function') {
    const si = g.setImmediate;
    return (fn) => {
      si(fn);
    };
  }
  if (typeof g.MessageChannel === 'function') {
    const ch = new g.MessageChannel();
    const q: (() => void)[] = [];
    ch.port1.onmessage = () => {
      const f = q.shift();
      if (f !== undefined) f();
    };
    // Runtimes where a port keeps the process alive (Deno, Node) may let it exit: a pending yield
    // always sits beside an armed timer or a running step, which keep it alive on their own.
    ch.port1.unref?.();
    ch.port2.unref?.();
    return (fn) => {
      q.push(fn);
      ch.port2.postMessage(0);
    };
  }
  return (fn) => {
    setTimeout(fn, 0);
  };
}

function defaultNow(): () => number {
  const p = (globalThis as { performance?: { now(): number } }).performance;
  if (p !== undefined && typeof p.now === 'function') return () => p.now();
  return () => Date.now();
}

export class BrowserDriver {
  /** The driver's clock: give it to MemoryWire (`clock`) so frames are stamped in the same time. */
  readonly clock: Clock;
  /** Called after every step (all items advanced): a place to sample `stack.tcp.list()`. */
  onStep: ((now: number) => void) | null = null;
  private readonly items: Steppable[] = [];
  private readonly source: () => number;
  private readonly offset: number;
  private readonly maxRounds: number;
  private readonly sliceMs: number;
  private readonly yieldTask = makeYield();
  private yieldQueued = false;
  private last = -Infinity;
  private timer: TimerId | null = null;
  private timerAt = Infinity;
  private running = false;
  private inStep = false;
  private kickQueued = false;
  private syncing = false;
  /** Steps run so far (for tests and the page's status line). */
  steps = 0;

  constructor(items: Steppable[] = [], opts: BrowserDriverOptions = {}) {
    this.source = opts.now ?? defaultNow();
    this.offset = (opts.start ?? 0) - this.source();
    this.maxRounds = opts.maxRounds ?? 100_000;
    this.sliceMs = opts.sliceMs ?? 8;
    for (const s of items) this.items.push(s);
    this.clock = { now: () => this.now() };
  }

  /** Current time in ms; never goes backwards. */
  now(): number {
    const t = this.source() + this.offset;
    if (t > this.last) this.last = t;
    return this.last;
  }

  add<T extends Steppable>(item: T): T {
    this.items.push(item);
    if (this.running) this.kick();
    return item;
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.poke();
  }

  /** Stops: no timer stays armed (a Node process may exit, a page goes quiet). */
  stop(): void {
    this.running = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }

  /** True while sync() runs: socket events raised then must wait (the caller is in the middle of a socket call). */
  get inSync(): boolean {
    return this.syncing;
  }

  /**
   * Brings every item to the current time before a socket call made from
   * outside a step (no-op inside one, where the time is current). Runs what
   * is due by now, in the order a step would, then kicks for the rest.
   */
  sync(): void {
    if (!this.running || this.inStep) return;
    this.inStep = true;
    this.syncing = true;
    try {
      const now = this.now();
      for (const s of this.items) s.advance(now);
      this.steps++;
    } finally {
      this.inStep = false;
      this.syncing = false;
    }
    this.kick();
  }

  /** Schedules a step in a microtask; many kicks in one task cost one step. */
  kick(): void {
    if (this.kickQueued || !this.running) return;
    this.kickQueued = true;
    queueMicrotask(() => {
      this.kickQueued = false;
      this.poke();
    });
  }

  /** Advances everything to now (repeating while something is already due) and re-arms the timer. */
  poke(): void {
    if (!this.running || this.inStep) return;
    this.inStep = true;
    let next = Infinity;
    try {
      const sliceEnd = this.source() + this.sliceMs;
      for (let round = 0; round < this.maxRounds; round++) {
        const now = this.now();
        for (const s of this.items) s.advance(now);
        this.steps++;
        next = Infinity;
        for (const s of this.items) {
          const d = s.nextDeadline();
          if (d < next) next = d;
        }
        if (next > this.now()) break;
        if (this.source() > sliceEnd) break; // still busy: yield, continue in the next task
      }
    } finally {
      this.inStep = false;
    }
    // Outside the step: a hook that calls socket methods may kick again.
    if (this.onStep !== null) this.onStep(this.last);
    this.schedule(next);
  }

  private schedule(at: number): void {
    if (!this.running) return;
    if (at === this.timerAt && this.timer !== null) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = at;
    if (at === Infinity) return;
    if (at <= this.now()) {
      // Work is already due (the step ran out of its time slice): continue in the next macrotask.
      if (!this.yieldQueued) {
        this.yieldQueued = true;
        this.yieldTask(() => {
          this.yieldQueued = false;
          this.poke();
        });
      }
      return;
    }
    // setTimeout fires no earlier than asked (in whole ms); advance() gets the true time then.
    const delay = Math.max(0, Math.ceil(at - this.now()));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.poke();
    }, delay);
  }
}
