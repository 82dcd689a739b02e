// Timer wheel vs an indexed binary heap (the usual alternative: O(log n)
// arm/cancel), same workload in the same run.
//   node --import tsx bench/timer-wheel.bench.ts [pending=1000000]
import { performance } from 'node:perf_hooks';
import { Rng } from '../src/rng.js';
import { type TimerHandler, TimerWheel } from '../src/time/timer-wheel.js';

const N = Number(process.argv[2] ?? 1_000_000);

/** Indexed min-heap of timers keyed by deadline, typed arrays, with cancel/update by handle. */
class HeapTimers {
  private heap: Int32Array;
  private pos: Int32Array; // index in heap, -1 if not armed
  private key: Float64Array;
  private data: Float64Array;
  private n = 0;
  private next = 0;
  constructor(
    cap: number,
    private readonly handler: TimerHandler,
  ) {
    this.heap = new Int32Array(cap);
    this.pos = new Int32Array(cap).fill(-1);
    this.key = new Float64Array(cap);
    this.data = new Float64Array(cap);
  }
  alloc(data: number): number {
    const h = this.next++;
    this.data[h] = data;
    return h;
  }
  arm(h: number, deadline: number): void {
    this.key[h] = deadline;
    const p = this.pos[h];
    if (p < 0) {
      const i = this.n++;
      this.heap[i] = h;
      this.pos[h] = i;
      this.up(i);
    } else {
      this.up(p);
      this.down(this.pos[h]);
    }
  }
  cancel(h: number): void {
    const p = this.pos[h];
    if (p < 0) return;
    const last = this.heap[--this.n];
    this.pos[h] = -1;
    if (p < this.n) {
      this.heap[p] = last;
      this.pos[last] = p;
      this.up(p);
      this.down(this.pos[last]);
    }
  }
  nextDeadline(): number {
    return this.n > 0 ? this.key[this.heap[0]] : Infinity;
  }
  advance(now: number): void {
    while (this.n > 0 && this.key[this.heap[0]] <= now) {
      const h = this.heap[0];
      this.cancel(h);
      this.handler.onTimer(this.data[h], h, now);
    }
  }
  private up(i: number): void {
    const heap = this.heap;
    const key = this.key;
    const h = heap[i];
    const k = key[h];
    while (i > 0) {
      const p = (i - 1) >> 1;
      const ph = heap[p];
      if (key[ph] <= k) break;
      heap[i] = ph;
      this.pos[ph] = i;
      i = p;
    }
    heap[i] = h;
    this.pos[h] = i;
  }
  private down(i: number): void {
    const heap = this.heap;
    const key = this.key;
    const n = this.n;
    const h = heap[i];
    const k = key[h];
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && key[heap[c + 1]] < key[heap[c]]) c++;
      if (key[heap[c]] >= k) break;
      heap[i] = heap[c];
      this.pos[heap[c]] = i;
      i = c;
    }
    heap[i] = h;
    this.pos[h] = i;
  }
}

interface Impl {
  alloc(data: number): number;
  arm(h: number, d: number): void;
  cancel(h: number): void;
  nextDeadline(): number;
  advance(now: number): void;
}

let fired = 0;
const handler: TimerHandler = {
  onTimer() {
    fired++;
  },
};

function makeWheel(): Impl {
  const w = new TimerWheel(0, N);
  return {
    alloc: (d) => w.alloc(handler, d),
    arm: (h, d) => w.arm(h, d),
    cancel: (h) => w.cancel(h),
    nextDeadline: () => w.nextDeadline(),
    advance: (now) => w.advance(now),
  };
}
const makeHeap = (): Impl => new HeapTimers(N, handler);

// Deadlines: 1 ms .. 120 s (RTO, delayed ACK, keepalive-ish mix), with fractions.
const rng = new Rng(7);
const deadlines = new Float64Array(N);
for (let i = 0; i < N; i++) deadlines[i] = 1 + rng.float() * 120_000;
const picks = new Int32Array(N);
for (let i = 0; i < N; i++) picks[i] = rng.below(N);
const later = new Float64Array(N);
for (let i = 0; i < N; i++) later[i] = 120_000 + rng.float() * 200;

type Row = { name: string; wheel: number; heap: number };

function measure(make: () => Impl): {
  armFire: number;
  arm: number;
  fire: number;
  rearm: number;
  cancelArm: number;
} {
  const t = make();
  const hs = new Int32Array(N);
  for (let i = 0; i < N; i++) hs[i] = t.alloc(i);
  // Arm N timers (fresh).
  let t0 = performance.now();
  for (let i = 0; i < N; i++) t.arm(hs[i], deadlines[i]);
  const armNs = ((performance.now() - t0) * 1e6) / N;
  // Re-arm random pending timers further out (TCP restarting its RTO on each ACK).
  t0 = performance.now();
  for (let i = 0; i < N; i++) t.arm(hs[picks[i]], later[i]);
  const rearmNs = ((performance.now() - t0) * 1e6) / N;
  // Cancel + arm again (a timer stopped then started).
  t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const h = hs[picks[(i * 7) % N]];
    t.cancel(h);
    t.arm(h, deadlines[i]);
  }
  const cancelArmNs = ((performance.now() - t0) * 1e6) / (2 * N);
  // Fire everything, driven by nextDeadline() like World does.
  fired = 0;
  t0 = performance.now();
  let guard = 0;
  for (;;) {
    const d = t.nextDeadline();
    if (d === Infinity) break;
    t.advance(d);
    if (++guard > 10 * N) throw new Error('no progress');
  }
  const fireNs = ((performance.now() - t0) * 1e6) / N;
  if (fired !== N) throw new Error(`fired ${fired} of ${N}`);
  return { armFire: armNs + fireNs, arm: armNs, fire: fireNs, rearm: rearmNs, cancelArm: cancelArmNs };
}

// Warm up both (JIT), then take the best of 3 runs each, interleaved.
const best = (a: number[]): number => Math.min(...a);
const runs: Record<string, { wheel: number[]; heap: number[] }> = {};
for (let r = 0; r < 4; r++) {
  for (const [name, make] of [
    ['wheel', makeWheel],
    ['heap', makeHeap],
  ] as const) {
    const m = measure(make);
    if (r === 0) continue; // warm-up
    for (const [k, v] of Object.entries(m)) {
      runs[k] ??= { wheel: [], heap: [] };
      runs[k][name].push(v);
    }
  }
}
const label: Record<string, string> = {
  armFire: 'arm + fire, per timer',
  arm: '  arm (fresh)',
  fire: '  fire (advance to each deadline)',
  rearm: 're-arm a pending timer later',
  cancelArm: 'cancel / arm (per op)',
};
const rows: Row[] = Object.entries(runs).map(([k, v]) => ({
  name: label[k],
  wheel: best(v.wheel),
  heap: best(v.heap),
}));
console.log(
  `timer wheel vs indexed binary heap, ${N.toLocaleString('en-US')} pending timers, deadlines 1 ms..120 s`,
);
console.log(`node ${process.version}; best of 3 after a warm-up\n`);
console.log(
  `${'operation'.padEnd(36)}${'wheel ns'.padStart(10)}${'heap ns'.padStart(10)}${'heap/wheel'.padStart(12)}`,
);
for (const r of rows) {
  console.log(
    `${r.name.padEnd(36)}${r.wheel.toFixed(1).padStart(10)}${r.heap.toFixed(1).padStart(10)}${(r.heap / r.wheel).toFixed(2).padStart(12)}`,
  );
}
const mem = process.memoryUsage();
console.log(
  `\nwheel state: one 32-byte record per timer (deadline, data, next, prev, handler); rss ${(mem.rss / 2 ** 20).toFixed(0)} MiB`,
);
