import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSysError } from '../../src/errno.js';
import { POLLIN } from '../../src/socket/poll.js';
import { twoStacks } from './harness.js';

test('IPv6: handshake (MSS = MTU − 60), data, close', () => {
  const { world, ta, tb } = twoStacks();
  const l = tb.socket(6);
  l.bind('fd00::2', 443);
  l.listen(4);
  const c = ta.socket(6);
  assert.throws(
    () => c.connect('fd00::2', 443),
    (e) => isSysError(e, 'EINPROGRESS'),
  );
  world.runUntil(() => (l.poll() & POLLIN) !== 0, { timeout: 1000 });
  const s = l.accept();
  assert.equal(s.getpeername().address, 'fd00::1');
  assert.equal(c.getsockname().address, 'fd00::1');
  assert.equal(c.info().tcpi_snd_mss, 1440 - 12);
  const data = new Uint8Array(100_000).map((_, i) => i * 13);
  let sent = 0;
  const got: number[] = [];
  world.runUntil(
    () => {
      if (sent < data.length && c.poll() & 4) {
        try {
          sent += c.send(data, sent);
        } catch {}
      }
      if (s.recvQueue > 0) got.push(...s.recv());
      return got.length === data.length;
    },
    { timeout: 10_000 },
  );
  assert.deepEqual(new Uint8Array(got), data);
  c.close();
  s.close();
  world.run({ until: world.now + 100 });
  assert.equal(c.state, 'CLOSED');
});

test('IPV6_V6ONLY: a v6-only listener does not take IPv4 connections', () => {
  const { world, ta, tb } = twoStacks();
  const l = tb.socket(6);
  l.setsockopt('IPV6_V6ONLY', 1);
  l.bind('::', 80);
  l.listen(4);
  const c = ta.socket(4);
  try {
    c.connect('198.18.0.2', 80);
  } catch {}
  world.run({ until: world.now + 100 });
  assert.equal(c.state, 'CLOSED');
  assert.throws(
    () => c.connect('198.18.0.2', 80),
    (e) => isSysError(e, 'ECONNREFUSED'),
  );
});

test('IP_BIND_ADDRESS_NO_PORT defers the port to connect(); IP_LOCAL_PORT_RANGE narrows the choice', () => {
  const { world, ta, tb } = twoStacks();
  const l = tb.socket(4);
  l.bind('198.18.0.2', 80);
  l.listen(4);
  const c = ta.socket(4);
  c.setsockopt('IP_BIND_ADDRESS_NO_PORT', 1);
  c.bind('198.18.0.1', 0);
  assert.equal(c.getsockname().port, 0);
  c.setsockopt('IP_LOCAL_PORT_RANGE', (40010 << 16) | 40000);
  try {
    c.connect('198.18.0.2', 80);
  } catch {}
  const p = c.getsockname().port;
  assert.ok(p >= 40000 && p <= 40010, `port ${p}`);
  world.runUntil(() => c.state === 'ESTABLISHED', { timeout: 1000 });
});
