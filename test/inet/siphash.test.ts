import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InetSecrets } from '../../src/inet/secrets.js';
import { SipHash } from '../../src/inet/siphash.js';
import { Rng } from '../../src/rng.js';
import { mustParseAddr } from '../../src/wire/addr.js';

const hex = (s: SipHash) => s.hi.toString(16).padStart(8, '0') + s.lo.toString(16).padStart(8, '0');

test('SipHash-2-4 matches the reference vectors (key 00..0f, message 00..n-1)', () => {
  const key = new Uint32Array(4);
  const kb = new Uint8Array(key.buffer);
  for (let i = 0; i < 16; i++) kb[i] = i;
  // From the SipHash paper / reference implementation's vectors.h.
  const want: Record<number, string> = {
    0: '726fdb47dd0e0e31',
    1: '74f839c593dc67fd',
    7: 'ab0200f58b01d137',
    8: '93f5f5799a932462',
    15: 'a129ca6149be45e5',
  };
  const s = new SipHash();
  for (const [n, h] of Object.entries(want)) {
    s.begin(key);
    for (let i = 0; i < Number(n); i++) s.byte(i);
    s.finish();
    assert.equal(hex(s), h, `length ${n}`);
  }
});

test('u32() feeds the same bytes as byte() (little-endian)', () => {
  const key = new Uint32Array([1, 2, 3, 4]);
  const a = new SipHash().begin(key);
  const b = new SipHash().begin(key);
  const words = [0xdeadbeef, 0x01020304, 0xffffffff];
  a.byte(7); // unaligned start exercises the slow path
  b.byte(7);
  for (const w of words) {
    a.u32(w);
    for (let k = 0; k < 4; k++) b.byte((w >>> (8 * k)) & 0xff);
  }
  a.finish();
  b.finish();
  assert.equal(hex(a), hex(b));
});

test('ISN: keyed per 4-tuple, advancing 250 per ms (4 µs clock); same seed, same numbers', () => {
  const l = mustParseAddr('198.18.0.1');
  const r = mustParseAddr('198.18.0.2');
  const s1 = new InetSecrets(new Rng(7));
  const s2 = new InetSecrets(new Rng(7));
  const s3 = new InetSecrets(new Rng(8));
  assert.equal(s1.isn(l, 40000, r, 80, 0), s2.isn(l, 40000, r, 80, 0));
  assert.notEqual(s1.isn(l, 40000, r, 80, 0), s3.isn(l, 40000, r, 80, 0));
  assert.notEqual(s1.isn(l, 40000, r, 80, 0), s1.isn(l, 40001, r, 80, 0));
  assert.equal((s1.isn(l, 40000, r, 80, 1000) - s1.isn(l, 40000, r, 80, 0)) >>> 0, 250_000);
  // v4-mapped and plain IPv4 are the same connection on the wire.
  assert.equal(
    s1.isn(mustParseAddr('::ffff:198.18.0.1'), 1, mustParseAddr('::ffff:198.18.0.2'), 2, 5),
    s1.isn(l, 1, r, 2, 5),
  );
});

test('timestamp offset depends on the address pair only', () => {
  const s = new InetSecrets(new Rng(1));
  const a = mustParseAddr('198.18.0.1');
  const b = mustParseAddr('198.18.0.2');
  const c = mustParseAddr('198.18.0.3');
  assert.equal(s.tsOffset(a, b), s.tsOffset(a, b));
  assert.notEqual(s.tsOffset(a, b), s.tsOffset(a, c));
  assert.notEqual(s.tsOffset(a, b), s.tsOffset(b, a));
});

test('the remembered last tsOffset/portOffset answers and ISN hash state equal a fresh computation, whatever the order of calls', () => {
  const addrs = ['198.18.0.1', '198.18.0.2', '::ffff:198.18.0.1', '2001:db8::1', '2001:db8::2'].map((a) =>
    mustParseAddr(a),
  );
  const memo = new InetSecrets(new Rng(9));
  let seed = 1;
  for (let k = 0; k < 400; k++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const l = addrs[seed % 5];
    const r = addrs[(seed >>> 8) % 5];
    const rport = [80, 443][(seed >>> 16) & 1];
    // A fresh instance (same key, nothing remembered) is the reference.
    const fresh = new InetSecrets(new Rng(9));
    assert.equal(memo.tsOffset(l, r), fresh.tsOffset(l, r));
    assert.equal(memo.portOffset(l, r, rport), fresh.portOffset(l, r, rport));
    assert.equal(memo.portOffsetHi, fresh.portOffsetHi);
    const lport = 32768 + ((seed >>> 4) & 0x3fff);
    assert.equal(memo.isn(l, lport, r, rport, k), fresh.isn(l, lport, r, rport, k));
  }
});
