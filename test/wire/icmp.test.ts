import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  emitIcmp,
  finishIcmp4,
  finishIcmp6,
  ICMP_DEST_UNREACH,
  ICMP_ECHO,
  ICMP_FRAG_NEEDED,
  ICMP_PARAMETERPROB,
  ICMPV6_ECHO_REQUEST,
  ICMPV6_PARAMPROB,
  ICMPV6_PKT_TOOBIG,
  icmp6ChecksumOk,
  isIcmp4Error,
  isIcmp6Error,
  newIcmpHeader,
  parseIcmp4,
  parseIcmp6,
} from '../../src/wire/icmp.js';
import { guarded } from './guard.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const SRC6 = Uint8Array.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const DST6 = Uint8Array.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);

test('ICMPv4 echo request: fields and checksum (as ping sends it)', () => {
  // Type 8, code 0, id 0x1c46, seq 1, 4 bytes of data; checksum 0x16f2 computed independently (python).
  const b = Uint8Array.from(Buffer.from('080016f21c46000161626364', 'hex'));
  const h = newIcmpHeader();
  assert.equal(parseIcmp4(b, h), null);
  assert.equal(h.type, ICMP_ECHO);
  assert.equal(h.id, 0x1c46);
  assert.equal(h.seq, 1);
  assert.equal(h.bodyOff, 8);
  assert.equal(h.bodyLen, 4);
  const out = new Uint8Array(12);
  emitIcmp(h, out, 0, 4);
  out.set(b.subarray(8), 8);
  finishIcmp4(out, 0, 12);
  assert.equal(hex(out), hex(b));
  b[9] ^= 1;
  assert.equal(parseIcmp4(b, h), 'bad-checksum');
  assert.equal(parseIcmp4(b, h, 0, b.length, false), null);
  assert.equal(parseIcmp4(b.subarray(0, 7), h), 'truncated');
});

test('ICMPv4 fragmentation needed carries the next-hop MTU (RFC 1191)', () => {
  const h = newIcmpHeader();
  h.type = ICMP_DEST_UNREACH;
  h.code = ICMP_FRAG_NEEDED;
  h.mtu = 1400;
  const b = new Uint8Array(8 + 28);
  emitIcmp(h, b, 0, 4);
  finishIcmp4(b, 0, b.length);
  assert.equal(hex(b.subarray(4, 8)), '00000578');
  const p = newIcmpHeader();
  assert.equal(parseIcmp4(b, p), null);
  assert.equal(p.mtu, 1400);
  assert.equal(p.bodyLen, 28);
  h.type = ICMP_PARAMETERPROB;
  h.code = 0;
  h.pointer = 9;
  emitIcmp(h, b, 0, 4);
  finishIcmp4(b, 0, b.length);
  assert.equal(parseIcmp4(b, p), null);
  assert.equal(p.pointer, 9);
  assert.ok(isIcmp4Error(3) && isIcmp4Error(11) && !isIcmp4Error(8) && !isIcmp4Error(0));
});

test('ICMPv6: echo, packet too big, parameter problem; checksum covers the pseudo-header', () => {
  const h = newIcmpHeader();
  h.type = ICMPV6_PKT_TOOBIG;
  h.code = 0;
  h.mtu = 1280;
  const b = new Uint8Array(8 + 48);
  emitIcmp(h, b, 0, 6);
  finishIcmp6(b, 0, b.length, SRC6, DST6);
  assert.ok(icmp6ChecksumOk(b, 0, b.length, SRC6, DST6));
  assert.ok(!icmp6ChecksumOk(b, 0, b.length, DST6, DST6), 'other addresses do not verify');
  const p = newIcmpHeader();
  assert.equal(parseIcmp6(b, p, SRC6, DST6), null);
  assert.equal(p.mtu, 1280);
  assert.equal(parseIcmp6(b, p, SRC6, SRC6), 'bad-checksum');
  h.type = ICMPV6_PARAMPROB;
  h.code = 1;
  h.pointer = 40;
  emitIcmp(h, b, 0, 6);
  finishIcmp6(b, 0, b.length, SRC6, DST6);
  assert.equal(parseIcmp6(b, p, SRC6, DST6), null);
  assert.equal(p.pointer, 40);
  assert.ok(isIcmp6Error(1) && isIcmp6Error(2) && !isIcmp6Error(128));
});

test('property: emit → parse → emit round-trips for every type (v4 and v6)', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(4 as const, 6 as const),
      fc.nat(255),
      fc.nat(255),
      fc.nat(0xffffffff),
      fc.nat(0xffff),
      fc.nat(0xffff),
      fc.uint8Array({ maxLength: 64 }),
      fc.nat(5),
      (family, type, code, rest, id, seq, body, at) => {
        const h = newIcmpHeader();
        h.type = type;
        h.code = code;
        h.rest = rest;
        h.id = id;
        h.seq = seq;
        h.mtu = family === 4 ? rest & 0xffff : rest;
        h.pointer = family === 4 ? rest >>> 24 : rest;
        const len = 8 + body.length;
        const b = new Uint8Array(at + len);
        emitIcmp(h, b, at, family);
        b.set(body, at + 8);
        if (family === 4) finishIcmp4(b, at, len);
        else finishIcmp6(b, at, len, SRC6, DST6);
        const p = newIcmpHeader();
        const r = family === 4 ? parseIcmp4(b, p, at) : parseIcmp6(b, p, SRC6, DST6, at);
        assert.equal(r, null);
        assert.equal(p.type, type);
        assert.equal(p.code, code);
        if ((family === 4 && (type === 0 || type === 8)) || (family === 6 && (type === 128 || type === 129)))
          assert.deepEqual([p.id, p.seq], [id, seq]);
        const again = new Uint8Array(len);
        emitIcmp(p, again, 0, family);
        again.set(body, 8);
        if (family === 4) finishIcmp4(again, 0, len);
        else finishIcmp6(again, 0, len, SRC6, DST6);
        assert.equal(hex(again), hex(b.subarray(at)));
      },
    ),
    { numRuns: 3000 },
  );
});

test('property: random bytes never throw nor read out of bounds', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 64 }),
      fc.nat(4),
      fc.nat(4),
      fc.boolean(),
      (raw, cutLo, cutHi, v6) => {
        const lo = Math.min(cutLo, raw.length);
        const hi = Math.max(lo, raw.length - cutHi);
        const h = newIcmpHeader();
        const g = guarded(raw, lo, hi);
        const r = v6 ? parseIcmp6(g, h, SRC6, DST6, lo, hi - lo) : parseIcmp4(g, h, lo, hi - lo);
        if (r === null) assert.equal(h.bodyOff + h.bodyLen, hi);
      },
    ),
    { numRuns: 5000 },
  );
  void ICMPV6_ECHO_REQUEST;
});
