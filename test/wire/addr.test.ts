import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  addrEquals,
  formatAddr,
  isLoopback,
  isUnspecified,
  isV4,
  isV4Mapped,
  maskAddr,
  parseAddr,
  parsePrefix,
  prefixMatch,
  u32ToV4,
  v4Mapped,
  v4MappedToV4,
  v4ToU32,
} from '../../src/wire/addr.js';

const hex = (a: Uint8Array | null) => (a === null ? null : Buffer.from(a).toString('hex'));

test('IPv4 dotted quads: accepted and rejected forms', () => {
  assert.equal(hex(parseAddr('198.18.0.1')), 'c6120001');
  assert.equal(hex(parseAddr('0.0.0.0')), '00000000');
  assert.equal(hex(parseAddr('255.255.255.255')), 'ffffffff');
  for (const bad of [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4',
    '1..2.3',
    '1.2.3.4.',
    ' 1.2.3.4',
    'a.b.c.d',
    '1.2.3.-4',
  ]) {
    assert.equal(parseAddr(bad), null, bad);
  }
});

test('IPv6 text forms of RFC 4291 §2.2', () => {
  const cases: [string, string][] = [
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['1::', '00010000000000000000000000000000'],
    ['2001:DB8:0:0:8:800:200C:417A', '20010db80000000000080800200c417a'],
    ['2001:db8::8:800:200c:417a', '20010db80000000000080800200c417a'],
    ['ff01::101', 'ff010000000000000000000000000101'],
    ['::13.1.68.3', '0000000000000000000000000d014403'],
    ['::ffff:129.144.52.38', '00000000000000000000ffff81903426'],
    ['0:0:0:0:0:FFFF:129.144.52.38', '00000000000000000000ffff81903426'],
    ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
    ['1:2:3:4:5:6:7::', '00010002000300040005000600070000'],
    ['::2:3:4:5:6:7:8', '00000002000300040005000600070008'],
    ['fd00::1:2', 'fd000000000000000000000000010002'],
  ];
  for (const [s, h] of cases) assert.equal(hex(parseAddr(s)), h, s);
  for (const bad of [
    ':',
    ':::',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    '1::2::3',
    '12345::',
    '::g',
    '1:2:3:4:5:6:7:8::',
    '::1:2:3:4:5:6:7:8',
    '1.2.3.4::',
    '::1.2.3',
    '::1.2.3.4:5',
    ':1::',
    '1:',
    'fe80::1%eth0',
    '1:2:3:4:5:6:1.2.3.4:7',
  ]) {
    assert.equal(parseAddr(bad), null, bad);
  }
});

test('RFC 5952 canonical output', () => {
  const cases: [string, string][] = [
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // §4.2.2: one zero group is not compressed
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // §4.2.3: longest run
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // §4.2.3: first of equal runs
    ['2001:DB8::AbCd', '2001:db8::abcd'], // §4.3 lower case
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['0:0:0:0:0:ffff:c612:1', '::ffff:198.18.0.1'], // §5 mapped IPv4
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ];
  for (const [i, o] of cases) assert.equal(formatAddr(parseAddr(i)!), o, i);
  assert.equal(formatAddr(new Uint8Array([198, 18, 0, 1])), '198.18.0.1');
});

test('format → parse round-trips every address; canonical text is a fixed point', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
      ),
      (a) => {
        const s = formatAddr(a);
        const back = parseAddr(s);
        assert.ok(back !== null && addrEquals(back, a), s);
        assert.equal(formatAddr(back!), s);
      },
    ),
  );
  // Addresses with many zero runs exercise the compression choice.
  fc.assert(
    fc.property(fc.array(fc.constantFrom(0, 0, 0, 1, 0xffff), { minLength: 8, maxLength: 8 }), (words) => {
      const a = new Uint8Array(16);
      words.forEach((w, i) => {
        a[2 * i] = w >>> 8;
        a[2 * i + 1] = w & 0xff;
      });
      const s = formatAddr(a);
      assert.ok(addrEquals(parseAddr(s)!, a), s);
      assert.ok(!s.includes(':::'));
    }),
  );
});

test('parseAddr never throws on arbitrary strings', () => {
  fc.assert(
    fc.property(
      fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEFg:.:/% '.split('')), maxLength: 50 }),
      (s) => {
        const a = parseAddr(s);
        assert.ok(a === null || a.length === 4 || a.length === 16);
      },
    ),
  );
});

test('families, mapped addresses, loopback, unspecified', () => {
  const v4 = parseAddr('127.0.0.1')!;
  assert.ok(isV4(v4) && isLoopback(v4) && !isUnspecified(v4));
  assert.ok(isLoopback(parseAddr('127.255.0.9')!));
  assert.ok(isLoopback(parseAddr('::1')!));
  assert.ok(!isLoopback(parseAddr('::2')!));
  assert.ok(!isLoopback(parseAddr('::ffff:127.0.0.1')!));
  assert.ok(isUnspecified(parseAddr('0.0.0.0')!) && isUnspecified(parseAddr('::')!));
  const m = v4Mapped(parseAddr('198.18.0.7')!);
  assert.equal(formatAddr(m), '::ffff:198.18.0.7');
  assert.ok(isV4Mapped(m) && !isV4(m));
  assert.equal(formatAddr(v4MappedToV4(m)!), '198.18.0.7');
  assert.equal(v4MappedToV4(parseAddr('::1')!), null);
  assert.equal(v4ToU32(parseAddr('198.18.0.1')!), 0xc6120001);
  assert.equal(formatAddr(u32ToV4(0xc6120001)), '198.18.0.1');
});

test('prefixes: parse, match, mask', () => {
  const p = parsePrefix('198.18.0.1/24')!;
  assert.equal(formatAddr(p.addr), '198.18.0.1');
  assert.equal(p.len, 24);
  assert.ok(prefixMatch(parseAddr('198.18.0.200')!, p.addr, p.len));
  assert.ok(!prefixMatch(parseAddr('198.18.1.1')!, p.addr, p.len));
  assert.ok(!prefixMatch(parseAddr('::1')!, p.addr, 0)); // family mismatch
  assert.deepEqual(parsePrefix('fd00::1/64')?.len, 64);
  assert.equal(parsePrefix('10.0.0.1')?.len, 32);
  assert.equal(parsePrefix('::1')?.len, 128);
  for (const bad of ['1.2.3.4/33', '1.2.3.4/', '1.2.3.4/-1', '1.2.3.4/08', '::/129', 'x/8', '1.2.3.4/1/2']) {
    assert.equal(parsePrefix(bad), null, bad);
  }
  assert.equal(formatAddr(maskAddr(parseAddr('198.18.7.9')!, 15)), '198.18.0.0');
  assert.equal(formatAddr(maskAddr(parseAddr('fd00:1:2:3:4:5:6:7')!, 64)), 'fd00:1:2:3::');
});

test('prefixMatch agrees with a bit-by-bit reference', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.nat(128),
      (a, b, len) => {
        let same = true;
        for (let i = 0; i < len; i++) {
          const bit = (x: Uint8Array) => (x[i >>> 3] >>> (7 - (i & 7))) & 1;
          if (bit(a) !== bit(b)) same = false;
        }
        assert.equal(prefixMatch(a, b, len), same);
        // b agrees with a on the first len bits once a's prefix is copied in.
        const c = maskAddr(a, len);
        assert.ok(prefixMatch(a, c, len));
      },
    ),
  );
});
