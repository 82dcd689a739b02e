import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  inWindow,
  seqAdd,
  seqBetween,
  seqGeq,
  seqGt,
  seqLeq,
  seqLt,
  seqMax,
  seqMin,
  seqSub,
} from '../../src/wire/seq.js';

const u32 = fc.nat(0xffffffff);
/** A distance that keeps two values comparable (|d| < 2^31). */
const dist = fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 });

test('comparisons across the 2^32 wrap', () => {
  assert.ok(seqLt(0xffffffff, 0));
  assert.ok(seqGt(0, 0xffffffff));
  assert.ok(seqLt(0xfffffff0, 0x10));
  assert.ok(seqLeq(5, 5) && seqGeq(5, 5) && !seqLt(5, 5) && !seqGt(5, 5));
  assert.equal(seqAdd(0xffffffff, 1), 0);
  assert.equal(seqAdd(0, -1), 0xffffffff);
  assert.equal(seqSub(0, 0xffffffff), 1);
  assert.equal(seqSub(0xffffffff, 0), -1);
  assert.equal(seqMax(0xfffffff0, 3), 3);
  assert.equal(seqMin(0xfffffff0, 3), 0xfffffff0);
});

test('a + d compares to a by the sign of d, and seqSub recovers d', () => {
  fc.assert(
    fc.property(u32, dist, (a, d) => {
      const b = seqAdd(a, d);
      assert.ok(b >= 0 && b <= 0xffffffff && Number.isInteger(b));
      assert.equal(seqSub(b, a), d);
      assert.equal(seqGt(b, a), d > 0);
      assert.equal(seqLt(b, a), d < 0);
      assert.equal(seqGeq(b, a), d >= 0);
      assert.equal(seqLeq(b, a), d <= 0);
      assert.equal(seqMax(a, b), d >= 0 ? b : a);
      assert.equal(seqMin(a, b), d >= 0 ? a : b);
    }),
  );
});

test('inWindow: start <= x < start+len, wrap-safe, empty window holds nothing', () => {
  fc.assert(
    fc.property(u32, fc.nat(2 ** 31), fc.nat(2 ** 31), (start, len, k) => {
      const x = seqAdd(start, k);
      assert.equal(inWindow(x, start, len), k < len);
      assert.equal(inWindow(seqAdd(start, -1), start, len), false);
      assert.equal(seqBetween(start, x, seqAdd(start, len)), k <= len);
    }),
  );
  assert.equal(inWindow(7, 7, 0), false);
  assert.equal(inWindow(2, 0xfffffffe, 5), true);
});
