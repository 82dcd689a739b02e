import assert from 'node:assert/strict';
import { test } from 'node:test';
import { POLLIN } from '../../src/socket/poll.js';
import { connectPair, tcpOf } from '../scenario/transfer-harness.js';

/**
 * A control block takes its timer handles from the stack's wheel when it
 * first arms each timer, and gives back what it took when it is freed.
 */
test('timer handles: taken on first arm, none for a timer never armed, all back after the connections end', () => {
  const p = connectPair();
  const ta = p.ca.t;
  const tb = p.cb.t;
  // The handshake armed the retransmission timer on both sides; keepalive is off.
  assert.ok(ta.hRtx >= 0 && tb.hRtx >= 0);
  assert.equal(ta.hKeep, -1);
  assert.equal(tb.hKeep, -1);
  // SO_KEEPALIVE arms it: a handle now, and it fires as before.
  p.ca.setsockopt('SO_KEEPALIVE', 1);
  assert.ok(ta.hKeep >= 0);
  assert.ok(ta.keepDeadline > p.world.now);
  // Data both ways, then both close; everything ends (TIME_WAIT lives in the table, not in a control block).
  p.ca.send(new Uint8Array(3000));
  p.world.runUntil(() => (p.cb.poll() & POLLIN) !== 0, { timeout: 10_000 });
  const buf = new Uint8Array(4096);
  while (p.cb.recvQueue > 0) p.cb.recvInto(buf);
  p.cb.close();
  p.world.runUntil(() => (p.ca.poll() & POLLIN) !== 0, { timeout: 10_000 });
  p.ca.recvInto(buf);
  p.ca.close();
  p.world.run({ until: p.world.now + 1000 });
  assert.equal([...tcpOf(p.a).all()].length, 0);
  assert.equal([...tcpOf(p.b).all()].length, 0);
  for (const t of [ta, tb]) {
    assert.equal(t.id, -1);
    assert.deepEqual([t.hRtx, t.hDack, t.hKeep], [-1, -1, -1]);
  }
  // Only the TIME_WAIT table's own handle(s) remain allocated in each wheel.
  for (const s of [p.a, p.b])
    assert.ok(s.timers.allocatedCount <= 2, `${s.timers.allocatedCount} handles left`);
});
