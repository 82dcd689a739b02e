import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Sysctl } from '../../src/sysctl.js';
import {
  chooseRttSample,
  LINUX_JIFFY_MS,
  RttEstimator as Rtt,
  TCP_MIN_RTT_WLEN,
  TCP_RTO_MAX,
  TCP_RTO_MIN,
  TCP_TIMEOUT_FALLBACK,
  TCP_TIMEOUT_INIT,
  tsRttSample,
} from '../../src/tcp/rtt.js';

/** Exact RFC 6298 arithmetic (no tick rounding) unless a test asks for ticks. */
class RttEstimator extends Rtt {
  constructor(rtoMin = TCP_RTO_MIN, rtoMax = TCP_RTO_MAX, wlen = TCP_MIN_RTT_WLEN, tick = 0) {
    super(rtoMin, rtoMax, wlen, tick);
  }
}

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

test('initial RTO is 1 s and the timer runs that long', () => {
  const r = new RttEstimator();
  assert.equal(r.rto, TCP_TIMEOUT_INIT);
  assert.equal(r.timeout(), 1000);
  assert.equal(r.hasSample, false);
});

test('first sample: SRTT = R, RTTVAR = R/2, RTO = R + max(200 ms, 2R) (RFC 6298 §2.2)', () => {
  const a = new RttEstimator();
  a.sample(100, 0, 2, 10);
  assert.equal(a.srtt, 100);
  assert.equal(a.rttvar, 50);
  assert.equal(a.rto, 300); // 4·RTTVAR = 200 = rto_min
  const b = new RttEstimator();
  b.sample(300, 0, 2, 10);
  assert.equal(b.rto, 900); // 3R when 4·RTTVAR is above the floor
});

test('loopback-sized RTT gives RTO = SRTT + 200 ms, in whole jiffies as `ss -ti` shows it', () => {
  const r = new RttEstimator();
  r.sample(0.03, 0, 1, 2);
  close(r.rto, 200.03);
  for (let i = 0; i < 100; i++) r.sample(0.03, i, 2 + i, 3 + i);
  close(r.rto, 200.03, 1e-6);
  // The reference machine (HZ=250) shows rto:204 for srtt 11 µs; a HZ=1000 kernel rto:201.
  const k = new Rtt();
  assert.equal(k.tick, LINUX_JIFFY_MS);
  k.sample(0.011, 0, 1, 2);
  assert.equal(k.rto, 204);
  const k1000 = new Rtt(TCP_RTO_MIN, TCP_RTO_MAX, TCP_MIN_RTT_WLEN, 1);
  k1000.sample(0.011, 0, 1, 2);
  assert.equal(k1000.rto, 201);
  // Exact multiples stay: R = 100 ms → 300 ms.
  const m = new Rtt();
  m.sample(100, 0, 1, 2);
  assert.equal(m.rto, 300);
});

test('later samples follow RFC 6298 §2.3 with alpha 1/8, beta 1/4', () => {
  const r = new RttEstimator();
  r.sample(100, 0, 1, 100);
  r.sample(140, 1, 2, 100); // same round trip
  // RTTVAR = 3/4·50 + 1/4·|100−140| = 47.5; SRTT = 7/8·100 + 1/8·140 = 105
  close(r.rttvar, 47.5);
  close(r.srtt, 105);
  // Variance term keeps the larger 4·RTTVAR of this round trip (200).
  close(r.rto, 105 + 200);
});

test('RTO rises at once with a larger variance but decays only once per round trip', () => {
  const r = new RttEstimator();
  let una = 1;
  let nxt = 2;
  // Settle at 100 ms over many round trips (each sample ends a round trip).
  for (let i = 0; i < 200; i++) r.sample(100, i, una++, ++nxt);
  close(r.rto, 300, 1e-3); // SRTT 100 + floor 200
  // A spike: RTTVAR = ~0 + 400/4 = 100 → 4·RTTVAR = 400 used at once.
  nxt += 1000;
  r.sample(500, 300, una, nxt); // ends the round trip started earlier, new rttSeq = nxt
  const afterSpike = r.rto;
  close(r.srtt, 150, 1e-3);
  assert.ok(afterSpike > 540 && afterSpike < 551, String(afterSpike));
  // Calm samples inside the same round trip (snd_una below rttSeq): no decay.
  const v = r.rtoVar;
  for (let i = 0; i < 5; i++) r.sample(100, 301 + i, una + 1 + i, nxt);
  assert.equal(r.rtoVar, v);
  // The round trip ends: decay by a quarter of the gap to this RTT's max.
  const before = r.rtoVar;
  r.sample(100, 400, nxt, nxt + 10);
  const maxThisRtt = Math.max(200, 4 * r.rttvar);
  assert.ok(r.rtoVar < before);
  assert.ok(r.rtoVar > maxThisRtt);
});

test('a sudden drop in RTT moves RTTVAR with reduced weight', () => {
  const r = new RttEstimator();
  let una = 1;
  for (let i = 0; i < 100; i++) r.sample(100, i, una, ++una);
  const v0 = r.rttvar;
  const s0 = r.srtt;
  r.sample(10, 200, una, ++una);
  const err = Math.abs(s0 - 10);
  close(r.rttvar, v0 + (err - v0) / 32);
  // An increase of the same size uses the full 1/4 weight.
  const q = new RttEstimator();
  una = 1;
  for (let i = 0; i < 100; i++) q.sample(100, i, una, ++una);
  const w0 = q.rttvar;
  q.sample(190, 200, una, ++una);
  close(q.rttvar, w0 + (90 - w0) / 4);
});

test('RTO is capped at tcp_rto_max_ms', () => {
  const r = new RttEstimator();
  r.sample(100_000, 0, 1, 2);
  assert.equal(r.rto, TCP_RTO_MAX);
});

test('exponential backoff doubles the timer up to 120 s; a valid sample ends it (Karn)', () => {
  const r = new RttEstimator();
  r.sample(100, 0, 1, 2); // rto 300
  const seen: number[] = [];
  for (let i = 0; i < 12; i++) {
    seen.push(r.timeout());
    r.backOff();
  }
  assert.deepEqual(seen.slice(0, 5), [300, 600, 1200, 2400, 4800]);
  assert.equal(seen[11], 120000);
  assert.equal(r.backoff, 12);
  r.sample(100, 10, 3, 4);
  assert.equal(r.backoff, 0);
  assert.ok(r.timeout() < 400);
  r.backOff();
  r.resetBackoff();
  assert.equal(r.backoff, 0);
});

test('handshake with a retransmitted SYN and no sample starts at 3 s (RFC 6298 §5.7)', () => {
  const a = new RttEstimator();
  a.afterHandshake(true);
  assert.equal(a.rto, TCP_TIMEOUT_FALLBACK);
  const b = new RttEstimator();
  b.afterHandshake(false);
  assert.equal(b.rto, TCP_TIMEOUT_INIT);
  const c = new RttEstimator();
  c.sample(50, 0, 1, 2); // e.g. from a timestamp echo
  c.afterHandshake(true);
  assert.equal(c.rto, 250);
});

test('invalid samples are ignored', () => {
  const r = new RttEstimator();
  r.sample(-1, 0, 1, 2);
  r.sample(Number.NaN, 0, 1, 2);
  r.sample(Number.POSITIVE_INFINITY, 0, 1, 2);
  assert.equal(r.hasSample, false);
  assert.equal(r.rto, 1000);
});

test('timestamp samples (RFC 7323 §4.1) wrap around and reject zero or future echoes', () => {
  assert.equal(tsRttSample(1000, 990), 10);
  assert.equal(tsRttSample(5, 0xfffffff0), 21);
  assert.equal(tsRttSample(1000, 0), -1);
  assert.equal(tsRttSample(1000, 1001), -1);
  // Karn: the sequence-timed sample wins; the echo is used for retransmitted data.
  assert.equal(chooseRttSample(12, 30), 12);
  assert.equal(chooseRttSample(-1, 30), 30);
  assert.equal(chooseRttSample(-1, -1), -1);
});

test('windowed minimum RTT (tcp_min_rtt_wlen)', () => {
  const r = new RttEstimator(200, 120000, 1000);
  r.sample(50, 0, 1, 2);
  r.sample(80, 10, 2, 3);
  assert.equal(r.minRtt, 50);
  r.sample(40, 20, 3, 4);
  assert.equal(r.minRtt, 40);
  r.sample(90, 2000, 4, 5); // the 40 ms minimum has expired
  assert.equal(r.minRtt, 90);
});

test('fromSysctl reads tcp_rto_min_us, tcp_rto_max_ms, tcp_min_rtt_wlen', () => {
  const s = new Sysctl({ 'net.ipv4.tcp_rto_min_us': 50000, 'net.ipv4.tcp_rto_max_ms': 60000 });
  const r = Rtt.fromSysctl(s.v);
  assert.equal(r.rtoMin, 50);
  assert.equal(r.rtoMax, 60000);
  assert.equal(r.minRttWindow, 300000);
  r.sample(10, 0, 1, 2);
  assert.equal(r.rto, 60);
  r.sample(10.5, 1, 2, 3);
  assert.equal(r.rto % LINUX_JIFFY_MS, 0);
  assert.equal(new RttEstimator().rtoMin, TCP_RTO_MIN);
});

test('property: RTO stays within [SRTT + rto_min, rto_max] for any sample sequence', () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 0, max: 200000, noNaN: true }), { minLength: 1, maxLength: 200 }),
      (xs) => {
        const r = new RttEstimator();
        let una = 0;
        for (let i = 0; i < xs.length; i++) {
          r.sample(xs[i], i, una, una + 3);
          una += i % 3;
          assert.ok(r.rto <= TCP_RTO_MAX);
          assert.ok(r.rto >= Math.min(TCP_RTO_MAX, r.srtt + TCP_RTO_MIN) - 1e-9);
          assert.ok(r.rttvar >= 0 && r.srtt >= 0);
        }
      },
    ),
  );
});
