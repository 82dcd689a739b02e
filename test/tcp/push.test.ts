import assert from 'node:assert/strict';
import test from 'node:test';
import { MSG_EOR, MSG_MORE, PushMarks, sizeGoal, tsoSegs } from '../../src/tcp/push.js';

test('the end of every write is marked; a write joining an unsent tail skb takes its mark', () => {
  const p = new PushMarks();
  p.noteWrite(1, 3001, 1, 32000, 64256);
  assert.equal(p.skbEnd(1, 3001), 3001);
  assert.equal(p.lastMarked, true);
  // Nothing sent yet: the next write grows the same skb.
  p.noteWrite(1, 5001, 1, 32000, 64256);
  assert.equal(p.skbEnd(1, 5001), 5001);
  assert.equal(p.lastMarked, true);
  // Once the tail was sent, a new write starts a new skb.
  p.noteWrite(1, 6001, 5001, 32000, 64256);
  assert.equal(p.skbEnd(5001, 6001), 6001);
});

test('MSG_MORE leaves the tail unmarked, MSG_EOR keeps later writes out of the record', () => {
  const p = new PushMarks();
  p.sendFlags = MSG_MORE;
  assert.equal(p.noteWrite(1, 41, 1, 32000, 64256), true);
  assert.equal(p.skbEnd(1, 41), 41);
  assert.equal(p.lastMarked, false);
  p.sendFlags = MSG_EOR;
  assert.equal(p.noteWrite(1, 81, 1, 32000, 64256), false);
  assert.equal(p.skbEnd(1, 81), 81);
  assert.equal(p.lastMarked, true);
  p.noteWrite(1, 121, 1, 32000, 64256);
  assert.equal(p.skbEnd(1, 121), 81, 'the record closed by MSG_EOR stays its own skb');
  assert.equal(p.skbEnd(81, 121), 121);
});

test('a large write is cut at size_goal; forced_push marks an skb once half the max window was written', () => {
  const p = new PushMarks();
  // size_goal 2000, max window 4000: pushed_seq + 2000 is passed at 4000 and 8000.
  p.noteWrite(0, 10000, 0, 2000, 4000);
  const ends: string[] = [];
  let s = 0;
  while (s !== 10000) {
    const e = p.skbEnd(s, 10000);
    ends.push(`${e}${p.lastMarked ? 'P' : ''}`);
    s = e;
  }
  assert.deepEqual(ends, ['2000', '4000P', '6000', '8000P', '10000P']);
});

test('a resend carries PSH when a sent PSH packet ended inside it', () => {
  const p = new PushMarks();
  p.sentPsh(2001, 1);
  p.sentPsh(3001, 1);
  assert.equal(p.resendPsh(1, 1001, 1), false, 'the front of a two-segment packet');
  assert.equal(p.resendPsh(1001, 2001, 1), true);
  assert.equal(p.resendPsh(2001, 3001, 1), true);
  assert.equal(p.resendPsh(1501, 2501, 1), true, 'a collapsed resend ORs the flags');
  // Acknowledged records go.
  assert.equal(p.resendPsh(2001, 2501, 2001), false);
});

test('many records: the rings grow and stay ordered', () => {
  const p = new PushMarks();
  for (let i = 1; i <= 100; i++) p.sentPsh(i * 100, 0);
  for (let i = 1; i <= 100; i++) assert.equal(p.resendPsh(i * 100 - 50, i * 100, 0), true);
  assert.equal(p.resendPsh(10001, 10100, 0), false);
});

test('size_goal: half the max window in whole segments, at most a GSO packet, at least one MSS', () => {
  assert.equal(sizeGoal(1000, 64256), 32000);
  assert.equal(sizeGoal(1448, 1 << 20), 45 * 1448);
  assert.equal(sizeGoal(1000, 2000), 1000);
  assert.equal(sizeGoal(1000, 1500), 65000, 'half a window below one MSS: not cut (see sizeGoal)');
});

test('tso autosize: 1 ms of the pacing rate, at least tcp_min_tso_segs', () => {
  // 10 segments of 1000 bytes per 10 ms in slow start: 2 MB/s -> 1953 bytes per ms -> 1 -> min 2.
  assert.equal(tsoSegs(1000, 10, 0x7fffffff, 10, 10, 2, 9), 2);
  assert.equal(tsoSegs(1000, 10, 0x7fffffff, 100, 100, 1, 9), 1);
  // No RTT sample: no pacing limit, a whole GSO packet.
  assert.equal(tsoSegs(1000, 10, 0x7fffffff, 0, Number.POSITIVE_INFINITY, 2, 9), 65);
  // Short min RTT: the GSO packet shifted by min_rtt / 512 µs is added.
  assert.equal(tsoSegs(1448, 10, 0x7fffffff, 0.05, 0.05, 2, 9), 45);
});

test('a new sequence space (the control block connects again) starts over', () => {
  const p = new PushMarks();
  p.noteWrite(1000, 3000, 1000, 32000, 64256);
  p.sentPsh(2000, 1000);
  // Another connection: data from 5000000, nothing sent.
  p.noteWrite(5000000, 5000100, 5000000, 32000, 64256);
  assert.equal(p.skbEnd(5000000, 5000100), 5000100);
  assert.equal(p.lastMarked, true);
  assert.equal(p.resendPsh(5000000, 5000100, 5000000), false);
});
