/**
 * Taking over a TIME_WAIT 4-tuple on connect(), as observed on Linux 6.18
 * (test/kernel/inet/experiments.py):
 *  - "tw": connect, close (client TIME_WAIT), new SO_REUSEADDR socket binds
 *    the same port and connects: succeeds with timestamps (TcpExtTWRecycled
 *    +1), EADDRNOTAVAIL without (tcp_timestamps = 0), whatever tcp_tw_reuse;
 *  - "fw2": the same from the orphan FIN_WAIT2 sub-state (peer never sent
 *    its FIN) also succeeds for a socket bound to the port (the FIN_WAIT2
 *    rule only applies to the port search);
 *  - "reuse": ip_local_port_range 40000 40000, unbound sockets: with
 *    tcp_tw_reuse = 2 and 198.18.0.x addresses never (0 s, 0.5 s, 1.2 s);
 *    with 1 not at 0 s or 0.5 s but at 1.2 s; with 0 never; with 2 over
 *    127.0.0.1 at 1.2 s; each takeover TcpExtTWRecycled +1;
 *  - TcpExtTW counts an entry when it is made (also the FIN_WAIT2 sub-state), not when it expires.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { A, closeToTimeWait, errOf, Sock, setup } from './helpers.js';

const SRV = A('198.18.0.2');

test('explicit port + SO_REUSEADDR: takeover at once with timestamps; ISN = snd_nxt + 65537, ts state carried', () => {
  const { host, tables } = setup();
  host.now = 5000;
  const a = new Sock(4, { reuseAddr: true });
  tables.connect(a, SRV, 8000);
  const port = a.lport;
  closeToTimeWait(tables, a, host.now, { sndNxt: 123456 });
  assert.equal(host.counters.get('TcpExtTW'), 1);
  const b = new Sock(4, { reuseAddr: true });
  tables.bind(b, A('198.18.0.1'), port);
  host.now = 5001;
  const tk = tables.connect(b, SRV, 8000);
  assert.ok(tk !== null);
  assert.equal(tk.isn, 123456 + 65537);
  assert.equal(tk.tsRecent, 777);
  assert.equal(tk.tsRecentStamp, 5000);
  assert.equal(host.counters.get('TcpExtTWRecycled'), 1);
  assert.equal(tables.timeWaitCount, 0);
  assert.equal(tables.lookupEstablished(4, A('198.18.0.1'), port, SRV, 8000), b);
});

test('explicit port without timestamps: EADDRNOTAVAIL whatever tcp_tw_reuse says', () => {
  for (const reuse of [0, 1, 2]) {
    const { host, tables } = setup(1, { 'net.ipv4.tcp_tw_reuse': reuse });
    const a = new Sock(4, { reuseAddr: true });
    tables.connect(a, SRV, 8000);
    closeToTimeWait(tables, a, 0, { ts: false });
    const b = new Sock(4, { reuseAddr: true });
    tables.bind(b, A('198.18.0.1'), a.lport);
    host.now = 100_000 - 1; // long after the reuse delay, still in TIME_WAIT (not advanced)
    assert.equal(
      errOf(() => tables.connect(b, SRV, 8000)),
      'EADDRNOTAVAIL',
    );
    assert.equal(b.raddr, null);
    assert.equal(
      errOf(() => tables.connect(b, SRV, 8001)),
      'OK',
      'another destination is fine',
    );
  }
});

test('explicit port: an entry in the FIN_WAIT2 sub-state is taken over too (kernel "fw2")', () => {
  const { tables } = setup();
  const a = new Sock(4, { reuseAddr: true });
  tables.connect(a, SRV, 8000);
  closeToTimeWait(tables, a, 0, { finWait2: true });
  const b = new Sock(4, { reuseAddr: true });
  tables.bind(b, A('198.18.0.1'), a.lport);
  assert.ok(tables.connect(b, SRV, 8000) !== null);
});

test('explicit port held by a live connection: EADDRNOTAVAIL', () => {
  const { tables } = setup();
  const a = new Sock(4, { reuseAddr: true });
  tables.bind(a, A('198.18.0.1'), 45000);
  tables.connect(a, SRV, 8000);
  const b = new Sock(4, { reuseAddr: true });
  tables.bind(b, A('198.18.0.1'), 45000);
  assert.equal(
    errOf(() => tables.connect(b, SRV, 8000)),
    'EADDRNOTAVAIL',
  );
  assert.equal(
    errOf(() => tables.connect(b, SRV, 8001)),
    'OK',
  );
});

function oneOfOne(reuse: number, dst: string, opts: { ts?: boolean; finWait2?: boolean } = {}) {
  const { host, tables } = setup(1, {
    'net.ipv4.ip_local_port_range': '40000 40000',
    'net.ipv4.tcp_tw_reuse': reuse,
  });
  const a = new Sock();
  tables.connect(a, A(dst), 8000);
  assert.equal(a.lport, 40000);
  closeToTimeWait(tables, a, 10_000, opts);
  const at = (t: number) => {
    host.now = t;
    return errOf(() => tables.connect(new Sock(), A(dst), 8000));
  };
  return { host, tables, at };
}

test('unbound, tcp_tw_reuse = 1: only strictly after tcp_tw_reuse_delay (1000 ms)', () => {
  const { host, at } = oneOfOne(1, '198.18.0.2');
  assert.equal(at(10_000), 'EADDRNOTAVAIL');
  assert.equal(at(10_500), 'EADDRNOTAVAIL');
  assert.equal(at(11_000), 'EADDRNOTAVAIL');
  assert.equal(at(11_001), 'OK');
  assert.equal(host.counters.get('TcpExtTWRecycled'), 1);
});

test('unbound, tcp_tw_reuse = 2: loopback only', () => {
  assert.equal(oneOfOne(2, '198.18.0.2').at(12_000), 'EADDRNOTAVAIL');
  const lo = oneOfOne(2, '127.0.0.1');
  assert.equal(lo.at(10_999), 'EADDRNOTAVAIL');
  assert.equal(lo.at(12_000), 'OK');
});

test('unbound, tcp_tw_reuse_delay is a sysctl', () => {
  const { host, at } = oneOfOne(1, '198.18.0.2');
  host.sysctl.set('net.ipv4.tcp_tw_reuse_delay', 5000);
  assert.equal(at(14_000), 'EADDRNOTAVAIL');
  assert.equal(at(15_001), 'OK');
});

test('unbound: never with tcp_tw_reuse = 0, never without timestamps, never from FIN_WAIT2', () => {
  assert.equal(oneOfOne(0, '198.18.0.2').at(30_000), 'EADDRNOTAVAIL');
  assert.equal(oneOfOne(1, '198.18.0.2', { ts: false }).at(30_000), 'EADDRNOTAVAIL');
  assert.equal(oneOfOne(1, '198.18.0.2', { finWait2: true }).at(30_000), 'EADDRNOTAVAIL');
});

test('unbound: free again when the entry expires (60 s)', () => {
  const { host, tables, at } = oneOfOne(2, '198.18.0.2');
  host.advance(69_999);
  assert.equal(at(69_999), 'EADDRNOTAVAIL');
  host.advance(70_001);
  assert.equal(tables.timeWaitCount, 0);
  assert.equal(at(70_001), 'OK');
  assert.equal(host.counters.get('TcpExtTWRecycled'), 0);
});

test('ISN after takeover wraps but is never 0', () => {
  const { tables } = setup();
  const a = new Sock(4, { reuseAddr: true });
  tables.connect(a, SRV, 8000);
  closeToTimeWait(tables, a, 0, { sndNxt: 0xffffffff - 65536 });
  const b = new Sock(4, { reuseAddr: true });
  tables.bind(b, A('198.18.0.1'), a.lport);
  assert.equal(tables.connect(b, SRV, 8000)!.isn, 1);
});

test('tcp_max_tw_buckets: past it no entry is made and TcpExtTCPTimeWaitOverflow counts', () => {
  const { host, tables } = setup(1, { 'net.ipv4.tcp_max_tw_buckets': 2 });
  const ids: number[] = [];
  const ports: number[] = [];
  for (let i = 0; i < 3; i++) {
    const s = new Sock();
    tables.connect(s, SRV, 8000);
    ports.push(s.lport);
    ids.push(closeToTimeWait(tables, s, 0));
  }
  assert.equal(ids[2], -1);
  assert.equal(tables.timeWaitCount, 2);
  assert.equal(host.counters.get('TcpExtTCPTimeWaitOverflow'), 1);
  assert.equal(host.counters.get('TcpExtTW'), 2);
  // The overflowed connection's port is free at once.
  assert.equal(tables.bucket(ports[2]), undefined);
});

test('TcpExtTWKilled counts entries whose timer is 4 s or less (a short FIN_WAIT2 timeout)', () => {
  const { host, tables } = setup();
  const s = new Sock();
  tables.connect(s, SRV, 8000);
  closeToTimeWait(tables, s, 0, { finWait2: true, timeout: 3000 });
  assert.equal(host.counters.get('TcpExtTWKilled'), 1);
  assert.equal(host.counters.get('TcpExtTW'), 0);
});

test('IPv6 and v4-mapped entries', () => {
  const { tables } = setup();
  const s6 = new Sock(6, { reuseAddr: true });
  tables.connect(s6, A('fd00::2'), 80);
  assert.deepEqual(s6.laddr, A('fd00::1'));
  const id6 = closeToTimeWait(tables, s6, 0);
  assert.ok(id6 >= 1 << 30);
  assert.equal(tables.lookupTimeWait(6, A('fd00::1'), s6.lport, A('fd00::2'), 80), id6);
  const m = new Sock(6);
  tables.connect(m, A('::ffff:198.18.0.2'), 80);
  assert.deepEqual(m.laddr, A('::ffff:198.18.0.1'));
  // The established entry is found from plain IPv4 packets.
  assert.equal(tables.lookupEstablished(4, A('198.18.0.1'), m.lport, A('198.18.0.2'), 80), m);
  const idm = closeToTimeWait(tables, m, 0);
  assert.ok(idm >= 0 && idm < 1 << 30, 'v4-mapped entries live in the IPv4 table');
  assert.equal(tables.lookupTimeWait(4, A('198.18.0.1'), m.lport, A('198.18.0.2'), 80), idm);
  assert.equal(
    errOf(() => tables.connect(new Sock(6, { v6only: true }), A('::ffff:198.18.0.2'), 80)),
    'ENETUNREACH',
  );
});

test('tcp_tw_reuse = 2 counts ::1 and v4-mapped 127/8 as loopback', () => {
  for (const [dst, family] of [
    ['::1', 6],
    ['::ffff:127.0.0.1', 6],
  ] as const) {
    const { host, tables } = setup(1, { 'net.ipv4.ip_local_port_range': '40000 40000' });
    const a = new Sock(family);
    tables.connect(a, A(dst), 8000);
    closeToTimeWait(tables, a, 0);
    host.now = 1001;
    assert.equal(
      errOf(() => tables.connect(new Sock(family), A(dst), 8000)),
      'OK',
      dst,
    );
  }
});

test('SO_REUSEPORT on both the new socket and the TIME_WAIT entry allows the bind; on one side only it does not', () => {
  for (const [rp1, rp2, want] of [
    [true, true, 'OK'],
    [true, false, 'EADDRINUSE'],
    [false, true, 'EADDRINUSE'],
  ] as const) {
    const { tables } = setup();
    const a = new Sock(4, { reusePort: rp1 });
    tables.connect(a, SRV, 8000);
    closeToTimeWait(tables, a, 0);
    assert.equal(
      errOf(() => tables.bind(new Sock(4, { reusePort: rp2 }), null, a.lport)),
      want,
      `${rp1}/${rp2}`,
    );
  }
});

test('unbound, tcp_tw_reuse = 1: the oldest entry of a destination counts, whichever entered last', () => {
  // connect()'s scan skips a destination's TIME_WAIT ports at once while all
  // of them are too young; one old entry among young ones must still be found.
  const { host, tables } = setup(1, {
    'net.ipv4.ip_local_port_range': '40000 40001',
    'net.ipv4.tcp_tw_reuse': 1,
  });
  const old = new Sock();
  tables.connect(old, A('198.18.0.2'), 8000);
  closeToTimeWait(tables, old, 10_000);
  host.now = 10_900;
  const young = new Sock();
  tables.connect(young, A('198.18.0.2'), 8000);
  assert.notEqual(young.lport, old.lport);
  closeToTimeWait(tables, young, 10_900);
  host.now = 11_000;
  assert.equal(
    errOf(() => tables.connect(new Sock(), A('198.18.0.2'), 8000)),
    'EADDRNOTAVAIL',
  );
  host.now = 11_001;
  const s = new Sock();
  assert.equal(
    errOf(() => tables.connect(s, A('198.18.0.2'), 8000)),
    'OK',
  );
  assert.equal(s.lport, old.lport);
  assert.equal(host.counters.get('TcpExtTWRecycled'), 1);
});
