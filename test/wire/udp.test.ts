import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { pseudoSumV4, pseudoSumV6 } from '../../src/wire/checksum.js';
import { emitUdp, newUdpHeader, parseUdp, udpChecksumOk, udpFillChecksum } from '../../src/wire/udp.js';
import { guarded } from './guard.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('parse a datagram; trailing bytes beyond the UDP length are not payload', () => {
  const b = new Uint8Array([0x30, 0x39, 0x00, 0x35, 0x00, 0x0b, 0x12, 0x34, 0x61, 0x62, 0x63, 0xff, 0xff]);
  const h = newUdpHeader();
  assert.equal(parseUdp(b, h), null);
  assert.equal(h.srcPort, 12345);
  assert.equal(h.dstPort, 53);
  assert.equal(h.length, 11);
  assert.equal(h.checksum, 0x1234);
  assert.equal(h.payloadOff, 8);
  assert.equal(h.payloadLen, 3);
  assert.equal(Buffer.from(h.payload).toString(), 'abc');
});

test('errors: short buffer, length field below 8 or past the end, bad ranges', () => {
  const h = newUdpHeader();
  assert.equal(parseUdp(new Uint8Array(7), h), 'truncated');
  const b = new Uint8Array(12);
  b[5] = 7;
  assert.equal(parseUdp(b, h), 'bad-length');
  b[5] = 13;
  assert.equal(parseUdp(b, h), 'bad-length');
  b[5] = 12;
  assert.equal(parseUdp(b, h), null);
  assert.equal(parseUdp(b, h, 4, 9), 'truncated');
  assert.equal(parseUdp(b, h, -1, 8), 'truncated');
});

test('emit → parse → emit round-trips; bytes → parse → emit is identical', () => {
  fc.assert(
    fc.property(
      fc.nat(0xffff),
      fc.nat(0xffff),
      fc.nat(0xffff),
      fc.uint8Array({ maxLength: 100 }),
      fc.nat(5),
      (sp, dp, cs, payload, at) => {
        const h = newUdpHeader();
        h.srcPort = sp;
        h.dstPort = dp;
        h.checksum = cs;
        h.length = 8 + payload.length;
        const buf = new Uint8Array(at + h.length);
        assert.equal(emitUdp(h, buf, at), 8);
        buf.set(payload, at + 8);
        const p = newUdpHeader();
        assert.equal(parseUdp(buf, p, at), null);
        assert.deepEqual([p.srcPort, p.dstPort, p.length, p.checksum], [sp, dp, h.length, cs]);
        assert.equal(hex(p.payload), hex(payload));
        const again = new Uint8Array(8);
        emitUdp(p, again, 0);
        assert.equal(hex(again), hex(buf.subarray(at, at + 8)));
      },
    ),
  );
});

test('checksum: filled value verifies (v4, v6); zero is sent as 0xffff; zero field means none only on v4', () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ maxLength: 200 }),
      (v6, s, d, payload) => {
        const len = 8 + payload.length;
        const buf = new Uint8Array(len);
        const h = newUdpHeader();
        h.srcPort = 1000;
        h.dstPort = 2000;
        h.length = len;
        emitUdp(h, buf, 0);
        buf.set(payload, 8);
        const ps = v6 ? pseudoSumV6(s, d, 17, len) : pseudoSumV4(s.subarray(0, 4), d.subarray(0, 4), 17, len);
        const c = udpFillChecksum(buf, 0, len, ps);
        assert.notEqual(c, 0);
        assert.ok(udpChecksumOk(buf, 0, len, ps, v6 ? 6 : 4));
        buf[len - 1] ^= 0x80;
        assert.ok(!udpChecksumOk(buf, 0, len, ps, v6 ? 6 : 4));
        buf[6] = 0;
        buf[7] = 0;
        assert.equal(udpChecksumOk(buf, 0, len, ps, 4), true);
        assert.equal(udpChecksumOk(buf, 0, len, ps, 6), false);
      },
    ),
  );
  // A datagram whose checksum computes to 0 carries 0xffff (RFC 768), which still verifies.
  // Choose the payload word so that the whole sum folds to 0xffff.
  const buf = new Uint8Array(10);
  const h = newUdpHeader();
  h.length = 10;
  emitUdp(h, buf, 0);
  // sum so far: length (10) + pseudo 0; payload word w makes fold(10 + 10 + w) = 0xffff.
  const w = 0xffff - 20;
  buf[8] = w >>> 8;
  buf[9] = w & 0xff;
  assert.equal(udpFillChecksum(buf, 0, 10, 10), 0xffff);
  assert.ok(udpChecksumOk(buf, 0, 10, 10, 6));
});

test('random bytes never throw or read out of range', () => {
  const h = newUdpHeader();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(5), fc.nat(5), (raw, a, z) => {
      const lo = Math.min(a, raw.length);
      const hi = Math.max(lo, raw.length - z);
      const r = parseUdp(guarded(raw, lo, hi), h, lo, hi - lo);
      if (r === null) {
        assert.ok(h.length >= 8 && lo + h.length <= hi);
        assert.equal(h.payloadOff + h.payloadLen, lo + h.length);
      } else assert.ok(r === 'truncated' || r === 'bad-length');
    }),
    { numRuns: 3000 },
  );
});
