import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  checksum,
  checksumBackend,
  checksumOk,
  checksumUpdate16,
  checksumUpdate32,
  finishChecksum,
  fold16,
  pseudoSum,
  pseudoSumV4,
  pseudoSumV6,
  sum16,
  sum16Portable,
  wireBuffer,
} from '../../src/wire/checksum.js';

/** RFC 1071 §4.1 straight from the text: 16-bit big-endian words, end-around carry. */
function refChecksum(b: Uint8Array, off: number, len: number, extra: number[] = []): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) {
    s += (b[off + i] << 8) | (i + 1 < len ? b[off + i + 1] : 0);
    s = (s & 0xffff) + (s >>> 16);
  }
  for (const w of extra) {
    s += w;
    s = (s & 0xffff) + (s >>> 16);
  }
  return ~s & 0xffff;
}

/** A copy of `data` placed at byte offset `shift` inside a larger ArrayBuffer (exercises alignment). */
function placed(data: Uint8Array, shift: number): Uint8Array {
  const ab = new ArrayBuffer(data.length + shift + 3);
  const v = new Uint8Array(ab, shift, data.length);
  v.set(data);
  return v;
}

test('RFC 1071 §3 worked example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2', () => {
  const b = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
  assert.equal(fold16(sum16(b, 0, 8)), 0xddf2);
  assert.equal(checksum(b, 0, 8), 0x220d);
});

test('checksum equals the reference on random data, any offset, length and buffer alignment', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 3000 }),
      fc.nat(3),
      fc.nat(),
      fc.nat(),
      (data, shift, a, b) => {
        const buf = placed(data, shift);
        const off = data.length === 0 ? 0 : a % (data.length + 1);
        const len = (data.length - off === 0 ? 0 : b % (data.length - off + 1)) | 0;
        assert.equal(checksum(buf, off, len), refChecksum(buf, off, len));
      },
    ),
    { numRuns: 2000 },
  );
});

test('all-0xff data (maximum carries) and all-zero data', () => {
  for (const len of [0, 1, 2, 31, 32, 33, 1500, 65536, 65535]) {
    for (const shift of [0, 1, 2, 3]) {
      const ff = placed(new Uint8Array(len).fill(0xff), shift);
      assert.equal(checksum(ff, 0, len), refChecksum(ff, 0, len), `ff len ${len} shift ${shift}`);
      const z = placed(new Uint8Array(len), shift);
      assert.equal(checksum(z, 0, len), 0xffff);
    }
  }
});

test('a buffer longer than one accumulation chunk (5 MiB) sums correctly', () => {
  const n = 5 * 1024 * 1024 + 7;
  const b = new Uint8Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  assert.equal(checksum(b, 1, n - 1), refChecksum(b, 1, n - 1));
  b.fill(0xff);
  assert.equal(checksum(b, 0, n), refChecksum(b, 0, n));
});

test('reads are clamped to the buffer: a length past the end sums only what exists', () => {
  const b = placed(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]), 1);
  assert.equal(checksum(b, 3, 1000), refChecksum(b, 3, b.length - 3));
  const big = new Uint8Array(100).fill(0xab);
  assert.equal(checksum(big.subarray(0, 50), 0, 80), refChecksum(big, 0, 50));
  assert.ok(Number.isFinite(sum16(big, 10, 1 << 30)));
});

test('alternating between buffers (view cache) and resizable buffers give correct sums', () => {
  const a = new Uint8Array(200).map((_, i) => i);
  const b = new Uint8Array(300).map((_, i) => 255 - (i & 0xff));
  for (let k = 0; k < 5; k++) {
    assert.equal(checksum(a, 1, 150), refChecksum(a, 1, 150));
    assert.equal(checksum(b, 2, 250), refChecksum(b, 2, 250));
  }
  const Ctor = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer;
  const ab = new Ctor(100, { maxByteLength: 1000 });
  const r = new Uint8Array(ab);
  r.set(a.subarray(0, 100));
  assert.equal(checksum(r, 0, 100), refChecksum(a, 0, 100));
});

test('partial sums compose: sum16 of two halves (even split) equals the whole', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), fc.nat(), (data, k) => {
      const split = data.length === 0 ? 0 : (k % (data.length + 1)) & ~1;
      const whole = fold16(sum16(data, 0, data.length));
      const parts = fold16(sum16(data, split, data.length - split, sum16(data, 0, split)));
      assert.equal(parts, whole);
    }),
  );
});

test('fold16 handles partial sums up to 2^53', () => {
  fc.assert(
    fc.property(fc.maxSafeNat(), (x) => {
      // x mod 0xffff is invariant under end-around-carry folding (0 and 0xffff are the same class).
      const f = fold16(x);
      assert.ok(f >= 0 && f <= 0xffff);
      assert.equal(f % 0xffff, x % 0xffff);
      if (x > 0) assert.notEqual(f, 0);
    }),
  );
});

test('checksumOk verifies a region containing its own checksum, with and without pseudo sum', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 4, maxLength: 1600 }), fc.nat(0xffffff), (data, pseudo) => {
      const b = data.slice();
      b[2] = 0;
      b[3] = 0;
      const c = checksum(b, 0, b.length, pseudo);
      b[2] = c >>> 8;
      b[3] = c & 0xff;
      assert.ok(checksumOk(b, 0, b.length, pseudo));
      // Flipping one bit changes a word by ±2^k (k < 16), never 0 mod 0xffff: always detected.
      b[b.length - 1] ^= 0x10;
      assert.ok(!checksumOk(b, 0, b.length, pseudo));
    }),
  );
});

test('IPv4 pseudo-header sum equals summing the RFC 9293 §3.1 pseudo-header bytes', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
      fc.nat(255),
      fc.nat(0xffff),
      fc.uint8Array({ maxLength: 100 }),
      (src, dst, proto, len, seg) => {
        const ph = new Uint8Array([...src, ...dst, 0, proto, len >>> 8, len & 0xff]);
        const expect = checksum(new Uint8Array([...ph, ...seg]), 0, 12 + seg.length);
        assert.equal(checksum(seg, 0, seg.length, pseudoSumV4(src, dst, proto, len)), expect);
        // In-place form: addresses read from a header buffer at offsets.
        const hdr = new Uint8Array(20);
        hdr.set(src, 12);
        hdr.set(dst, 16);
        assert.equal(pseudoSumV4(hdr, hdr, proto, len, 12, 16), pseudoSumV4(src, dst, proto, len));
      },
    ),
  );
});

test('IPv6 pseudo-header sum equals summing the RFC 8200 §8.1 pseudo-header bytes', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.nat(255),
      fc.nat(0xffffffff),
      fc.uint8Array({ maxLength: 100 }),
      (src, dst, proto, len, seg) => {
        const ph = new Uint8Array([
          ...src,
          ...dst,
          len >>> 24,
          (len >>> 16) & 0xff,
          (len >>> 8) & 0xff,
          len & 0xff,
          0,
          0,
          0,
          proto,
        ]);
        const expect = checksum(new Uint8Array([...ph, ...seg]), 0, 40 + seg.length);
        assert.equal(checksum(seg, 0, seg.length, pseudoSumV6(src, dst, proto, len)), expect);
      },
    ),
  );
});

test('RFC 1624 incremental update equals recomputing the checksum', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 8, maxLength: 200 }),
      fc.nat(0xffff),
      fc.nat(0xffffffff),
      (data, w16, w32) => {
        const b = data.slice();
        const before = checksum(b, 0, b.length);
        const old16 = (b[0] << 8) | b[1];
        b[0] = w16 >>> 8;
        b[1] = w16 & 0xff;
        const after16 = checksum(b, 0, b.length);
        const inc16 = checksumUpdate16(before, old16, w16);
        // Ones' complement has two zeros: 0x0000 and 0xffff are equivalent as checksum values.
        assert.equal(inc16 % 0xffff, after16 % 0xffff);
        const old32 = ((b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7]) >>> 0;
        b[4] = w32 >>> 24;
        b[5] = (w32 >>> 16) & 0xff;
        b[6] = (w32 >>> 8) & 0xff;
        b[7] = w32 & 0xff;
        const after32 = checksum(b, 0, b.length);
        assert.equal(checksumUpdate32(after16, old32, w32) % 0xffff, after32 % 0xffff);
      },
    ),
  );
});

test('finishChecksum is the complement of the folded partial sum', () => {
  assert.equal(finishChecksum(0), 0xffff);
  assert.equal(finishChecksum(0xffff), 0);
  assert.equal(finishChecksum(0x1fffe), 0);
  assert.equal(finishChecksum(0x1234), 0xedcb);
});

test('WebAssembly SIMD is used on Node 20 (the reference engine)', () => {
  assert.equal(checksumBackend(), 'wasm-simd');
});

test('all three paths agree: in-place (wireBuffer), staged copy, portable JS', () => {
  const arena = wireBuffer(70000);
  assert.equal(arena.length, 70000);
  assert.ok(arena.every((b) => b === 0));
  const second = wireBuffer(100);
  assert.equal(second.buffer, arena.buffer); // carved from the same arena
  assert.ok(second.byteOffset >= arena.byteOffset + 70000);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 70000 }), fc.nat(), fc.nat(), (data, a, b) => {
      arena.set(data);
      const plain = placed(data, a & 3);
      const off = data.length === 0 ? 0 : a % (data.length + 1);
      const len = data.length - off === 0 ? 0 : b % (data.length - off + 1);
      const want = refChecksum(plain, off, len);
      assert.equal(checksum(arena, off, len), want, 'in place');
      assert.equal(checksum(plain, off, len), want, 'staged');
      assert.equal(~fold16(sum16Portable(plain, off, len)) & 0xffff, want, 'portable');
    }),
    { numRuns: 300 },
  );
  // Long runs of 0xff at every path: maximal lane values.
  for (const len of [128, 511, 512, 4096, 65536, 65600, 70000]) {
    arena.fill(0xff, 0, len);
    const plain = new Uint8Array(len).fill(0xff);
    const want = refChecksum(plain, 0, len);
    assert.equal(checksum(arena, 0, len), want);
    assert.equal(checksum(plain, 0, len), want);
    assert.equal(checksum(arena, 1, len - 1), refChecksum(plain, 1, len - 1));
  }
});

test('buffers over 1 MiB from wireBuffer are plain and still sum correctly (staged in 64 KiB chunks)', () => {
  const big = wireBuffer(2 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
  assert.equal(checksum(big, 3, big.length - 3), refChecksum(big, 3, big.length - 3));
});

test('views of a wireBuffer are summed in place too; out-of-range off/len clamp instead of throwing', () => {
  const arena = wireBuffer(4096);
  for (let i = 0; i < arena.length; i++) arena[i] = (i * 31 + 7) & 0xff;
  const copy = arena.slice();
  fc.assert(
    fc.property(
      fc.integer({ min: -100, max: 5000 }),
      fc.integer({ min: -100, max: 5000 }),
      fc.nat(4096),
      (off, len, v) => {
        const view = arena.subarray(v);
        const plain = copy.subarray(v);
        const lo = Math.max(0, off);
        const hi = Math.min(view.length, lo + len);
        const want = hi > lo ? refChecksum(plain, lo, hi - lo) : 0xffff;
        assert.equal(checksum(view, off, len), want);
        assert.equal(checksum(plain, off, len), want);
      },
    ),
    { numRuns: 500 },
  );
});

test('pseudoSum picks the IPv4 pseudo-header for 4-byte addresses and the IPv6 one for 16-byte addresses', () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 0xffffff }),
      (v4, s16, d16, proto, len) => {
        const [s, d] = v4 ? [s16.subarray(0, 4), d16.subarray(0, 4)] : [s16, d16];
        const want = v4 ? pseudoSumV4(s, d, proto, len) : pseudoSumV6(s, d, proto, len);
        assert.equal(pseudoSum(s, d, proto, len), want);
      },
    ),
  );
});
