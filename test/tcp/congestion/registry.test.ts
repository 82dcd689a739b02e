import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSysError } from '../../../src/errno.js';
import {
  availableCongestionControl,
  checkCongestionControl,
  createCongestionControl,
  hasCongestionControl,
  registerCongestionControl,
} from '../../../src/tcp/congestion/registry.js';
import { Reno } from '../../../src/tcp/congestion/reno.js';

test('reno is built in; each connection gets its own state', () => {
  assert.ok(hasCongestionControl('reno'));
  assert.match(availableCongestionControl(), /\breno\b/);
  const a = createCongestionControl('reno');
  const b = createCongestionControl('reno');
  assert.ok(a instanceof Reno);
  assert.notEqual(a, b);
  a.cwnd = 99;
  assert.equal(b.cwnd, 10);
});

test('an unknown default falls back to reno', () => {
  assert.equal(createCongestionControl('no-such').name, 'reno');
});

test('TCP_CONGESTION: ENOENT when unavailable, EPERM when not allowed, ok when privileged', () => {
  assert.throws(
    () => checkCongestionControl('no-such', 'reno', 'reno'),
    (e) => isSysError(e, 'ENOENT'),
  );
  class Test extends Reno {
    override readonly name = 'testcc';
  }
  registerCongestionControl('testcc', () => new Test());
  assert.equal(createCongestionControl('testcc').name, 'testcc');
  assert.throws(
    () => checkCongestionControl('testcc', 'reno bbr', 'reno'),
    (e) => isSysError(e, 'EPERM'),
  );
  checkCongestionControl('testcc', 'reno testcc', 'reno');
  checkCongestionControl('testcc', 'reno', 'reno', true);
  checkCongestionControl('testcc', 'reno', 'testcc'); // the default is always allowed
  checkCongestionControl('reno', 'reno', 'reno');
});
