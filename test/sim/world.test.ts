import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryWire } from '../../src/link/memory-wire.js';
import { LivelockError, World } from '../../src/sim/world.js';
import type { Steppable } from '../../src/time/steppable.js';
import { TimerWheel } from '../../src/time/timer-wheel.js';

/** Fires every `period` ms, logging (name, now). */
class Ticker implements Steppable {
  next: number;
  constructor(
    readonly name: string,
    readonly period: number,
    readonly log: string[],
    start = period,
  ) {
    this.next = start;
  }
  nextDeadline(): number {
    return this.next;
  }
  advance(now: number): void {
    while (this.next <= now) {
      this.log.push(`${this.name}@${now}`);
      this.next += this.period;
    }
  }
}

/** Records every advance() call it gets. */
class Spy implements Steppable {
  calls: number[] = [];
  nextDeadline(): number {
    return Infinity;
  }
  advance(now: number): void {
    this.calls.push(now);
  }
}

describe('World', () => {
  test('jumps from event to event; every stack-like member is brought to each event time, in order of addition', () => {
    const log: string[] = [];
    const world = new World();
    world.add(new Ticker('a', 30, log));
    world.add(new Ticker('b', 20, log));
    const spy = world.add(new Spy());
    const steps = world.run({ until: 60 });
    assert.deepEqual(log, ['b@20', 'a@30', 'b@40', 'a@60', 'b@60']);
    assert.equal(steps, 4);
    assert.equal(world.now, 60);
    // Members with nothing due are brought to every event's time (so a stack's
    // clock is current when a link delivers to it), and to `until` at the end.
    assert.deepEqual(spy.calls, [20, 30, 40, 60]);
  });

  test('run() without until stops when nothing is left', () => {
    const world = new World({ now: 1000 });
    const w = new TimerWheel(1000);
    const fired: number[] = [];
    const handler = { onTimer: (d: number, _h: number, now: number) => fired.push(now - d) };
    for (const d of [1500, 61_000, 3_600_000]) w.arm(w.alloc(handler, d), d);
    world.add(w);
    world.run();
    assert.deepEqual(fired, [0, 0, 0]);
    assert.equal(world.now, 3_600_000);
    assert.ok(world.steps < 30, `${world.steps} steps`);
  });

  test('until in the past is refused; add() is idempotent; remove() stops advancing', () => {
    const log: string[] = [];
    const world = new World({ now: 10 });
    assert.throws(() => world.run({ until: 5 }), RangeError);
    const t = new Ticker('t', 1, log, 11);
    world.add(t);
    world.add(t);
    world.run({ until: 12 });
    assert.deepEqual(log, ['t@11', 't@12']);
    world.remove(t);
    world.run({ until: 20 });
    assert.equal(log.length, 2);
  });

  test('runUntil: true as soon as the predicate holds, at that virtual time', () => {
    const world = new World();
    const wire = world.add(new MemoryWire({ clock: world.clock, delay: 25 }));
    const spy = world.add(new Spy());
    let got = 0;
    wire.b.onReceive = () => got++;
    wire.a.transmit(new Uint8Array(20));
    world.run({ until: 10 });
    wire.a.transmit(new Uint8Array(20));
    assert.equal(
      world.runUntil(() => got >= 1),
      true,
    );
    assert.equal(world.now, 25);
    assert.equal(got, 1);
    // Members that had nothing due were brought to the world's time too.
    assert.deepEqual(spy.calls, [10, 25]);
    assert.equal(
      world.runUntil(() => got >= 2, { timeout: 100 }),
      true,
    );
    assert.equal(world.now, 35);
  });

  test('add() gives a MemoryWire without a clock the world clock: departures are stamped correctly', () => {
    const world = new World();
    const wire = world.add(new MemoryWire({ delay: 5 }));
    const log: string[] = [];
    // Something else sends at t=40, while the wire itself was last advanced at 0.
    world.add(
      new (class implements Steppable {
        done = false;
        nextDeadline() {
          return this.done ? Infinity : 40;
        }
        advance(now: number) {
          if (this.done || now < 40) return;
          this.done = true;
          wire.a.transmit(new Uint8Array(1));
        }
      })(),
    );
    wire.b.onReceive = () => log.push(`rx@${world.now}`);
    world.run();
    assert.deepEqual(log, ['rx@45']);
  });

  test('runUntil: false when the timeout passes, with the clock at now + timeout', () => {
    const log: string[] = [];
    const world = new World();
    world.add(new Ticker('t', 100, log));
    assert.equal(
      world.runUntil(() => false, { timeout: 250 }),
      false,
    );
    assert.equal(world.now, 250);
    assert.deepEqual(log, ['t@100', 't@200']);
    // A predicate made true by the final sync at the timeout counts.
    assert.equal(
      world.runUntil(() => log.length === 3, { timeout: 50 }),
      true,
    );
    assert.equal(world.now, 300);
  });

  test('runUntil: false when nothing is left to happen', () => {
    const world = new World();
    assert.equal(
      world.runUntil(() => false),
      false,
    );
    assert.equal(world.now, 0);
  });

  test('livelock: members due forever at the same time throw a clear error', () => {
    const world = new World({ maxStepsSameTime: 1000 });
    const wire = world.add(new MemoryWire({ clock: world.clock, name: 'pingpong' }));
    wire.a.onReceive = (f) => wire.a.transmit(f);
    wire.b.onReceive = (f) => wire.b.transmit(f);
    wire.a.transmit(new Uint8Array(1));
    assert.throws(
      () => world.run(),
      (e: unknown) => e instanceof LivelockError && /livelock.*virtual time 0 ms.*pingpong/.test(e.message),
    );
  });

  test('step cap: exceeding maxSteps throws even when time moves', () => {
    const world = new World();
    world.add(new Ticker('t', 1, []));
    assert.throws(() => world.run({ maxSteps: 500 }), /exceeded 500 steps/);
    assert.throws(() => world.runUntil(() => false, { maxSteps: 10 }), LivelockError);
  });
});
