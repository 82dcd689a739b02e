// The real-time driver calls advance() at (never before) each nextDeadline()
// on Node's event loop, right away when poked, and stops when told.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RealtimeDriver } from '../../src/node/realtime.js';
import type { Steppable } from '../../src/time/steppable.js';

/** Fires at each time in `due`, recording when advance() saw it fire. */
class Alarms implements Steppable {
  fired: Array<{ due: number; at: number }> = [];
  calls: number[] = [];
  constructor(public due: number[]) {}
  nextDeadline(): number {
    return this.due.length ? this.due[0]! : Infinity;
  }
  advance(now: number): void {
    this.calls.push(now);
    while (this.due.length && this.due[0]! <= now) this.fired.push({ due: this.due.shift()!, at: now });
  }
}

function waitFor(pred: () => boolean, limitMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      if (pred()) resolve();
      else if (Date.now() - t0 > limitMs) reject(new Error('condition not met in time'));
      else setTimeout(tick, 2);
    };
    tick();
  });
}

test('advance() runs at each deadline, never before it, with monotonic time', {
  timeout: 10000,
}, async () => {
  const a = new Alarms([5, 12, 30]);
  const b = new Alarms([8]);
  const drv = new RealtimeDriver([a, b]);
  drv.start();
  try {
    await waitFor(() => a.due.length === 0 && b.due.length === 0, 5000);
    assert.deepEqual(
      a.fired.map((f) => f.due),
      [5, 12, 30],
    );
    for (const f of [...a.fired, ...b.fired]) assert.ok(f.at >= f.due, `fired at ${f.at} before ${f.due}`);
    for (let i = 1; i < a.calls.length; i++) assert.ok(a.calls[i]! >= a.calls[i - 1]!);
  } finally {
    drv.stop();
  }
});

test('poke() picks up a deadline added from outside; stop() ends it; start time is configurable', {
  timeout: 10000,
}, async () => {
  const a = new Alarms([]);
  const drv = new RealtimeDriver([a], { start: 1000 });
  assert.ok(drv.now() >= 1000);
  drv.start();
  try {
    a.due.push(drv.now() + 3); // e.g. a socket call armed a timer
    drv.poke();
    await waitFor(() => a.fired.length === 1, 5000);
    assert.ok(a.fired[0]!.at >= a.fired[0]!.due);
  } finally {
    drv.stop();
  }
  a.due.push(drv.now() + 1);
  const n = a.calls.length;
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(a.calls.length, n, 'no advance() after stop()');
});

test('attach() wires a link so delivered frames are processed at once', { timeout: 10000 }, async () => {
  const a = new Alarms([]);
  const drv = new RealtimeDriver([a]);
  const link = { onDrained: null as (() => void) | null, beforeDeliver: null as (() => void) | null };
  drv.attach(link);
  drv.start();
  try {
    const before = a.calls.length;
    link.beforeDeliver!();
    assert.equal(a.calls.length, before + 1);
    link.onDrained!();
    assert.equal(a.calls.length, before + 2);
  } finally {
    drv.stop();
  }
});
