/**
 * The churn scenario with a 100-port range (40000-40099) and 10 connects/s,
 * above range / 60 s: the client runs out of ports after 100 connections
 * (t = 10 s) and TIME_WAIT plateaus at 100 until the first entries expire
 * 60 s after they were made; tcp_tw_reuse=1 with timestamps avoids it,
 * without timestamps it does not; the server closing first moves TIME_WAIT
 * to the server.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ChurnOptions, runChurn } from '../../../src/sim/scenarios/churn.js';
import { explainChurn } from '../../../src/sim/scenarios/churn-report.js';

const RANGE = { 'net.ipv4.ip_local_port_range': '40000 40099' };

function run(o: ChurnOptions) {
  return runChurn({ rate: 10, durationS: 30, ...o, sysctl: { ...RANGE, ...o.sysctl } });
}

test('client closes first: EADDRNOTAVAIL at range / rate, TIME_WAIT plateaus at the range size', () => {
  const r = run({ durationS: 80, drainS: 0 });
  const t = r.totals;
  // Connect i is at i × 100 ms: #100 (the 101st) is the first without a port.
  assert.equal(t.firstEaddrnotavailS, 10);
  assert.equal(t.peakClientTw, 100);
  assert.equal(t.peakServerTw, 0);
  assert.equal(t.client.TcpExtTWRecycled, 0);
  const at = (s: number) => r.samples[s - 1];
  // Each line covers [t - 1 s, t): the 100 ports went in the first 10 lines.
  assert.equal(at(10).t, 10);
  assert.equal(at(10).eaddrnotavail, 0);
  assert.equal(
    r.samples.slice(0, 10).reduce((a, s) => a + s.started, 0),
    100,
  );
  for (let s = 11; s <= 60; s++) {
    assert.equal(at(s).clientTw, 100, `TIME_WAIT at ${s} s`);
    assert.equal(at(s).portsInUse, 100);
    assert.equal(at(s).ok, 0);
    assert.equal(at(s).eaddrnotavail, 10, `EADDRNOTAVAIL in second ${s}`);
  }
  // The first entries (made just after t = 0) expire just after t = 60 s:
  // about range / 60 s connects per second succeed again.
  const okLater = r.samples.slice(61, 80).reduce((a, s) => a + s.started, 0);
  assert.ok(okLater > 0 && okLater <= 19 * 10, `connects after 61 s: ${okLater}`);
  assert.ok(r.samples.slice(61, 80).every((s) => s.clientTw <= 100));
  assert.equal(t.attempted, 800);
  assert.equal(t.ok + t.eaddrnotavail + t.failed, t.attempted);
  assert.equal(t.failed, 0);
  const words = explainChurn(r).join('\n');
  assert.match(words, /ran out of ports at t=10 s: 100 ports, each held 60 s by TIME_WAIT/);
});

test('tcp_tw_reuse=1 with timestamps: no EADDRNOTAVAIL, ports recycled after tcp_tw_reuse_delay', () => {
  const r = run({ sysctl: { 'net.ipv4.tcp_tw_reuse': 1 }, timestamps: true });
  const t = r.totals;
  assert.equal(t.eaddrnotavail, 0);
  assert.equal(t.firstEaddrnotavailS, null);
  assert.equal(t.ok, 300);
  assert.ok(t.client.TcpExtTWRecycled > 0);
  // Every connection beyond the range's worth reused a TIME_WAIT entry.
  assert.ok(t.client.TcpExtTWRecycled >= 300 - 100, `recycled ${t.client.TcpExtTWRecycled}`);
  assert.ok(t.peakClientTw <= 100);
  assert.match(explainChurn(r).join('\n'), /TcpExtTWRecycled=/);
});

test('tcp_tw_reuse=1 without timestamps does not help', () => {
  const r = run({ sysctl: { 'net.ipv4.tcp_tw_reuse': 1 }, timestamps: false });
  const t = r.totals;
  assert.equal(r.client.timestamps, 0);
  assert.equal(t.firstEaddrnotavailS, 10);
  assert.equal(t.client.TcpExtTWRecycled, 0);
  assert.equal(t.ok, 100);
  assert.equal(t.eaddrnotavail, 200);
  assert.match(explainChurn(r).join('\n'), /needs TCP timestamps/);
});

test('server closes first: the client holds no TIME_WAIT and never runs out', () => {
  const r = run({ closer: 'server' });
  const t = r.totals;
  assert.equal(t.eaddrnotavail, 0);
  assert.equal(t.ok, 300);
  assert.equal(t.peakClientTw, 0);
  assert.equal(t.client.TcpExtTW, 0);
  assert.ok(t.peakServerTw > 0);
  assert.equal(t.server.TcpExtTW, 300);
  assert.ok(r.samples.every((s) => s.clientTw === 0));
});

test('tcp_max_tw_buckets on the client: closing connections past it skip TIME_WAIT, ports stay free', () => {
  const r = run({ clientSysctl: { 'net.ipv4.tcp_max_tw_buckets': 50 } });
  const t = r.totals;
  assert.equal(t.peakClientTw, 50);
  assert.equal(t.eaddrnotavail, 0);
  assert.equal(t.client.TcpExtTCPTimeWaitOverflow, 250);
  assert.ok(r.samples.every((s) => s.portsInUse <= 51));
});

test('bounds: max connections and option ranges', () => {
  const r = run({ maxConnections: 25 });
  assert.equal(r.totals.attempted, 25);
  assert.equal(r.totals.stoppedBy, 'max-connections');
  assert.throws(() => runChurn({ rate: 0 }), RangeError);
  assert.throws(() => runChurn({ durationS: 1e9 }), RangeError);
});

test('the connect() scan without TIME_WAIT lookups (tw_reuse=0) chooses as the one asking every entry (tw_reuse=1, no timestamps)', () => {
  // Without timestamps no entry can be taken over, so both settings must
  // give the same ports, second by second; only the first skips the lookups.
  const o: ChurnOptions = {
    rate: 50,
    durationS: 90,
    timestamps: false,
    sysctl: { 'net.ipv4.ip_local_port_range': '40000 40999' },
  };
  const fastPorts: number[] = [];
  const slowPorts: number[] = [];
  const fast = runChurn({
    ...o,
    sysctl: { ...o.sysctl, 'net.ipv4.tcp_tw_reuse': 0 },
    onConnect: (p) => fastPorts.push(p),
  });
  const slow = runChurn({
    ...o,
    sysctl: { ...o.sysctl, 'net.ipv4.tcp_tw_reuse': 1 },
    onConnect: (p) => slowPorts.push(p),
  });
  assert.equal(fastPorts.length, fast.totals.started);
  assert.deepEqual(fastPorts, slowPorts);
  assert.equal(fast.totals.firstEaddrnotavailS, 20);
  assert.ok(fast.totals.eaddrnotavail > 0);
  assert.deepEqual(fast.samples, slow.samples);
});
