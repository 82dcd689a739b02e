import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MAX_RANGES, RecvBuffer } from '../../src/tcp/recv-buffer.js';
import { SendBuffer } from '../../src/tcp/send-buffer.js';

const byteAt = (i: number) => (i * 7 + 3) & 0xff;

test('RecvBuffer: any arrival order of in-window pieces reassembles the exact stream, with bounded ranges', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(3000), fc.integer({ min: 1, max: 700 })), { minLength: 1, maxLength: 200 }),
      fc.integer({ min: 1, max: 4000 }),
      (pieces, readEvery) => {
        const r = new RecvBuffer(0);
        let nxt = 0; // stream offset of rcv_nxt
        let readPos = 0;
        const window = 4096;
        let steps = 0;
        const out = new Uint8Array(100_000);
        for (const [rel, len] of pieces) {
          const start = nxt + rel - 1000; // some pieces start before rcv_nxt (duplicates)
          let s = start;
          let l = len;
          if (s < nxt) {
            l -= nxt - s;
            s = nxt;
          }
          if (l <= 0) continue;
          const at = s - nxt;
          if (at >= window) continue;
          if (at + l > window) l = window - at;
          const src = new Uint8Array(l);
          for (let i = 0; i < l; i++) src[i] = byteAt(s + i);
          r.ensureCapacity(r.readable + at + l);
          const adv = r.store(src, 0, l, at);
          if (adv > 0) nxt += adv;
          assert.ok(r.oooCount <= MAX_RANGES);
          for (let i = 1; i < r.oooCount; i++) assert.ok(r.oooStart[i] > r.oooEnd[i - 1]);
          if (++steps % Math.max(1, readEvery % 7) === 0) readPos += r.read(out, readPos, 100_000 - readPos);
        }
        readPos += r.read(out, readPos, 100_000 - readPos);
        assert.equal(readPos, nxt);
        for (let i = 0; i < readPos; i++) if (out[i] !== byteAt(i)) return false;
        return r.capacity <= 16384;
      },
    ),
    { numRuns: 300 },
  );
});

test('SendBuffer: writes, partial acks and copies out return the stream in order', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 3000 })), {
        maxLength: 100,
      }),
      (ops) => {
        const b = new SendBuffer(0);
        let written = 0;
        let acked = 0;
        for (const [w, a] of ops) {
          const src = new Uint8Array(w);
          for (let i = 0; i < w; i++) src[i] = byteAt(written + i);
          written += b.write(src, 0, w, 8000);
          const n = Math.min(a, b.length);
          if (b.length > 0) {
            const dst = new Uint8Array(b.length);
            b.copyOut(0, b.length, dst, 0);
            for (let i = 0; i < dst.length; i++) if (dst[i] !== byteAt(acked + i)) return false;
          }
          b.ack(n);
          acked += n;
          if (b.length > 8000) return false;
        }
        return written - acked === b.length;
      },
    ),
    { numRuns: 300 },
  );
});

test('RecvBuffer.recentOrder: the range that last received data first (RFC 2018 §4)', () => {
  const r = new RecvBuffer(1 << 16);
  const d = new Uint8Array(1000);
  r.store(d, 0, 100, 1000); // A
  r.store(d, 0, 100, 3000); // B
  r.store(d, 0, 100, 5000); // C
  r.store(d, 0, 100, 1100); // extends A
  const order = new Int32Array(MAX_RANGES);
  const blocks = (max: number) => {
    const n = r.recentOrder(order, max);
    return Array.from(order.subarray(0, n), (i) => [r.oooStart[i], r.oooEnd[i]]);
  };
  assert.deepEqual(blocks(4), [
    [1000, 1200],
    [5000, 5100],
    [3000, 3100],
  ]);
  assert.deepEqual(blocks(2), [
    [1000, 1200],
    [5000, 5100],
  ]);
  // Filling the hole to A: offsets shift, the rest keep their order.
  assert.equal(r.store(d, 0, 1000, 0), 1200);
  assert.deepEqual(blocks(4), [
    [5000 - 1200, 5100 - 1200],
    [3000 - 1200, 3100 - 1200],
  ]);
});
