import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { checksum } from '../../src/wire/checksum.js';
import { emitIpv4, emitIpv4Fast, isIpv4Fragment, newIpv4Header, parseIpv4 } from '../../src/wire/ipv4.js';
import { guarded } from './guard.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// The header of a Linux ping (198.18.0.1 → 198.18.0.2, DF, id 0x1c46, 84 bytes).
const LINUX = Uint8Array.from(Buffer.from('450000541c4640004001923bc6120001c6120002', 'hex'));

test('parse a Linux IPv4 header', () => {
  const h = newIpv4Header();
  const pkt = new Uint8Array(84);
  pkt.set(LINUX);
  const c = checksum(pkt, 0, 20);
  assert.equal(c, 0, 'captured header verifies');
  assert.equal(parseIpv4(pkt, h), null);
  assert.equal(h.headerLen, 20);
  assert.equal(h.totalLen, 84);
  assert.equal(h.id, 0x1c46);
  assert.equal(h.df, true);
  assert.equal(h.mf, false);
  assert.equal(h.fragOffset, 0);
  assert.equal(h.ttl, 64);
  assert.equal(h.proto, 1);
  assert.deepEqual([...h.src], [198, 18, 0, 1]);
  assert.deepEqual([...h.dst], [198, 18, 0, 2]);
  const out = new Uint8Array(20);
  emitIpv4(h, out, 0);
  assert.equal(hex(out), hex(LINUX));
  const fast = new Uint8Array(20);
  emitIpv4Fast(fast, 0, 84, 0x1c46, 0x4000, 64, 1, 0, h.src, h.dst);
  assert.equal(hex(fast), hex(LINUX));
});

test('errors: truncated, version, IHL, total length, checksum, options', () => {
  const h = newIpv4Header();
  const pkt = new Uint8Array(84);
  pkt.set(LINUX);
  assert.equal(parseIpv4(pkt.subarray(0, 19), h), 'truncated');
  assert.equal(parseIpv4(pkt.subarray(0, 60), h), 'truncated', 'total length beyond the buffer');
  const v = pkt.slice();
  v[0] = 0x65;
  assert.equal(parseIpv4(v, h), 'bad-version');
  const ihl = pkt.slice();
  ihl[0] = 0x44;
  assert.equal(parseIpv4(ihl, h), 'bad-header-length');
  const tl = pkt.slice();
  tl[2] = 0;
  tl[3] = 19;
  assert.equal(parseIpv4(tl, h), 'bad-length');
  const cs = pkt.slice();
  cs[8] = 63;
  assert.equal(parseIpv4(cs, h), 'bad-checksum');
  assert.equal(parseIpv4(cs, h, 0, cs.length, false), null, 'checksum check can be skipped');
  // Options: a length byte of 1 or running past the header is malformed; NOP/EOL are fine.
  const withOpt = (opts: number[]) => {
    const hh = newIpv4Header();
    hh.options = Uint8Array.from(opts);
    hh.totalLen = 20 + ((opts.length + 3) & ~3);
    hh.src.set([1, 2, 3, 4]);
    const b = new Uint8Array(hh.totalLen);
    emitIpv4(hh, b, 0);
    return b;
  };
  assert.equal(parseIpv4(withOpt([1, 1, 1, 0]), h), null);
  assert.equal(h.options.length, 4);
  assert.equal(parseIpv4(withOpt([7, 7, 4, 0, 0, 0, 0]), h), null, 'record route, length 7');
  assert.equal(parseIpv4(withOpt([7, 1, 0, 0]), h), 'bad-option');
  assert.equal(parseIpv4(withOpt([7, 9, 0, 0]), h), 'bad-option');
  assert.equal(parseIpv4(withOpt([1, 1, 1, 7]), h), 'bad-option', 'length byte missing at the end');
});

test('fragment fields', () => {
  const h = newIpv4Header();
  const b = new Uint8Array(28);
  emitIpv4Fast(b, 0, 28, 77, 0x2000 | 185, 64, 17, 0, new Uint8Array(4), new Uint8Array(4));
  assert.equal(parseIpv4(b, h), null);
  assert.equal(h.mf, true);
  assert.equal(h.fragOffset, 1480);
  assert.ok(isIpv4Fragment(h));
  // The last fragment may not end beyond 65535.
  emitIpv4Fast(b, 0, 28, 77, 8191, 64, 17, 0, new Uint8Array(4), new Uint8Array(4));
  assert.equal(parseIpv4(b, h), 'bad-fragment');
});

const headerArb = fc.record({
  tos: fc.nat(255),
  id: fc.nat(0xffff),
  rf: fc.boolean(),
  df: fc.boolean(),
  mf: fc.boolean(),
  frag: fc.nat(1000),
  ttl: fc.nat(255),
  proto: fc.nat(255),
  src: fc.uint8Array({ minLength: 4, maxLength: 4 }),
  dst: fc.uint8Array({ minLength: 4, maxLength: 4 }),
  // options: a sequence of NOPs and well-formed TLVs, padded by emit
  opts: fc.array(
    fc.oneof(
      fc.constant([1]),
      fc.uint8Array({ minLength: 0, maxLength: 6 }).map((d) => [68, d.length + 2, ...d]),
    ),
    { maxLength: 4 },
  ),
  payload: fc.nat(200),
  at: fc.nat(7),
});

test('property: emit → parse gives the fields back, and parse → emit the same bytes', () => {
  fc.assert(
    fc.property(headerArb, (a) => {
      const h = newIpv4Header();
      let opts = a.opts.flat();
      if (opts.length > 40) opts = opts.slice(0, 0);
      h.options = Uint8Array.from(opts);
      const hl = 20 + ((opts.length + 3) & ~3);
      Object.assign(h, { tos: a.tos, id: a.id, rf: a.rf, df: a.df, mf: a.mf, ttl: a.ttl, proto: a.proto });
      h.fragOffset = a.frag * 8;
      h.src.set(a.src);
      h.dst.set(a.dst);
      h.totalLen = hl + a.payload;
      const buf = new Uint8Array(a.at + h.totalLen);
      assert.equal(emitIpv4(h, buf, a.at), hl);
      const p = newIpv4Header();
      assert.equal(parseIpv4(buf, p, a.at), null);
      for (const k of [
        'tos',
        'id',
        'rf',
        'df',
        'mf',
        'fragOffset',
        'ttl',
        'proto',
        'totalLen',
        'headerLen',
      ] as const)
        assert.equal(p[k], h[k], k);
      assert.equal(hex(p.src), hex(h.src));
      assert.equal(hex(p.dst), hex(h.dst));
      const again = new Uint8Array(hl);
      emitIpv4(p, again, 0);
      assert.equal(hex(again), hex(buf.subarray(a.at, a.at + hl)));
    }),
    { numRuns: 2000 },
  );
});

test('property: random and mutated bytes never throw nor read out of bounds', () => {
  const valid = new Uint8Array(84);
  valid.set(LINUX);
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 80 }),
        fc.array(fc.tuple(fc.nat(83), fc.nat(255)), { maxLength: 6 }).map((muts) => {
          const b = valid.slice();
          for (const [i, v] of muts) b[i] = v;
          return b;
        }),
        fc.uint8Array({ minLength: 20, maxLength: 80 }).map((b) => {
          b[0] = 0x40 | (b[0] & 0x0f);
          return b;
        }),
      ),
      fc.nat(4),
      fc.nat(4),
      (raw, cutLo, cutHi) => {
        const lo = Math.min(cutLo, raw.length);
        const hi = Math.max(lo, raw.length - cutHi);
        const h = newIpv4Header();
        const r = parseIpv4(guarded(raw, lo, hi), h, lo, hi - lo);
        if (r === null) {
          assert.ok(h.headerLen >= 20 && h.headerLen <= h.totalLen && h.totalLen <= hi - lo);
          assert.equal(checksum(raw, lo, h.headerLen), 0);
        }
      },
    ),
    { numRuns: 5000 },
  );
});
