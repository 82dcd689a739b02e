// The kernel target's script clock: runs only between run() and stop(),
// stop(atMost) drops lateness, and real moments map back to script time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ScriptClock } from '../../src/drill/kernel/script-clock.js';

test('script time runs only while running, and stop(atMost) cuts off waking late', () => {
  let real = 1000;
  const c = new ScriptClock(() => real);
  assert.equal(c.nowMs(), 0);
  real += 50; // runner work: no script time
  assert.equal(c.nowMs(), 0);
  c.run();
  real += 10;
  assert.equal(c.nowMs(), 10);
  real += 3; // woke 3 ms after the 10 ms asked for
  c.stop(10);
  assert.equal(c.nowMs(), 10);
  real += 100;
  assert.equal(c.nowMs(), 10);
  c.run();
  real += 5;
  c.stop(); // no limit: all of it counts
  assert.equal(c.nowMs(), 15);
  // atMost below where the stretch began never moves time backwards
  c.run();
  real += 2;
  c.stop(1);
  assert.equal(c.nowMs(), 15);
});

test('a real moment maps to the script time it had; moments while stopped map to the stop', () => {
  let real = 0;
  const c = new ScriptClock(() => real);
  c.run(); // real 0 = script 0
  real = 10;
  c.stop(8); // 2 ms late: script 8 at real 8
  real = 30;
  c.run(); // real 30 = script 8
  real = 40;
  assert.equal(c.at(4), 4);
  assert.equal(c.at(9), 8, 'after the cut-off, still 8');
  assert.equal(c.at(20), 8, 'while stopped');
  assert.equal(c.at(35), 13);
  assert.equal(c.at(50), 18, 'never beyond now');
  assert.equal(c.at(-5), 0);
  c.reset();
  assert.equal(c.nowMs(), 0);
  assert.equal(c.running, false);
});

test('a second user keeps the clock running through the first stop, without the cut-off', () => {
  let real = 0;
  const c = new ScriptClock(() => real);
  c.run(); // a blocked call
  real = 5;
  c.run(); // a wait until 6
  real = 9;
  c.stop(6); // the wait ends late, but the call still holds the clock
  assert.equal(c.running, true);
  assert.equal(c.nowMs(), 9);
  real = 12;
  c.stop();
  assert.equal(c.running, false);
  assert.equal(c.nowMs(), 12);
  c.stop(); // unmatched: no effect
  assert.equal(c.nowMs(), 12);
});
