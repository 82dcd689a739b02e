import assert from 'node:assert/strict';
import { test } from 'node:test';
import { establishPassive, Harness } from './harness.js';

test('RFC 5961 §3.2: a RST in the window but not at rcv_nxt gets a challenge ACK; at rcv_nxt it resets', () => {
  const h = new Harness();
  const e = establishPassive(h);
  h.inject({ flags: 'R', seq: e.peerSeq + 100 });
  const c = h.one();
  assert.equal(c.flags, '.');
  assert.equal(c.seq, e.iss + 1);
  assert.equal(c.ack, e.peerSeq);
  assert.equal(e.s.state, 'ESTABLISHED');
  assert.equal(h.counter('TcpExtTCPChallengeACK'), 1);
  // Out of the window: ignored without a word.
  h.inject({ flags: 'R', seq: e.peerSeq + 10_000_000 });
  assert.equal(h.take().length, 0);
  h.inject({ flags: 'R', seq: e.peerSeq });
  assert.equal(e.s.state, 'CLOSED');
});

test('RFC 5961 §4: a SYN on an established connection gets a challenge ACK, never a RST', () => {
  const h = new Harness();
  const e = establishPassive(h);
  h.inject({ flags: 'S', seq: e.peerSeq + 5 });
  const c = h.one();
  assert.equal(c.flags, '.');
  assert.equal(c.ack, e.peerSeq);
  assert.equal(e.s.state, 'ESTABLISHED');
  assert.equal(h.counter('TcpExtTCPSYNChallenge'), 1);
});

test('challenge ACKs are rate-limited per connection (tcp_invalid_ratelimit, 500 ms)', () => {
  const h = new Harness();
  const e = establishPassive(h);
  for (let i = 0; i < 10; i++) h.inject({ flags: 'R', seq: e.peerSeq + 1 + i });
  assert.equal(h.take().length, 1);
  assert.equal(h.counter('TcpExtTCPChallengeACK'), 1);
  h.advance(501);
  h.inject({ flags: 'R', seq: e.peerSeq + 1 });
  assert.equal(h.take().length, 1);
});

test('RFC 5961 §5: an ACK for data never sent is dropped with an ACK; an ACK too old gets a challenge ACK', () => {
  const h = new Harness();
  const e = establishPassive(h);
  h.inject({ flags: 'P.', seq: e.peerSeq, ack: e.iss + 1000, payload: 10 });
  assert.equal(h.one().ack, e.peerSeq); // answered (Linux 6.x, RFC 5961 §5.2)
  assert.equal(e.s.recvQueue, 0); // the whole segment was discarded
  h.inject({ flags: 'P.', seq: e.peerSeq, ack: e.iss + 1000, payload: 10 });
  assert.equal(h.take().length, 0); // rate-limited like other challenge ACKs
  h.advance(501);
  h.inject({ flags: 'P.', seq: e.peerSeq, ack: e.iss - 20_000_000, payload: 10 });
  const c = h.one();
  assert.equal(c.ack, e.peerSeq);
  assert.equal(e.s.recvQueue, 0);
});

test('out-of-window data gets a duplicate ACK every time; a bare ACK is rate-limited', () => {
  // Linux tcp_oow_rate_limited spares segments carrying data (checked with the kernel target).
  const h = new Harness();
  const e = establishPassive(h);
  h.inject({ flags: 'P.', seq: e.peerSeq + 5_000_000, ack: e.iss + 1, payload: 10 });
  assert.equal(h.one().ack, e.peerSeq);
  h.inject({ flags: 'P.', seq: e.peerSeq + 5_000_000, ack: e.iss + 1, payload: 10 });
  assert.equal(h.one().ack, e.peerSeq);
  h.inject({ flags: '.', seq: e.peerSeq + 5_000_000, ack: e.iss + 1 });
  assert.equal(h.one().ack, e.peerSeq);
  h.inject({ flags: '.', seq: e.peerSeq + 5_000_000, ack: e.iss + 1 });
  assert.equal(h.take().length, 0);
  assert.equal(h.counter('TcpExtTCPACKSkippedSeq'), 1);
});

test('PAWS (RFC 7323): a segment with an older timestamp is dropped with an ACK', () => {
  const h = new Harness();
  const e = establishPassive(h, { ts: true });
  h.inject({ flags: 'P.', seq: e.peerSeq, ack: e.iss + 1, payload: 10, ts: [200, 0] });
  h.take();
  assert.equal(e.s.recvQueue, 10);
  h.inject({ flags: 'P.', seq: e.peerSeq + 10, ack: e.iss + 1, payload: 10, ts: [150, 0] });
  const a = h.one();
  assert.equal(a.ack, e.peerSeq + 10);
  assert.equal(e.s.recvQueue, 10);
  assert.equal(h.counter('TcpExtPAWSEstab'), 1);
});

test('timestamps: TSecr echoes the latest in-order TSval', () => {
  const h = new Harness();
  const e = establishPassive(h, { ts: true });
  h.inject({ flags: 'P.', seq: e.peerSeq, ack: e.iss + 1, payload: 10, ts: [300, 0] });
  const a = h.one();
  assert.equal(a.tsEcr, 300);
  assert.ok(a.hasTs);
  assert.deepEqual(a.optBytes.slice(0, 4), [1, 1, 8, 10]);
});

test('an ACK of unsent data does not move TS.Recent, so the next valid segment passes PAWS', () => {
  const h = new Harness();
  const e = establishPassive(h, { ts: true });
  h.inject({ flags: 'P.', seq: e.peerSeq, ack: e.iss + 1, payload: 10, ts: [300, 0] });
  h.take();
  h.inject({ flags: 'F.', seq: e.peerSeq + 10, ack: e.iss + 5000, ts: [900_000, 0] });
  assert.equal(h.one().tsEcr, 300);
  h.inject({ flags: 'P.', seq: e.peerSeq + 10, ack: e.iss + 1, payload: 10, ts: [301, 0] });
  const a = h.one();
  assert.equal(a.ack, e.peerSeq + 20);
  assert.equal(a.tsEcr, 301);
  assert.equal(e.s.recvQueue, 20);
  assert.equal(h.counter('TcpExtPAWSEstab'), 0);
});
