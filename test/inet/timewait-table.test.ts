import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { newTimeWaitInit, TCP_TIMEWAIT_LEN, TimeWaitTable } from '../../src/inet/timewait-table.js';
import { TimerWheel } from '../../src/time/timer-wheel.js';
import { u32ToV4 } from '../../src/wire/addr.js';
import { A } from './helpers.js';

function entry(l: number, lport: number, r: number, rport: number) {
  const e = newTimeWaitInit();
  e.laddr = u32ToV4(l);
  e.raddr = u32ToV4(r);
  e.lport = lport;
  e.rport = rport;
  e.sndNxt = l ^ lport;
  e.rcvNxt = r ^ rport;
  e.hasTs = true;
  e.tsRecent = 42;
  return e;
}

test('an IPv4 entry costs 72 bytes, chain heads and timer included; IPv6 96', () => {
  const w = new TimerWheel(0);
  const t4 = new TimeWaitTable(1, w, 1, 1 << 20);
  assert.equal(t4.bytes / t4.capacity, 72);
  assert.ok(t4.bytes / t4.capacity <= 80);
  const t6 = new TimeWaitTable(4, w, 1, 1024);
  assert.equal(t6.bytes / t6.capacity, 96);
  // One shared wheel handle per table, none per TIME_WAIT entry.
  const before = w.allocatedCount;
  for (let i = 0; i < 1000; i++) t4.insert(entry(0xc6120001, 1000 + i, 0xc6120002, 80), 0);
  assert.equal(w.allocatedCount, before);
});

test('find by 4-tuple, remove, reuse of rows, growth keeps everything findable', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(
        fc.tuple(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 65535 }), fc.nat(3)),
        {
          minLength: 1,
          maxLength: 300,
          selector: (x) => `${x[0]}:${x[1]}:${x[2]}`,
        },
      ),
      fc.array(fc.nat(299), { maxLength: 100 }),
      (tuples, removals) => {
        const t = new TimeWaitTable(1, new TimerWheel(0), 7, 16);
        const rows = tuples.map(([lp, rp, h]) => t.insert(entry(0xc6120001, lp, 0xc6120010 + h, rp), 0));
        const gone = new Set<number>();
        for (const k of removals) {
          if (k >= rows.length || gone.has(k)) continue;
          t.remove(rows[k]);
          gone.add(k);
        }
        tuples.forEach(([lp, rp, h], k) => {
          const i = t.find(u32ToV4(0xc6120001), lp, u32ToV4(0xc6120010 + h), rp);
          if (gone.has(k)) assert.equal(i, -1);
          else {
            assert.equal(i, rows[k]);
            assert.equal(t.sndNxt[i], (0xc6120001 ^ lp) >>> 0);
          }
        });
        assert.equal(t.size, tuples.length - gone.size);
      },
    ),
    { numRuns: 60 },
  );
});

test('IPv6 table and v4-mapped lookups', () => {
  const w = new TimerWheel(0);
  const t6 = new TimeWaitTable(4, w, 3);
  const t4 = new TimeWaitTable(1, w, 3);
  const e = newTimeWaitInit();
  e.laddr = A('fd00::1');
  e.raddr = A('fd00::2');
  e.lport = 1;
  e.rport = 2;
  const i = t6.insert(e, 0);
  assert.equal(t6.find(A('fd00::1'), 1, A('fd00::2'), 2), i);
  assert.equal(t6.find(A('fd00::1'), 1, A('fd00::3'), 2), -1);
  assert.deepEqual(t6.copyRaddr(i, new Uint8Array(16)), A('fd00::2'));
  e.laddr = A('::ffff:198.18.0.1');
  e.raddr = A('::ffff:198.18.0.2');
  const j = t4.insert(e, 0);
  assert.equal(t4.find(A('198.18.0.1'), 1, A('198.18.0.2'), 2), j);
  assert.equal(t4.find(A('::ffff:198.18.0.1'), 1, A('::ffff:198.18.0.2'), 2), j);
});

test('TIME_WAIT timers: 60 s, re-arm moves the deadline, expiry in order, FIN_WAIT2 own timeout then 60 s', () => {
  const w = new TimerWheel(0);
  const t = new TimeWaitTable(1, w, 1);
  const expired: [number, number][] = [];
  let now = 0;
  t.onExpire = (tt, i) => {
    expired.push([tt.lport(i), now]);
    tt.remove(i);
  };
  const step = (to: number) => {
    now = to;
    w.advance(to);
  };
  const a = t.insert(entry(1, 1, 2, 2), 0);
  const b = t.insert(entry(1, 2, 2, 2), 10);
  const fw = newTimeWaitInit();
  Object.assign(fw, entry(1, 3, 2, 2), { finWait2: true, timeout: 30_000 });
  const c = t.insert(fw, 20);
  assert.equal(t.finWait2Count, 1);
  assert.equal(t.expiresAt(a, 0), TCP_TIMEWAIT_LEN);
  step(5000);
  t.rearm(a, 5000); // a now after b
  assert.equal(t.expiresAt(a, 5000), 65_000);
  step(30_019);
  assert.deepEqual(expired, []);
  step(30_020);
  assert.deepEqual(expired, [[3, 30_020]]);
  step(60_010);
  assert.deepEqual(expired.at(-1), [2, 60_010]);
  assert.equal(expired.length, 2);
  step(64_999);
  assert.equal(expired.length, 2);
  step(65_000);
  assert.deepEqual(expired.at(-1), [1, 65_000]);
  assert.equal(t.size, 0);
  assert.equal(w.size, 0, 'nothing left armed');
  void b;
  void c;
});

test('FIN_WAIT2 → TIME_WAIT frees the entry wheel handle and starts 60 s', () => {
  const w = new TimerWheel(0);
  const t = new TimeWaitTable(1, w, 1);
  const fw = newTimeWaitInit();
  Object.assign(fw, entry(1, 3, 2, 2), { finWait2: true, timeout: 60_000 });
  const handles = w.allocatedCount;
  const i = t.insert(fw, 0);
  assert.equal(w.allocatedCount, handles + 1);
  t.enterTimeWait(i, 1000);
  assert.equal(w.allocatedCount, handles);
  assert.equal(t.isFinWait2(i), false);
  assert.equal(t.expiresAt(i, 1000), 61_000);
});

test('out-of-window ACK rate limit: once per tcp_invalid_ratelimit', () => {
  const t = new TimeWaitTable(1, new TimerWheel(0), 1);
  const i = t.insert(entry(1, 1, 2, 2), 0);
  assert.equal(t.oowRateLimited(i, 0, 500), false);
  assert.equal(t.oowRateLimited(i, 499, 500), true);
  assert.equal(t.oowRateLimited(i, 500, 500), false);
  assert.equal(t.oowRateLimited(i, 600, 500), true);
});
