import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Rng } from '../../src/rng.js';
import { type TimerHandler, TimerWheel } from '../../src/time/timer-wheel.js';

type Fired = { data: number; handle: number; now: number };

function recorder(): TimerHandler & { fired: Fired[] } {
  const fired: Fired[] = [];
  return {
    fired,
    onTimer(data, handle, now) {
      fired.push({ data, handle, now });
    },
  };
}

describe('TimerWheel basics', () => {
  test('fires at the deadline tick, never before; fractional deadlines round up to the next tick', () => {
    const w = new TimerWheel(0);
    const r = recorder();
    w.arm(w.alloc(r, 1), 5);
    w.arm(w.alloc(r, 2), 5.25);
    assert.equal(w.size, 2);
    assert.equal(w.nextDeadline(), 5);
    w.advance(4.999);
    assert.equal(r.fired.length, 0);
    w.advance(5);
    assert.deepEqual(
      r.fired.map((f) => f.data),
      [1],
    );
    assert.equal(w.nextDeadline(), 6);
    w.advance(5.5); // deadline 5.25 belongs to tick 6
    assert.equal(r.fired.length, 1);
    w.advance(6);
    assert.deepEqual(
      r.fired.map((f) => [f.data, f.now]),
      [
        [1, 5],
        [2, 6],
      ],
    );
    assert.equal(w.size, 0);
    assert.equal(w.nextDeadline(), Infinity);
  });

  test('within one tick timers fire in deadline order, ties in arming order', () => {
    const w = new TimerWheel(0);
    const r = recorder();
    const ds = [9.9, 9.1, 9.5, 9.1, 10, 9.05];
    ds.forEach((d, i) => {
      w.arm(w.alloc(r, i), d);
    });
    w.advance(10);
    assert.deepEqual(
      r.fired.map((f) => f.data),
      [5, 1, 3, 2, 0, 4],
    );
  });

  test('a large batch in one tick (beyond the insertion-sort size) is sorted stably', () => {
    const w = new TimerWheel(0);
    const r = recorder();
    const rng = new Rng(9);
    const ds: number[] = [];
    for (let i = 0; i < 500; i++) ds.push(99 + Math.floor(rng.float() * 50) / 50 + 0.001);
    ds.forEach((d, i) => {
      w.arm(w.alloc(r, i), d);
    });
    w.advance(100);
    const want = ds
      .map((d, i) => [d, i])
      .sort((a, b) => a[0] - b[0] || a[1] - b[1])
      .map((x) => x[1]);
    assert.deepEqual(
      r.fired.map((f) => f.data),
      want,
    );
  });

  test('a big jump fires everything due in deadline order across levels', () => {
    const w = new TimerWheel(0);
    const r = recorder();
    const ds = [3_600_000, 1, 63, 64, 65, 4095, 4096, 262_144, 7_200_000.5, 16_777_216, 1_000_000_000];
    for (const d of [...ds].reverse()) w.arm(w.alloc(r, d), d);
    w.advance(2e9);
    assert.deepEqual(
      r.fired.map((f) => f.data),
      [...ds].sort((a, b) => a - b),
    );
  });

  test('cancel, re-arm and isArmed/deadline', () => {
    const w = new TimerWheel(100);
    const r = recorder();
    const a = w.alloc(r, 1);
    const b = w.alloc(r, 2);
    w.arm(a, 200);
    w.arm(b, 300);
    assert.equal(w.isArmed(a), true);
    assert.equal(w.deadline(a), 200);
    w.cancel(a);
    w.cancel(a); // no-op
    assert.equal(w.isArmed(a), false);
    assert.ok(Number.isNaN(w.deadline(a)));
    w.arm(b, 150); // re-arm earlier
    w.arm(b, 250); // and later again
    assert.equal(w.size, 1);
    w.advance(249);
    assert.equal(r.fired.length, 0);
    w.advance(1000);
    assert.deepEqual(
      r.fired.map((f) => [f.data, f.now]),
      [[2, 1000]],
    );
  });

  test('timers armed for the past fire on the next advance, even at the same time', () => {
    const w = new TimerWheel(0);
    const r = recorder();
    w.advance(50);
    const h = w.alloc(r, 7);
    w.arm(h, 10);
    assert.equal(w.nextDeadline(), 10);
    w.advance(50);
    assert.deepEqual(
      r.fired.map((f) => [f.data, f.now]),
      [[7, 50]],
    );
  });

  test('a handler re-arming itself for "now" fires on the next advance, not in a loop', () => {
    const w = new TimerWheel(0);
    let count = 0;
    const handler: TimerHandler = {
      onTimer(_d, h, now) {
        count++;
        w.arm(h, now);
      },
    };
    w.arm(w.alloc(handler), 3);
    w.advance(3);
    assert.equal(count, 1);
    assert.equal(w.nextDeadline(), 3);
    w.advance(3);
    assert.equal(count, 2);
  });

  test('a handler re-arming later within the same advance window fires in that advance', () => {
    const w = new TimerWheel(0);
    const times: number[] = [];
    const handler: TimerHandler = {
      onTimer(_d, h) {
        const d = w.deadline(h); // NaN: already disarmed
        assert.ok(Number.isNaN(d));
        times.push(times.length);
        if (times.length < 5) w.arm(h, 100 + times.length * 100);
      },
    };
    const h = w.alloc(handler);
    w.arm(h, 100);
    w.advance(1000); // re-arms to 200, 300, 400, 500 all fire within this window
    assert.equal(times.length, 5);
    assert.equal(w.isArmed(h), false);
  });

  test('a handler may cancel or free another timer of the same tick', () => {
    const w = new TimerWheel(0);
    const fired: number[] = [];
    let victim = -1;
    let freed = -1;
    const handler: TimerHandler = {
      onTimer(data) {
        fired.push(data);
        if (data === 1) {
          w.cancel(victim);
          w.free(freed);
        }
      },
    };
    const a = w.alloc(handler, 1);
    victim = w.alloc(handler, 2);
    freed = w.alloc(handler, 3);
    w.arm(a, 10.1);
    w.arm(victim, 10.2);
    w.arm(freed, 10.3);
    w.advance(11);
    assert.deepEqual(fired, [1]);
    assert.equal(w.size, 0);
    assert.equal(w.allocatedCount, 2);
  });

  test('a handler re-arming a not-yet-fired timer of its batch later moves it, earlier fires it in order', () => {
    const w = new TimerWheel(0);
    const fired: [number, number][] = [];
    const hs: number[] = [];
    const handler: TimerHandler = {
      onTimer(data, _h, now) {
        fired.push([data, now]);
        if (data === 0) {
          w.arm(hs[1], 50); // later: must not fire in this batch
          w.arm(hs[2], 10.05); // earlier than its 10.9, still this tick
        }
      },
    };
    for (let i = 0; i < 3; i++) hs.push(w.alloc(handler, i));
    w.arm(hs[0], 10.1);
    w.arm(hs[1], 10.5);
    w.arm(hs[2], 10.9);
    w.advance(10);
    assert.equal(fired.length, 0);
    w.advance(11);
    // hs[2] re-armed for 10.05 (ceil 11, not past) during the batch: next advance.
    assert.deepEqual(fired, [[0, 11]]);
    assert.equal(w.isArmed(hs[2]), true);
    w.advance(11);
    assert.deepEqual(fired, [
      [0, 11],
      [2, 11],
    ]);
    assert.equal(w.deadline(hs[1]), 50);
    w.advance(49);
    assert.equal(fired.length, 2);
    w.advance(50);
    assert.deepEqual(fired[2], [1, 50]);
  });

  test('re-arming later many times (RTO restarts) fires once, at the last deadline', () => {
    const w = new TimerWheel(0);
    const r = recorder();
    const h = w.alloc(r, 1);
    let now = 0;
    for (let i = 0; i < 1000; i++) {
      w.arm(h, now + 200);
      now += 3;
      w.advance(now);
    }
    assert.equal(r.fired.length, 0);
    let steps = 0;
    while (w.size > 0 && steps++ < 100) w.advance((now = w.nextDeadline()));
    assert.deepEqual(
      r.fired.map((f) => f.now),
      [3000 - 3 + 200],
    );
    assert.ok(steps <= 4, `${steps} advances`);
  });

  test('handles are reused after free; using a freed handle throws', () => {
    const w = new TimerWheel(0);
    const r = recorder();
    const a = w.alloc(r, 1);
    w.arm(a, 10);
    w.free(a);
    assert.equal(w.size, 0);
    assert.throws(() => w.arm(a, 5), RangeError);
    assert.throws(() => w.free(a), RangeError);
    const b = w.alloc(r, 2);
    assert.equal(b, a);
    assert.equal(w.data(b), 2);
    w.advance(20);
    assert.equal(r.fired.length, 0);
  });

  test('capacity grows by doubling and keeps state', () => {
    const w = new TimerWheel(0, 4);
    const r = recorder();
    const hs: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const h = w.alloc(r, i);
      w.arm(h, 5000 - i);
      hs.push(h);
    }
    assert.equal(new Set(hs).size, 5000);
    w.advance(5000);
    assert.equal(r.fired.length, 5000);
    assert.deepEqual(
      r.fired.slice(0, 3).map((f) => f.data),
      [4999, 4998, 4997],
    );
  });

  test('advance is not re-entrant; NaN deadlines and far futures are rejected', () => {
    const w = new TimerWheel(0);
    const h = w.alloc({ onTimer: () => w.advance(100) });
    assert.throws(() => w.arm(h, Number.NaN), RangeError);
    assert.throws(() => w.advance(Infinity), RangeError);
    assert.throws(() => w.advance(Number.NaN), RangeError);
    assert.throws(() => w.arm(h, Infinity), RangeError);
    assert.throws(() => w.arm(h, 2 ** 51), RangeError);
    assert.throws(() => w.arm(h, 2 ** 50), RangeError);
    w.arm(h, 2 ** 50 - 5); // the last ticks of the horizon still work
    assert.ok(w.nextDeadline() <= 2 ** 50 - 5);
    w.cancel(h);
    w.arm(h, 1);
    assert.throws(() => w.advance(5), /re-entrantly/);
  });

  test('works at wall-clock magnitudes (ticks above 2^31)', () => {
    const start = 1_764_000_000_000; // a Date.now() value
    const w = new TimerWheel(start);
    const r = recorder();
    const ds = [start + 1, start + 0.5, start + 60_000, start + 3_600_000.25, start + 86_400_000];
    for (const d of ds) w.arm(w.alloc(r, d), d);
    let now = start;
    let calls = 0;
    while (w.size > 0 && calls++ < 1000) {
      now = w.nextDeadline();
      w.advance(now);
    }
    assert.deepEqual(
      r.fired.map((f) => f.data),
      [...ds].sort((a, b) => a - b),
    );
    for (const f of r.fired) assert.ok(f.now >= f.data && f.now - f.data < 1);
  });

  test('nextDeadline is a safe early bound and driving by it always makes progress', () => {
    const w = new TimerWheel(0);
    const r = recorder();
    w.arm(w.alloc(r, 0), 10_000_000);
    let calls = 0;
    let last = -1;
    while (w.size > 0) {
      const t = w.nextDeadline();
      assert.ok(t <= 10_000_000 && t > last, `bound ${t} after ${last}`);
      last = t;
      w.advance(t);
      calls++;
    }
    assert.ok(calls <= 8, `${calls} advances to reach one far timer`);
    assert.equal(r.fired[0].now, 10_000_000);
  });
});

describe('TimerWheel at scale', () => {
  test('1,000,000 timers with cancels and re-arms: each fires exactly once, at its deadline within one tick', () => {
    const N = 1_000_000;
    const rng = new Rng(2024);
    const w = new TimerWheel(0);
    const expected = new Float64Array(N); // deadline the timer must fire at; NaN = must not fire
    const count = new Uint8Array(N);
    const firedAt = new Float64Array(N);
    const handles = new Int32Array(N);
    let early = 0;
    let late = 0;
    let wrongDeadline = 0;
    let outOfOrder = 0;
    let lastFired = -Infinity;
    const handler: TimerHandler = {
      onTimer(i, h, now) {
        count[i]++;
        firedAt[i] = now;
        const d = expected[i];
        if (h !== handles[i] || Number.isNaN(d)) wrongDeadline++;
        if (now < d) early++;
        if (now - d >= 1) late++;
        if (d < lastFired) outOfOrder++;
        lastFired = d;
      },
    };
    // Deadlines log-uniform from 1 ms to ~4 h, half of them with fractions.
    const draw = (from: number): number => {
      const span = Math.exp(rng.float() * Math.log(4 * 3_600_000));
      const d = from + span;
      return rng.u32() & 1 ? d : Math.ceil(d);
    };
    for (let i = 0; i < N; i++) {
      const h = w.alloc(handler, i);
      handles[i] = h;
      const d = draw(0);
      expected[i] = d;
      w.arm(h, d);
    }
    assert.equal(w.size, N);

    // Drive like World: jump to the next deadline, but sometimes stop early
    // at an arbitrary time to cancel and re-arm a share of timers.
    let now = 0;
    let interventions = 0;
    let cancelled = 0;
    let rearmed = 0;
    let steps = 0;
    while (w.size > 0) {
      const next = w.nextDeadline();
      assert.ok(Number.isFinite(next), 'armed timers but no next deadline');
      let t = next;
      if (rng.float() < 0.0005) {
        // An intervention at a random time before the next deadline.
        t = Math.max(now, now + (next - now) * rng.float());
        w.advance(t);
        now = t;
        interventions++;
        for (let k = 0; k < 200; k++) {
          const i = rng.below(N);
          if (!w.isArmed(handles[i])) continue;
          if (rng.float() < 0.3) {
            w.cancel(handles[i]);
            expected[i] = Number.NaN;
            cancelled++;
          } else {
            const d = draw(now);
            w.arm(handles[i], d);
            expected[i] = d;
            rearmed++;
          }
        }
        continue;
      }
      if (t < now) t = now;
      w.advance(t);
      now = t;
      steps++;
      assert.ok(steps < 5 * N, 'driver made no progress');
    }
    let never = 0;
    let twice = 0;
    let firedCancelled = 0;
    for (let i = 0; i < N; i++) {
      if (Number.isNaN(expected[i])) {
        if (count[i] !== 0) firedCancelled++;
      } else if (count[i] === 0) never++;
      else if (count[i] > 1) twice++;
    }
    assert.ok(
      interventions > 10 && cancelled > 100 && rearmed > 100,
      `${interventions}/${cancelled}/${rearmed}`,
    );
    assert.deepEqual(
      { never, twice, firedCancelled, early, late, wrongDeadline, outOfOrder },
      { never: 0, twice: 0, firedCancelled: 0, early: 0, late: 0, wrongDeadline: 0, outOfOrder: 0 },
    );
  });
});

describe('TimerWheel against a model (property)', () => {
  type Op =
    | { k: 'arm'; i: number; d: number }
    | { k: 'cancel'; i: number }
    | { k: 'free'; i: number }
    | { k: 'adv'; dt: number };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    {
      arbitrary: fc.record({
        k: fc.constant('arm' as const),
        i: fc.nat(15),
        d: fc.oneof(
          fc.double({ min: -10, max: 300, noNaN: true }),
          fc.integer({ min: 0, max: 300_000 }),
          fc.double({ min: 0, max: 2e7, noNaN: true }),
        ),
      }),
      weight: 4,
    },
    { arbitrary: fc.record({ k: fc.constant('cancel' as const), i: fc.nat(15) }), weight: 1 },
    { arbitrary: fc.record({ k: fc.constant('free' as const), i: fc.nat(15) }), weight: 1 },
    {
      arbitrary: fc.record({
        k: fc.constant('adv' as const),
        dt: fc.oneof(fc.double({ min: 0, max: 5, noNaN: true }), fc.integer({ min: 0, max: 5_000_000 })),
      }),
      weight: 3,
    },
  );

  test('fires the same timers in the same order as a naive model; nextDeadline is a safe bound', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.array(opArb, { maxLength: 80 }),
        (start, ops) => {
          const w = new TimerWheel(start);
          const got: number[] = [];
          const handler: TimerHandler = { onTimer: (i) => got.push(i) };
          const handles: number[] = [];
          // model
          const m = new Map<number, { d: number; seq: number; past: boolean }>();
          let cur = Math.floor(start);
          let now = start;
          let seq = 0;
          const want: number[] = [];
          for (const op of ops) {
            if (op.k === 'arm') {
              if (handles[op.i] === undefined) handles[op.i] = w.alloc(handler, op.i);
              w.arm(handles[op.i], op.d);
              m.set(op.i, { d: op.d, seq: seq++, past: Math.ceil(op.d) <= cur });
            } else if (op.k === 'cancel') {
              if (handles[op.i] !== undefined) w.cancel(handles[op.i]);
              m.delete(op.i);
            } else if (op.k === 'free') {
              if (handles[op.i] !== undefined) w.free(handles[op.i]);
              handles[op.i] = undefined as unknown as number;
              m.delete(op.i);
            } else {
              // nextDeadline must not be later than the earliest due timer.
              let trueNext = Infinity;
              for (const v of m.values()) trueNext = Math.min(trueNext, v.past ? v.d : Math.ceil(v.d));
              assert.ok(w.nextDeadline() <= trueNext, `nextDeadline ${w.nextDeadline()} > ${trueNext}`);
              now += op.dt;
              const target = Math.floor(now);
              const entries = [...m.entries()];
              const byOrder = (a: (typeof entries)[0], b: (typeof entries)[0]) =>
                a[1].d - b[1].d || a[1].seq - b[1].seq;
              const pastDue = entries.filter(([, v]) => v.past).sort(byOrder);
              const due = entries.filter(([, v]) => !v.past && Math.ceil(v.d) <= target).sort(byOrder);
              for (const [i] of [...pastDue, ...due]) {
                want.push(i);
                m.delete(i);
              }
              cur = Math.max(cur, target);
              w.advance(now);
            }
            assert.equal(w.size, m.size);
          }
          assert.deepEqual(got, want);
        },
      ),
      { numRuns: 300 },
    );
  });
});
