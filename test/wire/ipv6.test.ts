import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  emitIpv6,
  emitIpv6Fragment,
  MAX_EXT_HEADERS,
  newIpv6Header,
  parseIpv6,
} from '../../src/wire/ipv6.js';
import { guarded } from './guard.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** An extension header of type `t` followed by `next`, with `body` bytes after the 2-byte head. */
interface Ext {
  type: number;
  bytes: number[];
}

/** Build an IPv6 packet: fixed header, the given extension headers in order, then `upper` bytes. */
function build(exts: Ext[], proto: number, upper: number[]): Uint8Array {
  const parts: number[] = [];
  for (let i = 0; i < exts.length; i++) {
    const next = i + 1 < exts.length ? exts[i + 1].type : proto;
    parts.push(next, ...exts[i].bytes.slice(1));
  }
  parts.push(...upper);
  const h = newIpv6Header();
  h.payloadLen = parts.length;
  h.nextHeader = exts.length > 0 ? exts[0].type : proto;
  h.hopLimit = 64;
  h.src.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  h.dst.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
  const b = new Uint8Array(40 + parts.length);
  emitIpv6(h, b, 0);
  b.set(parts, 40);
  return b;
}

/** Options header (HBH or DestOpts) of 8 bytes: PadN filling it. */
const opts8 = (type: number): Ext => ({ type, bytes: [0, 0, 1, 4, 0, 0, 0, 0] });
const routing = (segLeft: number): Ext => ({ type: 43, bytes: [0, 0, 4, segLeft, 0, 0, 0, 0] });
const frag = (offset: number, mf: boolean, id: number): Ext => {
  const b = new Uint8Array(8);
  emitIpv6Fragment(b, 0, 0, offset, mf, id);
  return { type: 44, bytes: [...b] };
};

test('fixed header fields and round trip', () => {
  const b = build([], 58, [128, 0, 0, 0, 0, 1, 0, 1]);
  b[0] = 0x6b;
  b[1] = 0x8f;
  b[2] = 0x12;
  b[3] = 0x34;
  const h = newIpv6Header();
  assert.equal(parseIpv6(b, h), null);
  assert.equal(h.trafficClass, 0xb8);
  assert.equal(h.flowLabel, 0xf1234);
  assert.equal(h.payloadLen, 8);
  assert.equal(h.proto, 58);
  assert.equal(h.headerLen, 40);
  assert.equal(h.extCount, 0);
  const out = new Uint8Array(40);
  emitIpv6(h, out, 0);
  assert.equal(hex(out), hex(b.subarray(0, 40)));
});

test('extension headers are walked to the upper layer', () => {
  const h = newIpv6Header();
  const b = build(
    [opts8(0), opts8(60), routing(0), frag(0, true, 0xdeadbeef), opts8(60)],
    6,
    new Array(20).fill(0),
  );
  assert.equal(parseIpv6(b, h), null);
  assert.equal(h.proto, 6);
  assert.equal(h.extCount, 5);
  assert.equal(h.headerLen, 40 + 5 * 8);
  assert.ok(h.hasHopByHop);
  assert.equal(h.routingType, 4);
  assert.equal(h.segmentsLeft, 0);
  assert.ok(h.hasFragment);
  assert.equal(h.fragHeaderOff, 64);
  assert.equal(h.fragPayloadOff, 72);
  assert.equal(h.fragOffset, 0);
  assert.equal(h.mf, true);
  assert.equal(h.fragId, 0xdeadbeef);
  // AH: length in 4-octet units minus 2 (RFC 4302): 12 bytes here.
  const ah: Ext = { type: 51, bytes: [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] };
  assert.equal(parseIpv6(build([ah], 17, new Array(8).fill(0)), h), null);
  assert.equal(h.headerLen, 52);
  assert.equal(h.proto, 17);
  // A non-first fragment: the walk stops after the Fragment header.
  assert.equal(parseIpv6(build([frag(1448, false, 7)], 17, [1, 2, 3]), h), null);
  assert.equal(h.proto, 17);
  assert.equal(h.headerLen, 48);
  assert.equal(h.fragOffset, 1448);
  assert.equal(h.mf, false);
  // No Next Header (59).
  assert.equal(parseIpv6(build([opts8(60)], 59, []), h), null);
  assert.equal(h.proto, 59);
});

test('errors: truncated, version, payload length, misplaced HBH, bad TLVs, chains', () => {
  const h = newIpv6Header();
  assert.equal(parseIpv6(new Uint8Array(39), h), 'truncated');
  const ok = build([], 17, new Array(8).fill(0));
  const v = ok.slice();
  v[0] = 0x40;
  assert.equal(parseIpv6(v, h), 'bad-version');
  assert.equal(parseIpv6(ok.subarray(0, 47), h), 'truncated', 'payload length beyond the buffer');
  assert.equal(parseIpv6(build([opts8(60), opts8(0)], 17, []), h), 'bad-ext-header', 'HBH not first');
  const truncatedExt = build([{ type: 60, bytes: [0, 3, 1, 4, 0, 0, 0, 0] }], 17, []);
  assert.equal(parseIpv6(truncatedExt, h), 'bad-ext-header', 'header length beyond the payload');
  const badTlv = build([{ type: 60, bytes: [0, 0, 1, 5, 0, 0, 0, 0] }], 17, []);
  assert.equal(parseIpv6(badTlv, h), 'bad-option');
  assert.equal(
    parseIpv6(build([frag(0, true, 1), frag(0, true, 1)], 17, new Array(8).fill(0)), h),
    'bad-fragment',
  );
  const long = build(
    new Array(MAX_EXT_HEADERS + 1).fill(0).map(() => opts8(60)),
    17,
    [],
  );
  assert.equal(parseIpv6(long, h), 'bad-ext-header');
});

test('property: emit → parse → emit round-trips the fixed header and the Fragment header', () => {
  fc.assert(
    fc.property(
      fc.nat(255),
      fc.nat(0xfffff),
      fc.nat(255),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.nat(0x1fff),
      fc.boolean(),
      fc.nat(0xffffffff),
      fc.nat(100),
      (tc, fl, hop, src, dst, fo, mf, id, plen) => {
        const h = newIpv6Header();
        h.trafficClass = tc;
        h.flowLabel = fl;
        h.hopLimit = hop;
        h.src.set(src);
        h.dst.set(dst);
        h.nextHeader = 44;
        h.payloadLen = 8 + plen;
        const b = new Uint8Array(40 + h.payloadLen);
        emitIpv6(h, b, 0);
        emitIpv6Fragment(b, 40, 17, fo * 8, mf, id);
        const p = newIpv6Header();
        assert.equal(parseIpv6(b, p), null);
        assert.deepEqual(
          [p.trafficClass, p.flowLabel, p.hopLimit, p.fragOffset, p.mf, p.fragId, p.proto],
          [tc, fl, hop, fo * 8, mf, id, 17],
        );
        const again = new Uint8Array(48);
        emitIpv6(p, again, 0);
        emitIpv6Fragment(again, 40, p.proto, p.fragOffset, p.mf, p.fragId);
        assert.equal(hex(again), hex(b.subarray(0, 48)));
      },
    ),
    { numRuns: 2000 },
  );
});

test('property: random and mutated bytes never throw nor read out of bounds', () => {
  const valid = build([opts8(0), routing(0), frag(0, true, 9), opts8(60)], 6, new Array(24).fill(3));
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 120 }).map((b) => {
          if (b.length > 0) b[0] = 0x60 | (b[0] & 0x0f);
          if (b.length > 6) b[6] = [0, 43, 44, 51, 60, 6][b[6] % 6];
          return b;
        }),
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.nat(255)), { maxLength: 6 }).map((muts) => {
          const b = valid.slice();
          for (const [i, x] of muts) b[i] = x;
          return b;
        }),
      ),
      fc.nat(4),
      fc.nat(4),
      (raw, cutLo, cutHi) => {
        const lo = Math.min(cutLo, raw.length);
        const hi = Math.max(lo, raw.length - cutHi);
        const h = newIpv6Header();
        const r = parseIpv6(guarded(raw, lo, hi), h, lo, hi - lo);
        if (r === null) {
          assert.ok(h.headerLen >= 40 && h.headerLen <= 40 + h.payloadLen);
          assert.ok(40 + h.payloadLen <= hi - lo);
        }
      },
    ),
    { numRuns: 5000 },
  );
});
