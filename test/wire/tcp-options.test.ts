import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { newTcpHeader, TCP_ACK, TCP_SYN, type TcpHeader } from '../../src/wire/tcp.js';
import {
  linuxOptionsLen,
  parseTcpOptionList,
  parseTcpOptionsInto,
  resetTcpOptions,
  type TcpOption,
  tcpOptionListLen,
  writeLinuxOptions,
  writeMss,
  writeNop,
  writeSack,
  writeSackPerm,
  writeTcpOptionList,
  writeTs,
  writeWscale,
} from '../../src/wire/tcp-options.js';
import { guarded } from './guard.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const fromHex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

function linux(fill: (h: TcpHeader) => void): string {
  const h = newTcpHeader();
  fill(h);
  const buf = new Uint8Array(40);
  const end = writeLinuxOptions(h, buf, 0);
  assert.equal(end, linuxOptionsLen(h));
  assert.equal(end % 4, 0);
  return hex(buf.subarray(0, end));
}

test("Linux's option layouts, byte for byte", () => {
  // SYN with timestamps: mss, sackOK+TS merged into one word pair, nop, wscale.
  assert.equal(
    linux((h) => {
      h.flags = TCP_SYN;
      h.mss = 1460;
      h.sackOk = true;
      h.hasTs = true;
      h.tsVal = 0x11223344;
      h.tsEcr = 0;
      h.wscale = 7;
    }),
    '020405b4' + '0402080a' + '11223344' + '00000000' + '01030307',
  );
  // SYN without timestamps: mss, nop, nop, sackOK, nop, wscale.
  assert.equal(
    linux((h) => {
      h.mss = 1460;
      h.sackOk = true;
      h.wscale = 7;
    }),
    '020405b4' + '01010402' + '01030307',
  );
  // SYN with timestamps but no SACK: mss, nop, nop, TS, nop, wscale.
  assert.equal(
    linux((h) => {
      h.mss = 536;
      h.hasTs = true;
      h.tsVal = 1;
      h.tsEcr = 2;
      h.wscale = 0;
    }),
    '02040218' + '0101080a' + '00000001' + '00000002' + '01030300',
  );
  // Data segment: nop, nop, TS.
  assert.equal(
    linux((h) => {
      h.flags = TCP_ACK;
      h.hasTs = true;
      h.tsVal = 0xaabbccdd;
      h.tsEcr = 0x01020304;
    }),
    '0101080a' + 'aabbccdd' + '01020304',
  );
  // Data with SACK: nop, nop, TS, nop, nop, sack (3 blocks).
  assert.equal(
    linux((h) => {
      h.hasTs = true;
      h.tsVal = 5;
      h.tsEcr = 6;
      h.sackCount = 3;
      h.sackBlocks.set([1, 2, 3, 4, 5, 6]);
    }),
    '0101080a' +
      '00000005' +
      '00000006' +
      '0101051a' +
      '00000001000000020000000300000004' +
      '0000000500000006',
  );
  // No options at all.
  assert.equal(
    linux(() => {}),
    '',
  );
});

test('single-option writers', () => {
  const b = new Uint8Array(64);
  let o = writeMss(b, 0, 0x1234);
  o = writeNop(b, o);
  o = writeWscale(b, o, 14);
  o = writeSackPerm(b, o);
  o = writeTs(b, o, 0xffffffff, 7);
  o = writeSack(b, o, new Uint32Array([9, 10, 11, 12]), 2);
  assert.equal(
    hex(b.subarray(0, o)),
    '02041234' +
      '01' +
      '03030e' +
      '0402' +
      '080affffffff00000007' +
      '0512' +
      '000000090000000a0000000b0000000c',
  );
});

test('parse into fields: values, repeated options (last wins), unknown options counted', () => {
  const bytes = fromHex(
    '02040578 0303 02 0402 080a 00000010 00000020 fe04abcd 02040218 0101 0512 00000001 00000002 00000003 00000004 00',
  );
  const h = newTcpHeader();
  resetTcpOptions(h);
  assert.equal(parseTcpOptionsInto(bytes, 0, bytes.length, h), null);
  assert.equal(h.mss, 536);
  assert.equal(h.wscale, 2);
  assert.equal(h.sackOk, true);
  assert.equal(h.hasTs, true);
  assert.equal(h.tsVal, 16);
  assert.equal(h.tsEcr, 32);
  assert.equal(h.unknownOptions, 1);
  assert.equal(h.sackCount, 2);
  assert.deepEqual([...h.sackBlocks.subarray(0, 4)], [1, 2, 3, 4]);
});

test('EOL ends the walk: bytes after it are padding, even if not zero', () => {
  const bytes = fromHex('00 02 04 00'); // would be a truncated-looking MSS after EOL
  const h = newTcpHeader();
  assert.equal(parseTcpOptionsInto(bytes, 0, 4, h), null);
  assert.equal(h.mss, -1);
  const list = parseTcpOptionList(bytes, 0, 4);
  assert.deepEqual(list, [{ kind: 'eol', len: 4 }]);
});

test('malformed lengths are errors', () => {
  const bad = [
    '02', // kind with no length byte
    '0200', // length 0
    '0201', // length 1
    '020405', // MSS overruns the option space
    '02050000 00', // MSS with length 5
    '0303', // wscale length 2
    '030400 00', // wscale length 4
    '040300', // sackOK length 3
    '080900000000000000', // TS length 9
    '080b0000000000000000 00', // TS length 11
    '0502', // SACK with no blocks
    '050a00000001000000', // SACK overruns
    '050b000000010000000200', // SACK 2 + 9
    'fe01', // unknown kind, length 1
    'fe050000', // unknown kind of length 5 in 4 bytes
    '01 01 fe', // unknown kind with no length byte after NOPs
  ];
  for (const s of bad) {
    const b = fromHex(s);
    const h = newTcpHeader();
    assert.equal(parseTcpOptionsInto(b, 0, b.length, h), 'bad-option', s);
    assert.equal(parseTcpOptionList(b, 0, b.length), 'bad-option', s);
  }
  // Edge: an unknown option exactly filling the space is fine.
  const ok = fromHex('fe04aabb');
  assert.equal(parseTcpOptionsInto(ok, 0, 4, newTcpHeader()), null);
});

test('the option list keeps order, NOPs and EOL', () => {
  const bytes = fromHex('01 01 080a 00000001 00000002 01 01 050a 0000000a 0000000b 22 03 07 00 00');
  assert.deepEqual(parseTcpOptionList(bytes, 0, bytes.length), [
    { kind: 'nop' },
    { kind: 'nop' },
    { kind: 'ts', val: 1, ecr: 2 },
    { kind: 'nop' },
    { kind: 'nop' },
    { kind: 'sack', blocks: [10, 11] },
    { kind: 'unknown', code: 0x22, data: new Uint8Array([7]) },
    { kind: 'eol', len: 2 },
  ]);
  assert.equal(parseTcpOptionList(bytes, 0, 1000), 'truncated');
});

// ---- properties ----

const arbOption: fc.Arbitrary<TcpOption> = fc.oneof(
  fc.constant<TcpOption>({ kind: 'nop' }),
  fc.nat(0xffff).map<TcpOption>((mss) => ({ kind: 'mss', mss })),
  fc.nat(255).map<TcpOption>((shift) => ({ kind: 'wscale', shift })),
  fc.constant<TcpOption>({ kind: 'sackOk' }),
  fc
    .array(fc.nat(0xffffffff), { minLength: 2, maxLength: 8 })
    .map<TcpOption>((a) => ({ kind: 'sack', blocks: a.length % 2 ? a.slice(1) : a })),
  fc.tuple(fc.nat(0xffffffff), fc.nat(0xffffffff)).map<TcpOption>(([val, ecr]) => ({ kind: 'ts', val, ecr })),
  fc
    .tuple(
      fc.integer({ min: 6, max: 255 }).filter((k) => k !== 8),
      fc.uint8Array({ maxLength: 8 }),
    )
    .map<TcpOption>(([code, data]) => ({ kind: 'unknown', code, data })),
);

/** Lists of at most 40 bytes, optionally ended by an EOL. */
export const arbOptionList: fc.Arbitrary<TcpOption[]> = fc
  .tuple(fc.array(arbOption, { maxLength: 10 }), fc.boolean())
  .map(([l, eol]) => (eol ? [...l, { kind: 'eol' } as TcpOption] : l))
  .filter((l) => tcpOptionListLen(l) <= 40);

test('list → bytes → list → bytes is stable; bytes → list → bytes is identical', () => {
  fc.assert(
    fc.property(arbOptionList, (list) => {
      const n = tcpOptionListLen(list);
      const padded = (n + 3) & ~3;
      const b = new Uint8Array(padded);
      assert.equal(writeTcpOptionList(list, b, 0), n);
      const parsed = parseTcpOptionList(b, 0, padded);
      assert.ok(Array.isArray(parsed), String(parsed));
      // What was written, with the zero padding seen as (part of) an EOL.
      const expect: TcpOption[] = list.filter((o) => o.kind !== 'eol');
      const eolAt = list.findIndex((o) => o.kind === 'eol');
      const tail = eolAt === -1 ? padded - n : padded - tcpOptionListLen(list.slice(0, eolAt));
      if (tail > 0) expect.push(tail === 1 ? { kind: 'eol' } : { kind: 'eol', len: tail });
      assert.deepEqual(parsed, expect);
      const again = new Uint8Array(padded);
      assert.equal(writeTcpOptionList(parsed as TcpOption[], again, 0), padded);
      assert.equal(hex(again), hex(b));
    }),
  );
});

test('fields parsed from a list equal the last occurrence of each option', () => {
  fc.assert(
    fc.property(arbOptionList, (list) => {
      const n = tcpOptionListLen(list);
      const b = new Uint8Array(n);
      writeTcpOptionList(list, b, 0);
      const h = newTcpHeader();
      resetTcpOptions(h);
      assert.equal(parseTcpOptionsInto(b, 0, n, h), null);
      const upToEol = list.slice(0, list.findIndex((o) => o.kind === 'eol') >>> 0);
      let mss = -1;
      let ws = -1;
      let sackOk = false;
      let ts: [number, number] | null = null;
      let sack: number[] = [];
      let unknown = 0;
      for (const o of upToEol) {
        if (o.kind === 'mss') mss = o.mss;
        else if (o.kind === 'wscale') ws = o.shift;
        else if (o.kind === 'sackOk') sackOk = true;
        else if (o.kind === 'ts') ts = [o.val, o.ecr];
        else if (o.kind === 'sack') sack = o.blocks;
        else if (o.kind === 'unknown') unknown++;
      }
      assert.equal(h.mss, mss);
      assert.equal(h.wscale, ws);
      assert.equal(h.sackOk, sackOk);
      assert.equal(h.hasTs, ts !== null);
      if (ts) assert.deepEqual([h.tsVal, h.tsEcr], ts);
      assert.equal(h.sackCount, sack.length / 2);
      assert.deepEqual([...h.sackBlocks.subarray(0, sack.length)], sack);
      assert.equal(h.unknownOptions, unknown);
    }),
  );
});

test('writeLinuxOptions output parses back to the same fields', () => {
  fc.assert(
    fc.property(
      fc.record({
        mss: fc.integer({ min: -1, max: 0xffff }),
        wscale: fc.integer({ min: -1, max: 14 }),
        sackOk: fc.boolean(),
        hasTs: fc.boolean(),
        tsVal: fc.nat(0xffffffff),
        tsEcr: fc.nat(0xffffffff),
        sack: fc.array(fc.nat(0xffffffff), { maxLength: 8 }),
      }),
      (r) => {
        const h = newTcpHeader();
        Object.assign(h, { mss: r.mss, wscale: r.wscale, sackOk: r.sackOk, hasTs: r.hasTs });
        if (r.hasTs) {
          h.tsVal = r.tsVal;
          h.tsEcr = r.tsEcr;
        }
        // Keep within 40 bytes, as TCP output does (at most 3 blocks with TS, 4 without).
        let nblk = r.sack.length >>> 1;
        while (linuxOptionsLen({ ...h, sackCount: nblk } as TcpHeader) > 40) nblk--;
        h.sackCount = nblk;
        h.sackBlocks.set(r.sack.slice(0, 2 * nblk));
        const b = new Uint8Array(40);
        const n = writeLinuxOptions(h, b, 0);
        const p = newTcpHeader();
        resetTcpOptions(p);
        assert.equal(parseTcpOptionsInto(b, 0, n, p), null);
        for (const k of ['mss', 'wscale', 'sackOk', 'hasTs', 'tsVal', 'tsEcr', 'sackCount'] as const) {
          assert.equal(p[k], h[k], k);
        }
        assert.deepEqual([...p.sackBlocks.subarray(0, 2 * nblk)], [...h.sackBlocks.subarray(0, 2 * nblk)]);
      },
    ),
  );
});

test('random and mutated option bytes: never throw, never read outside the range', () => {
  const h = newTcpHeader();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 44 }), fc.nat(4), fc.nat(4), (raw, a, z) => {
      const lo = Math.min(a, raw.length);
      const hi = Math.max(lo, raw.length - z);
      const g = guarded(raw, lo, hi);
      resetTcpOptions(h);
      const r = parseTcpOptionsInto(g, lo, hi, h);
      assert.ok(r === null || r === 'bad-option');
      assert.ok(h.sackCount >= 0 && h.sackCount <= 4);
      const l = parseTcpOptionList(g, lo, hi - lo);
      assert.ok(Array.isArray(l) || l === 'bad-option');
      assert.equal(Array.isArray(l), r === null);
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(
      arbOptionList,
      fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }),
      (list, muts) => {
        const n = tcpOptionListLen(list);
        const b = new Uint8Array(n);
        writeTcpOptionList(list, b, 0);
        for (const [i, v] of muts) if (n > 0) b[i % n] = v;
        resetTcpOptions(h);
        const r = parseTcpOptionsInto(guarded(b), 0, n, h);
        assert.ok(r === null || r === 'bad-option');
      },
    ),
    { numRuns: 2000 },
  );
});

/**
 * A model of how Linux reads options (observed behaviour, RFC 9293 §3.2 plus
 * its leniency): EOL ends; NOP skips; a missing length byte, a length < 2 or
 * one past the end stops the walk; a known kind of the wrong size is ignored.
 */
function linuxModel(b: Uint8Array) {
  const r = {
    mss: -1,
    ws: -1,
    sackOk: false,
    ts: null as null | [number, number],
    sack: [] as number[],
    unknown: 0,
  };
  const u32 = (i: number) => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
  let i = 0;
  while (i < b.length) {
    const k = b[i];
    if (k === 0) break;
    if (k === 1) {
      i++;
      continue;
    }
    if (i + 1 >= b.length) break;
    const n = b[i + 1];
    if (n < 2 || i + n > b.length) break;
    if (k === 2 && n === 4) r.mss = (b[i + 2] << 8) | b[i + 3];
    else if (k === 3 && n === 3) r.ws = b[i + 2];
    else if (k === 4 && n === 2) r.sackOk = true;
    else if (k === 8 && n === 10) r.ts = [u32(i + 2), u32(i + 6)];
    else if (k === 5 && n >= 10 && (n - 2) % 8 === 0) {
      r.sack = [];
      for (let p = i + 2; p < i + n; p += 4) r.sack.push(u32(p));
    } else if (![2, 3, 4, 5, 8].includes(k)) r.unknown++;
    i += n;
  }
  return r;
}

test('on bad-option the fields hold what Linux would act on (random option bytes vs a model)', () => {
  const bytesLikeOptions = fc.array(
    fc.oneof(
      fc.constantFrom([1], [0], [2, 4, 5, 0xb4], [3, 3, 7], [4, 2], [8, 10, 0, 0, 0, 1, 0, 0, 0, 2]),
      fc
        .tuple(fc.constantFrom(2, 3, 4, 5, 8, 30), fc.nat(12))
        .map(([k, n]) => [k, n, ...new Array(Math.max(0, n - 2)).fill(9)]),
      fc.uint8Array({ maxLength: 3 }).map((a) => [...a]),
    ),
    { maxLength: 8 },
  );
  fc.assert(
    fc.property(bytesLikeOptions, (parts) => {
      const b = new Uint8Array(parts.flat().slice(0, 40));
      const h = newTcpHeader();
      resetTcpOptions(h);
      const err = parseTcpOptionsInto(b, 0, b.length, h);
      const m = linuxModel(b);
      assert.equal(h.mss, m.mss);
      assert.equal(h.wscale, m.ws);
      assert.equal(h.sackOk, m.sackOk);
      assert.equal(h.hasTs, m.ts !== null);
      if (m.ts) assert.deepEqual([h.tsVal, h.tsEcr], m.ts);
      assert.deepEqual([...h.sackBlocks.subarray(0, 2 * h.sackCount)], m.sack);
      assert.equal(h.unknownOptions, m.unknown);
      // The strict verdict agrees with the list walker.
      assert.equal(err === null, Array.isArray(parseTcpOptionList(b, 0, b.length)));
    }),
    { numRuns: 3000 },
  );
});
