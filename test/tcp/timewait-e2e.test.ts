import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSysError } from '../../src/errno.js';
import { POLLIN } from '../../src/socket/poll.js';
import { twoStacks } from './harness.js';

function server(tb: ReturnType<typeof twoStacks>['tb']) {
  const l = tb.socket(4);
  l.bind('198.18.0.2', 80);
  l.listen(16);
  return l;
}

test('the client that closes first holds TIME_WAIT; rebinding its port and connecting again reuses the 4-tuple (timestamps), ISN = old snd_nxt + 65537', () => {
  const { world, a, ta, tb } = twoStacks();
  const l = server(tb);
  const c = ta.socket(4);
  c.setsockopt('SO_REUSEADDR', 1);
  c.bind('198.18.0.1', 45000);
  try {
    c.connect('198.18.0.2', 80);
  } catch {}
  world.runUntil(() => (l.poll() & POLLIN) !== 0, { timeout: 1000 });
  const s = l.accept();
  const sndNxt = c.t.sndNxt;
  c.close();
  world.run({ until: world.now + 10 });
  s.close();
  world.run({ until: world.now + 500 });
  assert.deepEqual(
    ta.list().map((r) => [r.state, r.lport]),
    [['TIME-WAIT', 45000]],
  );
  const c2 = ta.socket(4);
  c2.setsockopt('SO_REUSEADDR', 1);
  c2.bind('198.18.0.1', 45000);
  try {
    c2.connect('198.18.0.2', 80);
  } catch (e) {
    assert.ok(isSysError(e, 'EINPROGRESS'));
  }
  // FIN consumed one sequence number: old snd_nxt = sndNxt + 1.
  assert.equal(c2.t.iss, (sndNxt + 1 + 65537) >>> 0);
  assert.equal(a.counters.get('TcpExtTWRecycled'), 1);
  world.runUntil(() => c2.state === 'ESTABLISHED', { timeout: 5000 });
});

test('the server side of an active server close ends in TIME_WAIT and the client port is free again', () => {
  const { world, ta, tb } = twoStacks();
  const l = server(tb);
  const c = ta.socket(4);
  try {
    c.connect('198.18.0.2', 80);
  } catch {}
  world.runUntil(() => (l.poll() & POLLIN) !== 0, { timeout: 1000 });
  const s = l.accept();
  s.close();
  world.run({ until: world.now + 10 });
  assert.equal(c.state, 'CLOSE_WAIT');
  c.close();
  world.run({ until: world.now + 500 });
  assert.deepEqual(
    tb
      .list()
      .filter((r) => r.state !== 'LISTEN')
      .map((r) => r.state),
    ['TIME-WAIT'],
  );
  assert.equal(ta.list().length, 0);
  world.run({ until: world.now + 61_000 });
  assert.equal(tb.list().filter((r) => r.state !== 'LISTEN').length, 0);
});
