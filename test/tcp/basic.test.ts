import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSysError } from '../../src/errno.js';
import { POLLIN, POLLOUT } from '../../src/socket/poll.js';
import { twoStacks } from './harness.js';

test('handshake, data both ways and close between two stacks', () => {
  const { world, ta, tb } = twoStacks();
  const l = tb.socket(4);
  l.bind('198.18.0.2', 80);
  l.listen(8);
  const c = ta.socket(4);
  assert.throws(
    () => c.connect('198.18.0.2', 80),
    (e) => isSysError(e, 'EINPROGRESS'),
  );
  world.runUntil(() => (c.poll() & POLLOUT) !== 0, { timeout: 1000 });
  assert.equal(c.state, 'ESTABLISHED');
  world.runUntil(() => (l.poll() & POLLIN) !== 0, { timeout: 1000 });
  const s = l.accept();
  assert.equal(s.state, 'ESTABLISHED');
  assert.equal(s.getpeername().address, '198.18.0.1');
  const msg = new TextEncoder().encode('hello world');
  assert.equal(c.send(msg), msg.length);
  world.runUntil(() => s.recvQueue === msg.length, { timeout: 1000 });
  assert.deepEqual(s.recv(), msg);
  s.send(new TextEncoder().encode('pong'));
  world.runUntil(() => c.recvQueue === 4, { timeout: 1000 });
  assert.equal(new TextDecoder().decode(c.recv()), 'pong');
  c.shutdown(1);
  world.runUntil(() => s.recvQueue === 0 && s.state === 'CLOSE_WAIT', { timeout: 1000 });
  assert.equal(s.recv().length, 0);
  s.close();
  world.run({ until: world.now + 1000 });
  assert.equal(c.state, 'CLOSED');
  assert.equal(c.recv().length, 0);
});
