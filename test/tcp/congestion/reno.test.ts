import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Reno } from '../../../src/tcp/congestion/reno.js';
import { newAckEvent, TCP_INFINITE_SSTHRESH } from '../../../src/tcp/congestion/types.js';

function ack(segs: number, cwndLimited = true) {
  const ev = newAckEvent();
  ev.ackedSegs = segs;
  ev.ackedBytes = segs * 1000;
  ev.mss = 1000;
  ev.cwndLimited = cwndLimited;
  return ev;
}

test('starts with IW 10 segments and infinite ssthresh (RFC 6928)', () => {
  const r = new Reno();
  r.init(0);
  assert.equal(r.cwnd, 10);
  assert.equal(r.ssthresh, TCP_INFINITE_SSTHRESH);
  assert.equal(r.name, 'reno');
});

test('slow start: every newly ACKed segment adds one, a stretch ACK too (Linux 3.8+ tcp_slow_start)', () => {
  const r = new Reno();
  r.init(0);
  r.onAck(ack(1));
  assert.equal(r.cwnd, 11);
  r.onAck(ack(2));
  assert.equal(r.cwnd, 13);
  r.onAck(ack(5)); // a stretch ACK: no per-ACK limit
  assert.equal(r.cwnd, 18);
  const l2 = new Reno(10, 2); // RFC 3465 §2.2 L = 2 when asked for
  l2.init(0);
  l2.onAck(ack(5));
  assert.equal(l2.cwnd, 12);
});

test('slow start doubles cwnd per round trip with delayed ACKs (one ACK per 2 segments)', () => {
  const r = new Reno();
  r.init(0);
  for (let rtt = 0; rtt < 4; rtt++) {
    const start = r.cwnd;
    for (let i = 0; i < start / 2; i++) r.onAck(ack(2));
    assert.equal(r.cwnd, start * 2);
  }
  assert.equal(r.cwnd, 160);
});

test('cwnd does not grow when the sender is not cwnd-limited', () => {
  const r = new Reno();
  r.init(0);
  r.onAck(ack(2, false));
  assert.equal(r.cwnd, 10);
  r.ssthresh = 10;
  for (let i = 0; i < 50; i++) r.onAck(ack(1, false));
  assert.equal(r.cwnd, 10);
  assert.equal(r.cwndCnt, 0);
});

test('slow start stops at ssthresh and the rest of the ACK counts for congestion avoidance', () => {
  const r = new Reno();
  r.init(0);
  r.cwnd = 9;
  r.ssthresh = 10;
  r.onAck(ack(2));
  assert.equal(r.cwnd, 10);
  assert.equal(r.cwndCnt, 1);
});

test('congestion avoidance: +1 segment per cwnd segments ACKed (RFC 5681 eq. 3)', () => {
  const r = new Reno();
  r.init(0);
  r.ssthresh = 10;
  for (let i = 0; i < 9; i++) r.onAck(ack(1));
  assert.equal(r.cwnd, 10);
  r.onAck(ack(1));
  assert.equal(r.cwnd, 11);
  assert.equal(r.cwndCnt, 0);
  // A big cumulative ACK: 25 segments at cwnd 11 → +2, 3 left.
  r.onAck(ack(25));
  assert.equal(r.cwnd, 13);
  assert.equal(r.cwndCnt, 3);
});

test('one RTT of ACKs in congestion avoidance adds exactly one segment', () => {
  const r = new Reno();
  r.init(0);
  r.cwnd = 40;
  r.ssthresh = 20;
  for (let rtt = 0; rtt < 5; rtt++) {
    const w = r.cwnd;
    for (let i = 0; i < w / 2; i++) r.onAck(ack(2));
    assert.equal(r.cwnd, w + 1);
  }
});

test('cwnd clamp is respected', () => {
  const r = new Reno();
  r.cwndClamp = 12;
  r.init(0);
  for (let i = 0; i < 10; i++) r.onAck(ack(2));
  assert.equal(r.cwnd, 12);
});

test('loss: ssthresh = max(cwnd / 2, 2) like Linux Reno', () => {
  const r = new Reno();
  r.init(0);
  r.cwnd = 20;
  assert.equal(r.ssthreshOnLoss(5), 10);
  r.cwnd = 3;
  assert.equal(r.ssthreshOnLoss(3), 2);
  r.cwnd = 1;
  assert.equal(r.ssthreshOnLoss(1), 2);
});

test('RTO: cwnd = 1; ssthresh recomputed only on the first expiry', () => {
  const r = new Reno();
  r.init(0);
  r.cwnd = 30;
  r.onRto(30, true, 0);
  assert.equal(r.cwnd, 1);
  assert.equal(r.ssthresh, 15);
  r.onRto(1, false, 1);
  assert.equal(r.cwnd, 1);
  assert.equal(r.ssthresh, 15);
  // Then slow start back up to ssthresh.
  for (let i = 0; i < 20; i++) r.onAck(ack(1));
  assert.equal(r.cwnd, 15 + 0); // reached ssthresh, then CA credit accumulates
  assert.ok(r.cwndCnt > 0);
});

test('restart after idle (RFC 5681 §4.1 / RFC 2861): halve per RTO idle, floor min(cwnd, IW)', () => {
  const r = new Reno();
  r.init(0);
  r.cwnd = 80;
  r.ssthresh = 40;
  r.onIdleRestart(300, 200, 0); // one full RTO idle → one halving
  assert.equal(r.cwnd, 40);
  assert.equal(r.ssthresh, 60); // 3/4 of the old cwnd remembered
  r.cwnd = 80;
  r.ssthresh = 40;
  r.onIdleRestart(5000, 200, 0);
  assert.equal(r.cwnd, 10);
  const s = new Reno();
  s.init(0);
  s.cwnd = 6;
  s.onIdleRestart(5000, 200, 0);
  assert.equal(s.cwnd, 6); // never below min(cwnd, IW)
});
