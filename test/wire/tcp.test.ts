import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { pseudoSumV4, pseudoSumV6 } from '../../src/wire/checksum.js';
import {
  emitTcp,
  newTcpHeader,
  parseTcp,
  TCP_ACK,
  TCP_AE,
  TCP_CWR,
  TCP_ECE,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
  type TcpHeader,
  tcpChecksumOk,
  tcpFillChecksum,
  tcpHeaderLen,
} from '../../src/wire/tcp.js';
import { parseTcpOptionList, type TcpOption, tcpOptionListLen } from '../../src/wire/tcp-options.js';
import { guarded } from './guard.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const fromHex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// A SYN from Linux 6.x as captured on the wire: 40000 → 80, seq 0x0a0b0c0d,
// window 64240, options mss 1460, sackOK, TS val 0x12345678 ecr 0, nop, wscale 7.
const LINUX_SYN = fromHex(
  '9c40 0050 0a0b0c0d 00000000 a002 faf0 0000 0000' + '020405b4 0402080a 12345678 00000000 01030307',
);

test('the guard helper detects out-of-range reads', () => {
  const g = guarded(new Uint8Array(4), 1, 3);
  assert.equal(g[1], 0);
  assert.throws(() => g[3]);
  assert.throws(() => g[0]);
  assert.equal(g.subarray(1, 2).length, 1);
});

test('parse a Linux SYN', () => {
  const h = newTcpHeader();
  assert.equal(parseTcp(LINUX_SYN, h), null);
  assert.equal(h.srcPort, 40000);
  assert.equal(h.dstPort, 80);
  assert.equal(h.seq, 0x0a0b0c0d);
  assert.equal(h.ack, 0);
  assert.equal(h.dataOffset, 40);
  assert.equal(h.flags, TCP_SYN);
  assert.equal(h.window, 64240);
  assert.equal(h.mss, 1460);
  assert.equal(h.sackOk, true);
  assert.equal(h.hasTs, true);
  assert.equal(h.tsVal, 0x12345678);
  assert.equal(h.tsEcr, 0);
  assert.equal(h.wscale, 7);
  assert.equal(h.sackCount, 0);
  assert.equal(h.payloadLen, 0);
  assert.equal(h.payload.length, 0);
  // Building the same header from the fields gives the same bytes (Linux layout).
  const out = new Uint8Array(60);
  assert.equal(emitTcp(h, out, 0), 40);
  assert.equal(hex(out.subarray(0, 40)), hex(LINUX_SYN));
});

test('every flag bit, AE included, maps to its wire position', () => {
  const flags: [number, number, number][] = [
    [TCP_FIN, 13, 0x01],
    [TCP_SYN, 13, 0x02],
    [TCP_RST, 13, 0x04],
    [TCP_PSH, 13, 0x08],
    [TCP_ACK, 13, 0x10],
    [TCP_URG, 13, 0x20],
    [TCP_ECE, 13, 0x40],
    [TCP_CWR, 13, 0x80],
    [TCP_AE, 12, 0x01],
  ];
  for (const [f, byte, bit] of flags) {
    const h = newTcpHeader();
    h.flags = f;
    const b = new Uint8Array(20);
    emitTcp(h, b, 0);
    assert.equal(b[byte] & (byte === 12 ? 0x0f : 0xff), bit);
    const p = newTcpHeader();
    assert.equal(parseTcp(b, p), null);
    assert.equal(p.flags, f);
  }
});

test('payload is a view at the data offset; parse at an offset within a bigger buffer', () => {
  const big = new Uint8Array(100).fill(0xee);
  const h = newTcpHeader();
  h.srcPort = 1;
  h.dstPort = 2;
  h.flags = TCP_ACK | TCP_PSH;
  h.hasTs = true;
  const hl = emitTcp(h, big, 10);
  assert.equal(hl, 32);
  big.set([1, 2, 3, 4, 5], 10 + hl);
  const p = newTcpHeader();
  assert.equal(parseTcp(big, p, 10, hl + 5), null);
  assert.equal(p.payloadOff, 10 + hl);
  assert.equal(p.payloadLen, 5);
  assert.deepEqual([...p.payload], [1, 2, 3, 4, 5]);
  assert.equal(p.payload.buffer, big.buffer);
  assert.equal(p.payload.byteOffset, big.byteOffset + 10 + hl);
});

test('header errors: truncated, bad data offset, bad options, bad ranges', () => {
  const h = newTcpHeader();
  assert.equal(parseTcp(LINUX_SYN.subarray(0, 19), h), 'truncated');
  assert.equal(parseTcp(LINUX_SYN.subarray(0, 39), h), 'bad-header-length'); // options run past the end
  assert.equal(parseTcp(LINUX_SYN, h, 0, 41), 'truncated'); // range beyond the buffer
  assert.equal(parseTcp(LINUX_SYN, h, -1, 20), 'truncated');
  assert.equal(parseTcp(LINUX_SYN, h, 30, -5), 'truncated');
  const low = LINUX_SYN.slice();
  low[12] = 0x40; // data offset 4 words
  assert.equal(parseTcp(low, h), 'bad-header-length');
  const badOpt = LINUX_SYN.slice();
  badOpt[21] = 5; // MSS length 5
  assert.equal(parseTcp(badOpt, h), 'bad-option');
});

const arbOption: fc.Arbitrary<TcpOption> = fc.oneof(
  fc.constant<TcpOption>({ kind: 'nop' }),
  fc.nat(0xffff).map<TcpOption>((mss) => ({ kind: 'mss', mss })),
  fc.nat(255).map<TcpOption>((shift) => ({ kind: 'wscale', shift })),
  fc.constant<TcpOption>({ kind: 'sackOk' }),
  fc
    .array(fc.nat(0xffffffff), { minLength: 1, maxLength: 4 })
    .map<TcpOption>((a) => ({ kind: 'sack', blocks: a.flatMap((x) => [x, (x + 100) >>> 0]) })),
  fc.tuple(fc.nat(0xffffffff), fc.nat(0xffffffff)).map<TcpOption>(([val, ecr]) => ({ kind: 'ts', val, ecr })),
  fc
    .tuple(fc.integer({ min: 9, max: 255 }), fc.uint8Array({ maxLength: 6 }))
    .map<TcpOption>(([code, data]) => ({ kind: 'unknown', code, data })),
);
const arbOptions = fc.array(arbOption, { maxLength: 8 }).filter((l) => tcpOptionListLen(l) <= 40);

const arbHeader = fc.record({
  srcPort: fc.nat(0xffff),
  dstPort: fc.nat(0xffff),
  seq: fc.nat(0xffffffff),
  ack: fc.nat(0xffffffff),
  flags: fc.nat(0xfff),
  window: fc.nat(0xffff),
  checksum: fc.nat(0xffff),
  urgent: fc.nat(0xffff),
});

function headerFrom(r: Partial<TcpHeader>): TcpHeader {
  return Object.assign(newTcpHeader(), r);
}

test('emit → parse → emit round-trips fields and bytes (explicit option lists)', () => {
  fc.assert(
    fc.property(
      arbHeader,
      arbOptions,
      fc.uint8Array({ maxLength: 64 }),
      fc.nat(8),
      (r, opts, payload, at) => {
        const h = headerFrom(r);
        const hl = tcpHeaderLen(h, opts);
        const buf = new Uint8Array(at + hl + payload.length + 3).fill(0x5a);
        assert.equal(emitTcp(h, buf, at, opts), hl);
        buf.set(payload, at + hl);
        const p = newTcpHeader();
        assert.equal(parseTcp(buf, p, at, hl + payload.length), null);
        for (const k of Object.keys(r) as (keyof typeof r)[]) assert.equal(p[k], r[k], k);
        assert.equal(p.dataOffset, hl);
        assert.equal(hex(p.payload), hex(payload));
        // Bytes → (fields + ordered option list) → bytes is the identity.
        const list = parseTcpOptionList(buf, at + 20, hl - 20);
        assert.ok(Array.isArray(list));
        const again = new Uint8Array(hl);
        assert.equal(emitTcp(p, again, 0, list as TcpOption[]), hl);
        assert.equal(hex(again), hex(buf.subarray(at, at + hl)));
      },
    ),
  );
});

test('emit from fields (Linux layout) → parse gives back the fields', () => {
  fc.assert(
    fc.property(
      arbHeader,
      fc.integer({ min: -1, max: 0xffff }),
      fc.integer({ min: -1, max: 14 }),
      fc.boolean(),
      fc.option(fc.tuple(fc.nat(0xffffffff), fc.nat(0xffffffff))),
      (r, mss, wscale, sackOk, ts) => {
        const h = headerFrom({ ...r, mss, wscale, sackOk, hasTs: ts !== null });
        if (ts) [h.tsVal, h.tsEcr] = ts;
        const buf = new Uint8Array(60);
        const hl = emitTcp(h, buf, 0);
        const p = newTcpHeader();
        assert.equal(parseTcp(buf, p, 0, hl), null);
        for (const k of [
          'mss',
          'wscale',
          'sackOk',
          'hasTs',
          'tsVal',
          'tsEcr',
          'seq',
          'ack',
          'flags',
        ] as const) {
          assert.equal(p[k], h[k], k);
        }
      },
    ),
  );
});

test('emit refuses options over 40 bytes and headers that do not fit', () => {
  const h = newTcpHeader();
  const opts: TcpOption[] = [
    { kind: 'ts', val: 0, ecr: 0 },
    { kind: 'ts', val: 0, ecr: 0 },
    { kind: 'ts', val: 0, ecr: 0 },
    { kind: 'ts', val: 0, ecr: 0 },
    { kind: 'nop' },
  ];
  assert.throws(() => emitTcp(h, new Uint8Array(100), 0, opts), RangeError);
  assert.throws(() => emitTcp(h, new Uint8Array(19), 0), RangeError);
  h.mss = 1460;
  assert.throws(() => emitTcp(h, new Uint8Array(30), 8), RangeError);
});

test('checksum fill and verify with IPv4 and IPv6 pseudo-headers', () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.nat(3),
      (v6, s, d, payload, at) => {
        const h = newTcpHeader();
        h.flags = TCP_ACK;
        h.hasTs = true;
        h.tsVal = 77;
        const buf = new Uint8Array(at + 32 + payload.length);
        const hl = emitTcp(h, buf, at);
        buf.set(payload, at + hl);
        const len = hl + payload.length;
        const src = v6 ? s : s.subarray(0, 4);
        const dst = v6 ? d : d.subarray(0, 4);
        const ps = v6 ? pseudoSumV6(src, dst, 6, len) : pseudoSumV4(src, dst, 6, len);
        tcpFillChecksum(buf, at, len, ps);
        assert.ok(tcpChecksumOk(buf, at, len, ps));
        buf[at + len - 1] ^= 1;
        assert.ok(!tcpChecksumOk(buf, at, len, ps));
      },
    ),
  );
  // A known value: the Linux SYN above from 198.18.0.1 to 198.18.0.2.
  const syn = LINUX_SYN.slice();
  const ps = pseudoSumV4(new Uint8Array([198, 18, 0, 1]), new Uint8Array([198, 18, 0, 2]), 6, syn.length);
  const c = tcpFillChecksum(syn, 0, syn.length, ps);
  // Reference: sum of all 16-bit words of pseudo-header + segment, computed independently.
  let sum = 0xc612 + 0x0001 + 0xc612 + 0x0002 + 6 + syn.length;
  const zeroed = LINUX_SYN.slice();
  for (let i = 0; i < zeroed.length; i += 2) sum += (zeroed[i] << 8) | zeroed[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  assert.equal(c, ~sum & 0xffff);
});

test('random bytes: never throw, stay in range, results within bounds', () => {
  const p = newTcpHeader();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 90 }), fc.nat(6), fc.nat(6), (raw, a, z) => {
      const lo = Math.min(a, raw.length);
      const hi = Math.max(lo, raw.length - z);
      const r = parseTcp(guarded(raw, lo, hi), p, lo, hi - lo);
      if (r === null || r === 'bad-option') {
        assert.ok(p.dataOffset >= 20 && p.dataOffset <= 60 && p.dataOffset % 4 === 0);
        assert.ok(p.payloadOff === lo + p.dataOffset && p.payloadOff + p.payloadLen === hi);
        assert.equal(p.payload.length, p.payloadLen);
        assert.ok(p.sackCount <= 4);
      } else {
        assert.ok(['truncated', 'bad-header-length'].includes(r), r);
      }
    }),
    { numRuns: 5000 },
  );
});

test('mutated valid segments: never throw or read out of range', () => {
  const p = newTcpHeader();
  fc.assert(
    fc.property(
      arbHeader,
      arbOptions,
      fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 5 }),
      fc.nat(20),
      (r, opts, muts, cut) => {
        const h = headerFrom(r);
        const hl = tcpHeaderLen(h, opts);
        const b = new Uint8Array(hl + 10);
        emitTcp(h, b, 0, opts);
        for (const [i, v] of muts) b[i % b.length] = v;
        const len = Math.max(0, b.length - cut);
        const res = parseTcp(guarded(b, 0, len), p, 0, len);
        assert.ok(res === null || typeof res === 'string');
        const l = parseTcpOptionList(
          guarded(b, 20, Math.max(20, len)),
          20,
          Math.max(0, Math.min(len, hl) - 20),
        );
        assert.ok(Array.isArray(l) || typeof l === 'string');
      },
    ),
    { numRuns: 3000 },
  );
});

test('the NOP,NOP,TS fast path agrees with the general option walk', () => {
  fc.assert(
    fc.property(arbHeader, fc.nat(0xffffffff), fc.nat(0xffffffff), (r, val, ecr) => {
      const h = headerFrom(r);
      const b = new Uint8Array(32);
      emitTcp(h, b, 0, [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'ts', val, ecr }]);
      const fast = newTcpHeader();
      assert.equal(parseTcp(b, fast), null);
      // Same options with a different layout (TS first, then two NOPs) take the general walk.
      const b2 = b.slice();
      emitTcp(h, b2, 0, [{ kind: 'ts', val, ecr }, { kind: 'nop' }, { kind: 'nop' }]);
      const slow = newTcpHeader();
      assert.equal(parseTcp(b2, slow), null);
      for (const k of [
        'hasTs',
        'tsVal',
        'tsEcr',
        'mss',
        'wscale',
        'sackOk',
        'sackCount',
        'unknownOptions',
      ] as const) {
        assert.equal(fast[k], slow[k], k);
      }
      assert.deepEqual([fast.hasTs, fast.tsVal, fast.tsEcr], [true, val, ecr]);
    }),
  );
});

test('bad-option still yields the whole header and payload, with the options Linux would use', () => {
  // MSS of length 5 (ignored by Linux), then NOP NOP TS: TS is still read.
  const opts = fromHex('0205 05b4 00' + '01 01 080a 00000007 00000009' + '000000');
  const seg = new Uint8Array(20 + opts.length + 3);
  const h = newTcpHeader();
  Object.assign(h, { srcPort: 7, dstPort: 9, seq: 100, ack: 200, flags: TCP_ACK, window: 1000 });
  emitTcp(h, seg, 0, [{ kind: 'unknown', code: 0xfe, data: new Uint8Array(opts.length - 2) }]);
  seg.set(opts, 20);
  seg.set([1, 2, 3], 20 + opts.length);
  const p = newTcpHeader();
  assert.equal(parseTcp(seg, p), 'bad-option');
  assert.deepEqual([p.srcPort, p.dstPort, p.seq, p.ack, p.flags, p.window], [7, 9, 100, 200, TCP_ACK, 1000]);
  assert.equal(p.mss, -1);
  assert.deepEqual([p.hasTs, p.tsVal, p.tsEcr], [true, 7, 9]);
  assert.deepEqual([...p.payload], [1, 2, 3]);
  // A length below 2 ends the walk: the TS after it is not read.
  const stop = seg.slice();
  stop.set(fromHex('1e01'), 20);
  assert.equal(parseTcp(stop, p), 'bad-option');
  assert.equal(p.hasTs, false);
  assert.equal(p.payloadLen, 3);
});
