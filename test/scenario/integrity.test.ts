/**
 * Integrity and link use under impairment (issue 3, "How it is judged").
 *
 * - A bulk transfer in each direction at once over a wire with 2% random
 *   loss, 1% reordering, 1% duplication and 0.1% corruption finishes
 *   byte-exact (SHA-256 of what was sent = SHA-256 of what was received).
 *   Size per direction: 8 MiB by default; USNET_FULL=1 runs the issue's
 *   256 MiB; USNET_INTEGRITY_MIB=<n> picks any size.
 * - Over a 100 Mbit/s bottleneck with 10 ms one-way delay, Reno keeps the
 *   link at least 80% busy once past slow start (virtual time: a property
 *   of the congestion control, deterministic, not a timing assertion).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BulkReceiver, BulkSender, connectPair, duplexTransfer } from './transfer-harness.js';

const MiB = 1 << 20;
const FULL = process.env.USNET_FULL === '1';
const SIZE = process.env.USNET_INTEGRITY_MIB
  ? Number(process.env.USNET_INTEGRITY_MIB) * MiB
  : FULL
    ? 256 * MiB
    : 8 * MiB;

const IMPAIRED = { delay: 1, loss: 0.02, reorder: 0.01, reorderDelay: 3, duplicate: 0.01, corrupt: 0.001 };

test(`duplex ${SIZE / MiB} MiB each way over 2% loss, reordering, 1% duplication, 0.1% corruption is byte-exact`, (t) => {
  const p = connectPair({ wire: { ...IMPAIRED, seed: 11 } });
  const t0 = performance.now();
  const r = duplexTransfer(p, SIZE, { timeoutMs: 24 * 3600_000 });
  const realMs = performance.now() - t0;
  t.diagnostic(
    `${SIZE / MiB} MiB each way: ${(realMs / 1000).toFixed(1)} s real, ${(r.virtualMs / 1000).toFixed(1)} s virtual`,
  );
  assert.equal(r.aToB.sent, SIZE);
  assert.equal(r.bToA.sent, SIZE);
  assert.equal(r.aToB.received, SIZE);
  assert.equal(r.bToA.received, SIZE);
  assert.equal(r.aToB.digestReceived, r.aToB.digestSent);
  assert.equal(r.bToA.digestReceived, r.bToA.digestSent);
  assert.ok(r.ok);
  // The impairments really happened, and corrupted segments were caught by checksums.
  for (const st of [p.wire.statsAToB, p.wire.statsBToA]) {
    assert.ok(st.dropped.loss > 0, 'loss');
    assert.ok(st.duplicated > 0, 'duplication');
    assert.ok(st.reordered > 0, 'reordering');
    assert.ok(st.corrupted > 0, 'corruption');
  }
  const csum = (s: typeof p.a) =>
    s.counters.get('TcpInCsumErrors') + s.counters.get('IpExtInCsumErrors') + s.counters.get('IpInHdrErrors');
  assert.ok(csum(p.a) + csum(p.b) > 0, 'corrupted frames were counted as checksum/header errors');
  assert.ok(p.a.counters.get('TcpRetransSegs') > 0 && p.b.counters.get('TcpRetransSegs') > 0);
});

test('several seeds, 1 MiB each way, impaired wire: byte-exact with SACK recovery and with NewReno', () => {
  for (const seed of [1, 2, 3, 4]) {
    for (const sack of [1, 0]) {
      const sysctl = { 'net.ipv4.tcp_sack': sack };
      const p = connectPair({
        wire: { ...IMPAIRED, seed },
        a: { seed: seed * 7, sysctl },
        b: { seed: seed * 13, sysctl },
      });
      assert.equal((p.ca.info().tcpi_options & 2) !== 0, sack === 1, 'SACK negotiated as configured');
      const r = duplexTransfer(p, MiB + seed * 4099);
      assert.ok(r.ok, `seed ${seed} sack ${sack}: ${JSON.stringify(r)}`);
      const fast = p.a.counters.get('TcpExtTCPFastRetrans') + p.b.counters.get('TcpExtTCPFastRetrans');
      assert.ok(fast > 0, `seed ${seed} sack ${sack}: fast retransmits happened`);
    }
  }
});

test('100 Mbit/s, 10 ms delay: the link stays ≥ 80% busy once past slow start (Reno, 1 BDP of queue)', (t) => {
  const rate = 100e6;
  const delay = 10;
  const bdp = (rate / 8) * ((2 * delay) / 1000);
  const p = connectPair({
    wire: { delay, aToB: { rateBps: rate, queueLimit: bdp } },
    sndBuf: 8 * MiB,
    rcvBuf: 8 * MiB,
  });
  const total = 400 * MiB; // more than the measurement needs: the sender never runs dry
  const s = new BulkSender(p.ca, total, 1, false);
  const r = new BulkReceiver(p.cb, false);
  p.ca.onEvent = () => s.pump();
  p.cb.onEvent = () => r.pump();
  s.pump();
  // Slow start ends with the first loss; wait until that loss is repaired
  // and the sender is back in the Open state in congestion avoidance.
  const past = p.world.runUntil(
    () => {
      const i = p.ca.info();
      return i.tcpi_snd_ssthresh < 0x7fffffff && i.tcpi_ca_state === 0;
    },
    { timeout: 60_000 },
  );
  assert.ok(past, 'slow start ended and the first loss was repaired');
  const startMs = p.world.now;
  const startBytes = p.wire.statsAToB.deliveredBytes;
  const windowMs = 10_000;
  p.world.run({ until: startMs + windowMs });
  const busy = ((p.wire.statsAToB.deliveredBytes - startBytes) * 8) / ((rate * windowMs) / 1000);
  const info = p.ca.info();
  t.diagnostic(
    `past slow start at ${(startMs / 1000).toFixed(2)} s virtual; link busy ${(busy * 100).toFixed(1)}% over the next ${windowMs / 1000} s; ` +
      `cwnd ${info.tcpi_snd_cwnd} ssthresh ${info.tcpi_snd_ssthresh} srtt ${info.tcpi_rtt} µs`,
  );
  assert.ok(busy >= 0.8, `link busy ${busy}`);
  assert.ok(busy <= 1.0001, `cannot exceed the line rate: ${busy}`);
  assert.ok(info.tcpi_snd_ssthresh < 0x7fffffff);
  // Congestion avoidance keeps the queue from overflowing on every RTT:
  // a few sawtooth losses over the window, not a loss per round trip.
  assert.ok(p.wire.statsAToB.dropped.queue < windowMs / (2 * delay));
});
