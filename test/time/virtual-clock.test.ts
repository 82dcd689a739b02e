import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VirtualClock } from '../../src/time/virtual-clock.js';

test('VirtualClock moves only forward, when told', () => {
  const c = new VirtualClock(5);
  assert.equal(c.now(), 5);
  c.set(7.5);
  assert.equal(c.advance(2.5), 10);
  c.set(10);
  assert.equal(c.now(), 10);
  assert.throws(() => c.set(9), RangeError);
  assert.throws(() => c.advance(-1), RangeError);
  assert.throws(() => c.set(Number.NaN), RangeError);
  assert.throws(() => c.advance(Infinity), RangeError);
  assert.throws(() => new VirtualClock(Number.NaN), RangeError);
  assert.equal(c.now(), 10);
});
