import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Loopback } from '../../src/link/loopback.js';
import { World } from '../../src/sim/world.js';

test('Loopback hands frames back only in advance(), copied, in order; replies wait for the next advance', () => {
  const lo = new Loopback();
  assert.equal(lo.mtu, 65536);
  const got: number[] = [];
  lo.onReceive = (f) => {
    got.push(f[0]);
    if (f[0] === 1) lo.transmit(new Uint8Array([9]));
  };
  const f = new Uint8Array([1]);
  lo.transmit(f);
  lo.transmit(new Uint8Array([2]));
  f[0] = 5; // copied on transmit
  assert.deepEqual(got, []);
  assert.ok(lo.nextDeadline() <= 0);
  lo.advance(0);
  assert.deepEqual(got, [1, 2]);
  assert.ok(lo.nextDeadline() <= 0);
  lo.advance(0);
  assert.deepEqual(got, [1, 2, 9]);
  assert.equal(lo.nextDeadline(), Infinity);
  assert.equal(lo.delivered, 3);
});

test('Loopback in a World: due at once, no time passes; oversized and unattached frames are counted', () => {
  const world = new World({ now: 50 });
  const lo = world.add(new Loopback({ mtu: 100 }));
  lo.transmit(new Uint8Array(10));
  lo.transmit(new Uint8Array(101));
  assert.equal(lo.droppedMtu, 1);
  world.run();
  assert.equal(world.now, 50);
  assert.equal(lo.droppedNoReceiver, 1);
});
