/**
 * Hierarchical timer wheel (Varghese & Lauck, "Hashed and Hierarchical Timing
 * Wheels", 1987), 1 ms tick, built to hold millions of pending timers.
 *
 * Timers are integer handles, not objects: a compact owner (a TIME_WAIT
 * entry, a control block) keeps one number. All per-timer state lives in
 * one typed-array buffer: deadline, intrusive doubly-linked list links,
 * handler index, arm sequence and one data number, packed in one 32-byte
 * record per timer. Arm, re-arm and cancel are O(1) (unlink +
 * link); re-arming later, the common case (a retransmission timer restarted
 * on every ACK), only records the new deadline and the timer moves when its
 * old slot comes up. Capacity doubles when full.
 *
 * Granularity (like Linux jiffies): a timer with deadline `d` belongs to tick
 * `ceil(d)`; `advance(now)` fires every timer whose tick is <= floor(now).
 * So a timer never fires before its deadline, and fires at most one tick
 * (1 ms) after it when the driver calls advance() at nextDeadline().
 * Within one tick, timers fire in deadline order (ties: in arming order).
 * A timer armed for a tick already processed (the past, or `now` itself
 * during a callback at `now`) fires on the next advance(), never inside the
 * current one: this keeps a handler that re-arms itself for "now" from
 * looping forever inside advance().
 *
 * Levels: 5 levels of 1024 slots (10 bits each) cover ticks up to 2^50 ms.
 * A timer sits at the level of the highest 10-bit digit in which its tick
 * differs from the current tick; when the current tick reaches the start of
 * its slot, it cascades down. Wide levels mean few cascades: a timer up to
 * 17 minutes out (RTO, delayed ACK, TIME_WAIT, FIN_WAIT2) cascades once
 * (twice if it crosses a 2^20 ms boundary), any timer at most 4 times. advance() jumps straight to the next
 * non-empty slot using a two-level occupancy bitmap per level, so a jump
 * over an hour of idle time costs a few bitmap scans, not 3.6M ticks.
 */

/** Shared by many timers; `data` tells the handler which one fired. */
export interface TimerHandler {
  onTimer(data: number, handle: number, now: number): void;
}

const BITS = 10;
const SLOTS = 1 << BITS; // 1024
const WORDS = SLOTS >>> 5; // 32-bit words of one level's bitmap (<= 32: one summary word)
const LEVELS = 5;
const POW: number[] = [];
for (let l = 0; l <= LEVELS; l++) POW.push(2 ** (BITS * l));
const HORIZON = POW[LEVELS]; // 2^50 ticks

// Sentinel nodes of the circular lists live at the start of the same arrays
// as the timers, so unlinking needs no branch and no knowledge of the list.
const PAST = LEVELS * SLOTS; // timers due at a tick already processed
const FIRING = PAST + 1; // the batch being fired by advance()
const FIRST_HANDLE = FIRING + 1;

const NOT_LINKED = -1;
const FREE = -1;

const STALE = -1;
/** Bytes per timer record. */
const RECORD = 32;

export class TimerWheel {
  private cap: number;
  /**
   * One 32-byte record per timer (and per list sentinel), so that touching a
   * timer costs one cache line, not five: at 1M timers the wheel is bound by
   * memory latency. Float64 view: [deadline, data, -, -]; Int32 view:
   * [-, -, -, -, next, prev, handler index (FREE when not allocated), arm sequence].
   */
  private buf: ArrayBuffer;
  private f64: Float64Array;
  private i32: Int32Array;
  private readonly handlers: TimerHandler[] = [];
  private readonly handlerIds = new Map<TimerHandler, number>();
  private lastHandler: TimerHandler | null = null;
  private lastHandlerId = 0;
  /** Occupancy bitmap per level: bit s set = slot s may be non-empty (cleared lazily). */
  private readonly occ = new Int32Array(LEVELS * WORDS);
  /** Per level: bit w set = word w of occ may be non-zero. */
  private readonly summary = new Int32Array(LEVELS);
  /** Next never-used handle, and the head of the free list (chained through prevs). */
  private top = FIRST_HANDLE;
  private freeHead = -1;
  /** Last tick fully processed: every timer with tick <= cur has fired or sits in PAST. */
  private cur: number;
  private lastNow: number;
  private armed = 0;
  private allocated = 0;
  /** Smallest deadline in PAST (valid when PAST is non-empty). */
  private pastMin = Infinity;
  /** A safe early bound for nextDeadline(), or STALE when it must be recomputed. */
  private cachedNext = STALE;
  private inAdvance = false;
  /** Counts arm() calls: the tie-break between equal deadlines. */
  private armSeq = 0;
  private scratch = new Int32Array(64);

  /** `now`: the time the wheel starts at (the owner's clock). */
  constructor(now = 0, initialCapacity = 1024) {
    if (!(now >= 0 && now < HORIZON))
      throw new RangeError(`TimerWheel: start time must be in [0, 2^50) ms, got ${now}`);
    this.cur = Math.floor(now);
    this.lastNow = now;
    this.cap = Math.max(FIRST_HANDLE + 16, FIRST_HANDLE + initialCapacity);
    this.buf = new ArrayBuffer(this.cap * RECORD);
    this.f64 = new Float64Array(this.buf);
    this.i32 = new Int32Array(this.buf);
    this.initRecords(0, this.cap);
    for (let i = 0; i < FIRST_HANDLE; i++) {
      this.i32[(i << 3) + 4] = i;
      this.i32[(i << 3) + 5] = i;
    }
  }

  /** Number of armed timers. */
  get size(): number {
    return this.armed;
  }

  /** Number of allocated handles (armed or not). */
  get allocatedCount(): number {
    return this.allocated;
  }

  /** The time passed to the last advance() (or the constructor). */
  get now(): number {
    return this.lastNow;
  }

  /** A new, unarmed timer. Handles are reused after free(). */
  alloc(handler: TimerHandler, data = 0): number {
    // Owners allocate handle after handle for the same handler (a TCP layer
    // for each connection): remember the last one instead of a Map lookup.
    let hi: number | undefined;
    if (handler === this.lastHandler) hi = this.lastHandlerId;
    else {
      hi = this.handlerIds.get(handler);
      if (hi === undefined) {
        hi = this.handlers.length;
        this.handlers.push(handler);
        this.handlerIds.set(handler, hi);
      }
      this.lastHandler = handler;
      this.lastHandlerId = hi;
    }
    let h: number;
    if (this.freeHead >= 0) {
      h = this.freeHead;
      this.freeHead = this.i32[(h << 3) + 5];
    } else {
      if (this.top === this.cap) this.grow();
      h = this.top++;
    }
    this.i32[(h << 3) + 6] = hi;
    this.f64[(h << 2) + 1] = data;
    this.i32[(h << 3) + 4] = NOT_LINKED;
    this.i32[(h << 3) + 5] = NOT_LINKED;
    this.allocated++;
    return h;
  }

  /** Release a handle (cancels it if armed). The handle may be returned by a later alloc(). */
  free(h: number): void {
    this.check(h);
    if (this.i32[(h << 3) + 4] !== NOT_LINKED) this.unlink(h);
    this.i32[(h << 3) + 6] = FREE;
    this.i32[(h << 3) + 5] = this.freeHead;
    this.freeHead = h;
    this.allocated--;
  }

  /** The data number given to alloc(); settable so an owner can move. */
  data(h: number): number {
    return this.f64[(h << 2) + 1];
  }

  setData(h: number, data: number): void {
    this.check(h);
    this.f64[(h << 2) + 1] = data;
  }

  /**
   * Arm (or re-arm) `h` to fire at `deadline` (ms). O(1). A deadline at or
   * before the current tick fires on the next advance().
   */
  arm(h: number, deadline: number): void {
    this.check(h);
    if (!(deadline < HORIZON)) {
      throw new RangeError(`TimerWheel.arm: deadline ${deadline} is not a time before 2^50 ms`);
    }
    const r = h << 3;
    this.i32[r + 7] = this.armSeq++ | 0;
    if (this.i32[r + 4] !== NOT_LINKED) {
      if (deadline >= this.f64[h << 2]) {
        // Re-armed later (TCP restarting its RTO on every ACK): leave the
        // timer where it is and only record the new deadline; when its
        // current slot comes up, it moves on instead of firing. This touches
        // one cache line instead of three (the list neighbours).
        this.f64[h << 2] = deadline;
        return;
      }
      this.unlinkNode(h);
      this.armed--;
    }
    this.f64[h << 2] = deadline;
    this.insert(h, deadline);
    this.armed++;
  }

  /** Disarm `h` if armed; a no-op otherwise. O(1). */
  cancel(h: number): void {
    this.check(h);
    if (this.i32[(h << 3) + 4] !== NOT_LINKED) this.unlink(h);
  }

  isArmed(h: number): boolean {
    return this.i32[(h << 3) + 6] !== FREE && this.i32[(h << 3) + 4] !== NOT_LINKED;
  }

  /** The deadline `h` is armed for, or NaN when it is not armed. */
  deadline(h: number): number {
    return this.isArmed(h) ? this.f64[h << 2] : Number.NaN;
  }

  /**
   * The earliest time at which advance() has work to do, or Infinity. Exact
   * (the tick of the earliest timer) when that timer is within the
   * current 1024 ms window; otherwise an early bound (the start of the next non-empty
   * slot of a higher level), after which an advance() cascades and the bound
   * tightens. Each call after a change costs at most 5 bitmap scans; the
   * value is cached between changes. Always > the last processed tick
   * unless timers wait in the past list, so a driver always makes progress.
   */
  nextDeadline(): number {
    if (this.i32[(PAST << 3) + 4] !== PAST) return this.pastMin;
    const c = this.cachedNext;
    if (c !== STALE) return c;
    const t = this.nextEventTick();
    this.cachedNext = t;
    return t;
  }

  /**
   * Fire every timer whose tick is <= floor(now), in tick order and within a
   * tick in deadline order, calling `handler.onTimer(data, handle, now)`.
   * A fired timer is disarmed before its handler runs (the handler may
   * re-arm or free it). Not re-entrant.
   */
  advance(now: number): void {
    if (this.inAdvance) throw new Error('TimerWheel.advance: called re-entrantly from a timer handler');
    if (!Number.isFinite(now)) throw new RangeError(`TimerWheel.advance: bad time ${now}`);
    if (now < this.lastNow) now = this.lastNow; // time never goes backwards
    this.lastNow = now;
    this.inAdvance = true;
    let next = STALE;
    try {
      if (this.i32[(PAST << 3) + 4] !== PAST) {
        this.pastMin = Infinity;
        this.spliceAll(PAST, FIRING);
        this.fireBatch(now);
      }
      const target = Math.floor(now);
      // The cached value is an early bound of the next event (inserts lower
      // it, cancels leave it): beyond `target`, nothing is due and the scan
      // can be skipped (a driver advances every member at every step, mostly
      // with nothing due).
      const c = this.cachedNext;
      if (c !== STALE && c > target) next = c;
      else
        for (;;) {
          const t = this.nextEventTick();
          if (t > target || t >= HORIZON) {
            next = t;
            break;
          }
          this.moveTo(t);
          this.fireBatch(now);
        }
      if (target > this.cur) this.cur = Math.min(target, HORIZON - 1);
    } finally {
      this.inAdvance = false;
      // The tick that ended the loop was computed after the last handler ran
      // and lies beyond `target`, so moving `cur` up to `target` leaves it
      // valid: keep it instead of recomputing at the next nextDeadline()
      // (a driver asks after every advance, mostly with nothing fired).
      this.cachedNext = next;
    }
  }

  // ---- internals ----

  private check(h: number): void {
    if (!(h >= FIRST_HANDLE && h < this.top) || this.i32[(h << 3) + 6] === FREE) {
      throw new RangeError(`TimerWheel: ${h} is not an allocated timer handle`);
    }
  }

  private grow(): void {
    const n = this.cap * 2;
    const buf = new ArrayBuffer(n * RECORD);
    new Uint8Array(buf).set(new Uint8Array(this.buf));
    this.buf = buf;
    this.f64 = new Float64Array(buf);
    this.i32 = new Int32Array(buf);
    this.initRecords(this.cap, n);
    this.cap = n;
  }

  private initRecords(from: number, to: number): void {
    for (let h = from; h < to; h++) {
      this.i32[(h << 3) + 4] = NOT_LINKED;
      this.i32[(h << 3) + 5] = NOT_LINKED;
      this.i32[(h << 3) + 6] = FREE;
    }
  }

  private unlink(h: number): void {
    this.unlinkNode(h);
    this.armed--;
    // A cancel can only move the true next deadline later, so a cached value
    // stays a safe early bound; an emptied slot bit is cleared lazily.
  }

  private unlinkNode(h: number): void {
    const n = this.i32[(h << 3) + 4];
    const p = this.i32[(h << 3) + 5];
    this.i32[(p << 3) + 4] = n;
    this.i32[(n << 3) + 5] = p;
    this.i32[(h << 3) + 4] = NOT_LINKED;
    this.i32[(h << 3) + 5] = NOT_LINKED;
  }

  private pushBack(list: number, h: number): void {
    const last = this.i32[(list << 3) + 5];
    this.i32[(last << 3) + 4] = h;
    this.i32[(h << 3) + 5] = last;
    this.i32[(h << 3) + 4] = list;
    this.i32[(list << 3) + 5] = h;
  }

  /** Move every node of list `from` to the end of list `to`. */
  private spliceAll(from: number, to: number): void {
    const first = this.i32[(from << 3) + 4];
    if (first === from) return;
    const last = this.i32[(from << 3) + 5];
    const toLast = this.i32[(to << 3) + 5];
    this.i32[(toLast << 3) + 4] = first;
    this.i32[(first << 3) + 5] = toLast;
    this.i32[(last << 3) + 4] = to;
    this.i32[(to << 3) + 5] = last;
    this.i32[(from << 3) + 4] = from;
    this.i32[(from << 3) + 5] = from;
  }

  /** Link `h` into the right list for its deadline, relative to `cur`. */
  private insert(h: number, deadline: number): void {
    const tick = Math.ceil(deadline);
    const cur = this.cur;
    if (tick <= cur) {
      this.pushBack(PAST, h);
      if (deadline < this.pastMin) this.pastMin = deadline;
      return;
    }
    let level: number;
    let slot: number;
    if (tick < 0x80000000 && cur >= 0) {
      // Fast path: both ticks fit in 31 bits; the level is the highest
      // differing 6-bit digit.
      const x = tick ^ cur;
      level = ((31 - Math.clz32(x)) / BITS) | 0;
      slot = (tick >>> (level * BITS)) & (SLOTS - 1);
    } else {
      if (tick >= HORIZON) {
        throw new RangeError(`TimerWheel.arm: deadline ${deadline} is beyond 2^50 ms (the wheel's horizon)`);
      }
      level = 0;
      while (Math.floor(tick / POW[level + 1]) !== Math.floor(cur / POW[level + 1])) level++;
      slot = Math.floor(tick / POW[level]) % SLOTS;
    }
    this.pushBack(level * SLOTS + slot, h);
    this.occ[level * WORDS + (slot >>> 5)] |= 1 << (slot & 31);
    this.summary[level] |= 1 << (slot >>> 5);
    if (tick < this.cachedNext) this.cachedNext = tick; // STALE (-1) is never replaced
  }

  /**
   * The next tick > cur at which something happens: a level-0 slot to fire
   * (exact) or a higher-level slot to cascade (its start, an early bound).
   * Infinity when the wheel is empty. Clears bits of slots found empty.
   */
  private nextEventTick(): number {
    const cur = this.cur;
    for (let level = 0; level < LEVELS; level++) {
      const digit = Math.floor(cur / POW[level]) % SLOTS;
      let slot = this.findSlotAfter(level, digit);
      while (slot >= 0) {
        const list = level * SLOTS + slot;
        if (this.i32[(list << 3) + 4] !== list) {
          const base = Math.floor(cur / POW[level + 1]) * POW[level + 1];
          return base + slot * POW[level];
        }
        this.clearSlot(level, slot);
        slot = this.findSlotAfter(level, slot);
      }
    }
    return Infinity;
  }

  /** Lowest occupied slot > d at `level`, or -1: one word, then the summary word. */
  private findSlotAfter(level: number, d: number): number {
    const start = d + 1;
    if (start >= SLOTS) return -1;
    const base = level * WORDS;
    let w = start >>> 5;
    const m = this.occ[base + w] & (-1 << (start & 31));
    if (m !== 0) return (w << 5) + ctz(m);
    if (w + 1 >= WORDS) return -1;
    const sm = this.summary[level] & (-1 << (w + 1));
    if (sm === 0) return -1;
    w = ctz(sm);
    const word = this.occ[base + w];
    if (word === 0) {
      // Stale summary bit (its slots were cleared): drop it and look further.
      this.summary[level] &= ~(1 << w);
      return this.findSlotAfter(level, (w << 5) + 31);
    }
    return (w << 5) + ctz(word);
  }

  private clearSlot(level: number, slot: number): void {
    const i = level * WORDS + (slot >>> 5);
    const v = this.occ[i] & ~(1 << (slot & 31));
    this.occ[i] = v;
    if (v === 0) this.summary[level] &= ~(1 << (slot >>> 5));
  }

  /**
   * Make `t` the current tick: cascade the slots whose start is `t` at every
   * level whose digit changed, then move the level-0 slot of `t` to FIRING.
   */
  private moveTo(t: number): void {
    const old = this.cur;
    this.cur = t;
    for (let level = LEVELS - 1; level >= 1; level--) {
      if (Math.floor(t / POW[level]) === Math.floor(old / POW[level])) continue;
      const slot = Math.floor(t / POW[level]) % SLOTS;
      const list = level * SLOTS + slot;
      this.clearSlot(level, slot);
      let h = this.i32[(list << 3) + 4];
      if (h === list) continue;
      // Detach the whole slot, then re-insert each timer relative to t.
      this.i32[(list << 3) + 4] = list;
      this.i32[(list << 3) + 5] = list;
      while (h !== list) {
        const n = this.i32[(h << 3) + 4];
        const tick = Math.ceil(this.f64[h << 2]);
        if (tick <= t) this.pushBack(FIRING, h);
        else this.insert(h, this.f64[h << 2]);
        h = n;
      }
    }
    const slot0 = t % SLOTS;
    this.clearSlot(0, slot0);
    this.spliceAll(slot0, FIRING);
  }

  /**
   * Sort FIRING by (deadline, arming order) if needed, then fire it from the
   * front. A timer whose deadline moved later (lazy re-arm, possibly by a
   * handler of this very batch) goes back into the wheel instead.
   */
  private fireBatch(now: number): void {
    const i32 = this.i32;
    const f64 = this.f64;
    let h = i32[(FIRING << 3) + 4];
    if (h === FIRING) return;
    // Usually already in order (one deadline per tick, or armed in order).
    let sorted = true;
    let n = 0;
    let prev = -1;
    for (; h !== FIRING; h = i32[(h << 3) + 4]) {
      if (prev >= 0 && before(f64, i32, h, prev)) sorted = false;
      prev = h;
      n++;
    }
    if (!sorted) this.sortFiring(n);
    for (;;) {
      h = this.i32[(FIRING << 3) + 4];
      if (h === FIRING) break;
      const d = this.f64[h << 2];
      if (Math.ceil(d) > this.cur) {
        this.unlinkNode(h);
        this.insert(h, d);
        continue;
      }
      this.unlink(h);
      this.handlers[this.i32[(h << 3) + 6]].onTimer(this.f64[(h << 2) + 1], h, now);
    }
  }

  /** Sort the n timers in FIRING by deadline, ties by arming order. */
  private sortFiring(n: number): void {
    const f64 = this.f64;
    const i32 = this.i32;
    if (this.scratch.length < n) this.scratch = new Int32Array(Math.max(n, this.scratch.length * 2));
    const s = this.scratch;
    let k = 0;
    for (let h = i32[(FIRING << 3) + 4]; h !== FIRING; h = i32[(h << 3) + 4]) s[k++] = h;
    if (n <= 64) {
      // Insertion sort: batches are a handful of timers per tick.
      for (let i = 1; i < n; i++) {
        const h = s[i];
        let j = i - 1;
        while (j >= 0 && before(f64, i32, h, s[j])) {
          s[j + 1] = s[j];
          j--;
        }
        s[j + 1] = h;
      }
    } else {
      const arr = Array.from(s.subarray(0, n));
      arr.sort((a, b) => (before(f64, i32, a, b) ? -1 : before(f64, i32, b, a) ? 1 : 0));
      s.set(arr);
    }
    i32[(FIRING << 3) + 4] = FIRING;
    i32[(FIRING << 3) + 5] = FIRING;
    for (let i = 0; i < n; i++) this.pushBack(FIRING, s[i]);
  }
}

/**
 * Firing order: earlier deadline first; equal deadlines in arming order (a
 * 32-bit arm sequence compared with wrap-around, like TCP sequence numbers).
 */
function before(f64: Float64Array, i32: Int32Array, a: number, b: number): boolean {
  const da = f64[a << 2];
  const db = f64[b << 2];
  return da < db || (da === db && ((i32[(a << 3) + 7] - i32[(b << 3) + 7]) | 0) < 0);
}

/** Index of the lowest set bit of a non-zero 32-bit integer. */
function ctz(x: number): number {
  return 31 - Math.clz32(x & -x);
}
