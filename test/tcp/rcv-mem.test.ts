import assert from 'node:assert/strict';
import test from 'node:test';
import { RcvMem, spaceFromWinRatio, truesizeOf, winFromSpaceRatio } from '../../src/tcp/rcv-mem.js';

test('truesize of a segment through TUN, as measured on Linux 6.18 (ss -tm)', () => {
  // IP packet = payload + 40 bytes of headers.
  assert.equal(truesizeOf(140), 832);
  assert.equal(truesizeOf(540), 1280);
  assert.equal(truesizeOf(1040), 2304);
  assert.equal(truesizeOf(1500), 2304);
  assert.equal(truesizeOf(3040), 4352);
  assert.equal(truesizeOf(5040), 8448);
  assert.equal(truesizeOf(12040), 16640);
  assert.equal(truesizeOf(39040), 41216);
  assert.equal(truesizeOf(60040), 61696);
});

test('window from space at a ratio, and back', () => {
  assert.equal(winFromSpaceRatio(16384, 128), 8192);
  assert.equal(winFromSpaceRatio(16384, 111), 7104);
  assert.equal(winFromSpaceRatio(-5, 128), 0);
  assert.equal(spaceFromWinRatio(8192, 128), 16384);
});

test('in-order skbs: tail-room coalescing, freed only when read to their end', () => {
  const m = new RcvMem();
  m.inOrder(1, 101, 140); // 832
  m.inOrder(101, 601, 540); // 1280, tail room 100
  assert.equal(m.total, 2112);
  m.inOrder(601, 651, 90); // fits the tail room: free
  assert.equal(m.total, 2112);
  m.release(51); // partial read frees nothing
  assert.equal(m.total, 2112);
  m.release(101);
  assert.equal(m.total, 1280);
  m.release(651);
  assert.equal(m.total, 0);
});

test('out-of-order skbs join the queue when the hole fills; covered ones are freed', () => {
  const m = new RcvMem();
  m.outOfOrder(2001, 3001, 1040);
  m.outOfOrder(3001, 4001, 1040);
  assert.equal(m.total, 2 * 2304);
  // 1:2001 arrives in one packet (4352, tail room 1672): the first joins its
  // tail room (tcp_try_coalesce), the second stays an skb; rcv_nxt 4001.
  m.inOrder(1, 2001, 2040);
  m.advance(2001, 4001);
  assert.equal(m.total, 4352 + 2304);
  m.release(4001);
  assert.equal(m.total, 0);
  // A segment already covered by new in-order data is freed at once.
  m.outOfOrder(5001, 5501, 540);
  m.inOrder(4001, 6001, 2040);
  m.advance(6001, 6001);
  assert.equal(m.total, 4352);
});

test('collapse: wasteful or partly read skbs are copied into compact ones', () => {
  const m = new RcvMem();
  for (let i = 0; i < 10; i++) m.inOrder(1 + i * 400, 401 + i * 400, 440); // 10 x 1280 (tail room 200)
  assert.equal(m.total, 12800);
  const freed = m.collapse(1, 128);
  // 4000 bytes: 3776 in one skb (4096 + 256), 224 in a small head (576 + 256).
  assert.equal(freed, 12800 - 4352 - 832);
  assert.equal(m.total, 4352 + 832);
  m.release(4001);
  assert.equal(m.total, 0);
  // A single well-used skb is left alone, unless partly read.
  const n = new RcvMem();
  n.inOrder(1, 20001, 20040);
  assert.equal(n.collapse(1, 246), 0);
  assert.equal(n.collapse(5001, 246), 20736 - 4 * 4352);
});
