import type { Clock } from '../time/clock.js';
import type { Steppable } from '../time/steppable.js';
import { VirtualClock } from '../time/virtual-clock.js';

export interface WorldOptions {
  /** Virtual time the world starts at (ms). Default 0. */
  now?: number;
  /**
   * Livelock detector: the most steps one run()/runUntil() call may take
   * before it throws. Default 10,000,000.
   */
  maxSteps?: number;
  /**
   * Livelock detector: the most consecutive steps at one and the same
   * virtual time (members that keep saying "due now" without time moving,
   * e.g. two stacks answering each other over a zero-delay wire forever).
   * Default 100,000.
   */
  maxStepsSameTime?: number;
}

export interface RunOptions {
  /** Stop before any event later than this virtual time; the clock ends at `until`. */
  until?: number;
  /** Cap on steps for this call (overrides the world's default); exceeding it throws. */
  maxSteps?: number;
}

export interface RunUntilOptions {
  /** Give up after this much virtual time (ms) from now. Default: no limit (events or steps bound it). */
  timeout?: number;
  maxSteps?: number;
}

/** A member that frames arrive in bursts to (Stack): see World.step. */
interface Burstable extends Steppable {
  beginBurst(): void;
  endBurst(): void;
}

/** Thrown when a run exceeds its step caps: something is spinning in virtual time. */
export class LivelockError extends Error {
  override name = 'LivelockError';
}

/**
 * Drives many Steppables (stacks, wires, loopbacks) in virtual time. One step
 * jumps the clock to the earliest nextDeadline() among members and calls
 * advance(now) on every member due by then, in the order they were added.
 * Nothing happens between events, so a minute of TIME_WAIT passes in
 * microseconds of real time.
 */
export class World {
  readonly clock: VirtualClock;
  private readonly members: Steppable[] = [];
  /** Last time each member was advanced to (parallel to `members`). */
  private lastAdvanced: number[] = [];
  /** Parallel to `members`: true for links (members that deliver frames into stacks). */
  private isLink: boolean[] = [];
  /** Parallel to `members`: true for members that take receive bursts (stacks). */
  private bursts: boolean[] = [];
  private readonly maxSteps: number;
  private readonly maxStepsSameTime: number;
  /** Total steps taken over the world's life. */
  steps = 0;

  constructor(opts: WorldOptions = {}) {
    this.clock = new VirtualClock(opts.now ?? 0);
    this.maxSteps = opts.maxSteps ?? 10_000_000;
    this.maxStepsSameTime = opts.maxStepsSameTime ?? 100_000;
  }

  /** The current virtual time (ms). */
  get now(): number {
    return this.clock.now();
  }

  /**
   * Add a member; returns it for chaining (`const w = world.add(new MemoryWire(...))`).
   * A member with an `attachClock(clock)` method (MemoryWire) is given the
   * world's clock and counts as a link: see step().
   */
  add<T extends Steppable>(member: T): T {
    if (this.members.includes(member)) return member;
    const withClock = member as { attachClock?: (clock: Clock) => void };
    const link = typeof withClock.attachClock === 'function';
    if (link) withClock.attachClock?.(this.clock);
    this.members.push(member);
    this.lastAdvanced.push(-Infinity);
    this.isLink.push(link);
    const b = member as Partial<Burstable>;
    this.bursts.push(typeof b.beginBurst === 'function' && typeof b.endBurst === 'function');
    return member;
  }

  remove(member: Steppable): void {
    const i = this.members.indexOf(member);
    if (i >= 0) {
      this.members.splice(i, 1);
      this.lastAdvanced.splice(i, 1);
      this.isLink.splice(i, 1);
      this.bursts.splice(i, 1);
    }
  }

  /** The earliest deadline among members (may be <= now: something is due now), or Infinity. */
  nextDeadline(): number {
    let t = Infinity;
    const m = this.members;
    for (let i = 0; i < m.length; i++) {
      const d = m[i].nextDeadline();
      if (d < t) t = d;
    }
    return t;
  }

  /**
   * One step: jump to the earliest deadline (not past `limit`) and advance
   * the members. Returns false when nothing is due by `limit`.
   *
   * Every non-link member (a stack) is brought to `t` first, due or not, and
   * only then do the links that are due deliver their frames: a stack must
   * receive a frame with its clock at the time of arrival, or its RTT
   * samples and the timers it arms from that input are off by however long
   * it had nothing to do. For a stack with nothing due, advance(t) only
   * moves its clock. Frames a stack sends meanwhile wait in the link for a
   * later advance (links never deliver re-entrantly).
   */
  step(limit = Infinity): boolean {
    let t = this.nextDeadline();
    if (t > limit || t === Infinity) return false;
    const now = this.clock.now();
    if (t < now) t = now;
    if (t > now) this.clock.set(t);
    this.steps++;
    const m = this.members;
    for (let i = 0; i < m.length; i++) {
      if (!this.isLink[i] && (this.lastAdvanced[i] < t || m[i].nextDeadline() <= t)) {
        this.lastAdvanced[i] = t;
        m[i].advance(t);
      }
    }
    // The frames the links deliver at `t` reach each stack as one receive
    // burst (like one NAPI poll): its socket events fire, and its TCP makes
    // its GRO-style ACK decisions, once the last of them is in.
    let open = false;
    try {
      for (let i = 0; i < m.length; i++) {
        if (this.isLink[i] && m[i].nextDeadline() <= t) {
          if (!open) {
            open = true;
            this.burst(true);
          }
          this.lastAdvanced[i] = t;
          m[i].advance(t);
        }
      }
    } finally {
      if (open) this.burst(false);
    }
    return true;
  }

  /** Open (or close) a receive burst on every member that takes them. */
  private burst(begin: boolean): void {
    const m = this.members;
    const b = this.bursts;
    for (let i = 0; i < m.length; i++) {
      if (!b[i]) continue;
      if (begin) (m[i] as Burstable).beginBurst();
      else (m[i] as Burstable).endBurst();
    }
  }

  /**
   * Run events up to `until` (default: until no member has anything left to
   * do). With a finite `until`, the clock ends at `until`. Either way every
   * member has been advanced to the final time when run() returns, so
   * stacks agree with the world's clock. Returns the number of steps taken.
   */
  run(opts: RunOptions = {}): number {
    const until = opts.until ?? Infinity;
    if (until < this.clock.now())
      throw new RangeError(`World.run: until ${until} is in the past (now ${this.now})`);
    const cap = opts.maxSteps ?? this.maxSteps;
    const guard = new StepGuard(this, cap, this.maxStepsSameTime);
    for (;;) {
      while (this.step(until)) guard.tick();
      // Bring every member to the final time (a stack's API calls made after
      // run() then see the world's time), and go on if that made work due.
      if (!this.sync(until === Infinity ? this.clock.now() : until)) break;
    }
    return guard.taken;
  }

  /**
   * Run until `pred()` is true (checked before the first step and after each
   * step). Returns false when the timeout elapses or nothing is left to do
   * while the predicate is still false; throws LivelockError on the step caps.
   * On return every member has been advanced to the world's time.
   */
  runUntil(pred: () => boolean, opts: RunUntilOptions = {}): boolean {
    if (pred()) return true;
    const limit = opts.timeout === undefined ? Infinity : this.clock.now() + opts.timeout;
    const guard = new StepGuard(this, opts.maxSteps ?? this.maxSteps, this.maxStepsSameTime);
    for (;;) {
      while (this.step(limit)) {
        guard.tick();
        if (pred()) {
          this.sync(this.clock.now());
          return true;
        }
      }
      if (!this.sync(limit === Infinity ? this.clock.now() : limit)) break;
      if (pred()) return true;
    }
    return pred();
  }

  /** Set the clock to `t` and advance members not yet at `t`. True if that made something due by `t`. */
  sync(t: number = this.clock.now()): boolean {
    if (t > this.clock.now()) this.clock.set(t);
    const m = this.members;
    for (let i = 0; i < m.length; i++) {
      if (this.lastAdvanced[i] < t) {
        this.lastAdvanced[i] = t;
        m[i].advance(t);
      }
    }
    return this.nextDeadline() <= t;
  }

  /** Names of members due at `t` (for error messages). */
  describeDue(t: number): string {
    const names: string[] = [];
    this.members.forEach((m, i) => {
      if (m.nextDeadline() <= t) {
        const name = (m as { name?: unknown }).name;
        names.push(typeof name === 'string' ? name : `${m.constructor?.name ?? 'member'}#${i}`);
      }
    });
    return names.join(', ');
  }
}

class StepGuard {
  taken = 0;
  private sameTime = 0;
  private lastT = Number.NaN;

  constructor(
    private readonly world: World,
    private readonly cap: number,
    private readonly capSameTime: number,
  ) {}

  tick(): void {
    this.taken++;
    const t = this.world.now;
    if (t === this.lastT) {
      if (++this.sameTime > this.capSameTime) {
        throw new LivelockError(
          `World: livelock: ${this.sameTime} steps at virtual time ${t} ms without time moving; ` +
            `members still due: ${this.world.describeDue(t)}`,
        );
      }
    } else {
      this.sameTime = 0;
      this.lastT = t;
    }
    if (this.taken > this.cap) {
      throw new LivelockError(
        `World: exceeded ${this.cap} steps in one run (virtual time ${t} ms); raise maxSteps if this is expected`,
      );
    }
  }
}
