/**
 * bind()/listen() conflicts as observed on Linux 6.18 in a private namespace
 * (test/kernel/inet/experiments.py, "listen" and "tw"):
 *  - two SO_REUSEADDR sockets may bind 0.0.0.0:9000; the first listen()
 *    succeeds, the second EADDRINUSE; afterwards a SO_REUSEADDR bind to
 *    198.18.0.1:9000 fails EADDRINUSE, and so does a dual-stack [::]:9000,
 *    while an IPV6_V6ONLY [::]:9000 without SO_REUSEADDR binds;
 *  - a client port in TIME_WAIT: rebinding it needs SO_REUSEADDR on the new
 *    socket AND on the one that made the entry, else EADDRINUSE;
 *  - bind to an address the host does not have: EADDRNOTAVAIL.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { A, closeToTimeWait, errOf, Sock, setup } from './helpers.js';

test('EINVAL when already bound; EADDRNOTAVAIL for a foreign address unless ip_nonlocal_bind', () => {
  const { host, tables } = setup();
  const s = new Sock();
  tables.bind(s, null, 5000);
  assert.equal(
    errOf(() => tables.bind(s, null, 5001)),
    'EINVAL',
  );
  assert.equal(
    errOf(() => tables.bind(new Sock(), A('198.19.0.99'), 0)),
    'EADDRNOTAVAIL',
  );
  host.sysctl.set('net.ipv4.ip_nonlocal_bind', 1);
  assert.equal(
    errOf(() => tables.bind(new Sock(), A('198.19.0.99'), 0)),
    'OK',
  );
  // A v4-mapped address on a V6ONLY socket is invalid.
  assert.equal(
    errOf(() => tables.bind(new Sock(6, { v6only: true }), A('::ffff:198.18.0.1'), 0)),
    'EINVAL',
  );
});

test('plain sockets conflict on overlapping addresses only', () => {
  const { host, tables } = setup();
  host.local.push(A('198.18.0.5'));
  const a = new Sock();
  tables.bind(a, A('198.18.0.1'), 7000);
  assert.equal(
    errOf(() => tables.bind(new Sock(), A('198.18.0.1'), 7000)),
    'EADDRINUSE',
  );
  assert.equal(
    errOf(() => tables.bind(new Sock(), null, 7000)),
    'EADDRINUSE',
  );
  assert.equal(
    errOf(() => tables.bind(new Sock(), A('198.18.0.5'), 7000)),
    'OK',
  );
  // IPv6: a V6ONLY wildcard does not overlap IPv4; a dual-stack one does.
  assert.equal(
    errOf(() => tables.bind(new Sock(6, { v6only: true }), null, 7000)),
    'OK',
  );
  assert.equal(
    errOf(() => tables.bind(new Sock(6), null, 7001)),
    'OK',
  );
  assert.equal(
    errOf(() => tables.bind(new Sock(4), A('198.18.0.1'), 7001)),
    'EADDRINUSE',
  );
  // A v4-mapped bind is IPv4 for conflicts.
  assert.equal(
    errOf(() => tables.bind(new Sock(6), A('::ffff:198.18.0.1'), 7000)),
    'EADDRINUSE',
  );
  // Releasing frees the port.
  tables.unbind(a);
  assert.equal(
    errOf(() => tables.bind(new Sock(), A('198.18.0.1'), 7000)),
    'OK',
  );
});

test('SO_REUSEADDR: shared until someone listens; never a second listener on the same address', () => {
  const { tables } = setup();
  const a = new Sock(4, { reuseAddr: true });
  const b = new Sock(4, { reuseAddr: true });
  tables.bind(a, null, 9000);
  assert.equal(
    errOf(() => tables.bind(b, null, 9000)),
    'OK',
  );
  assert.equal(
    errOf(() => tables.listen(a)),
    'OK',
  );
  assert.equal(
    errOf(() => tables.listen(b)),
    'EADDRINUSE',
  );
  assert.equal(
    errOf(() => tables.bind(new Sock(4, { reuseAddr: true }), A('198.18.0.1'), 9000)),
    'EADDRINUSE',
  );
  assert.equal(
    errOf(() => tables.bind(new Sock(6, { reuseAddr: true }), null, 9000)),
    'EADDRINUSE',
  );
  assert.equal(
    errOf(() => tables.bind(new Sock(6, { v6only: true }), null, 9000)),
    'OK',
  );
  // Without SO_REUSEADDR on both, no sharing at all.
  const c = new Sock(4);
  tables.bind(c, null, 9100);
  assert.equal(
    errOf(() => tables.bind(new Sock(4, { reuseAddr: true }), null, 9100)),
    'EADDRINUSE',
  );
});

test('SO_REUSEPORT: any number of sockets and listeners; the group spreads connections by 4-tuple', () => {
  const { tables } = setup();
  const ls: Sock[] = [];
  for (let i = 0; i < 4; i++) {
    const s = new Sock(4, { reusePort: true });
    tables.bind(s, null, 8080);
    tables.listen(s);
    ls.push(s);
  }
  assert.equal(
    errOf(() => tables.bind(new Sock(4), null, 8080)),
    'EADDRINUSE',
  );
  const hits = new Map<Sock, number>();
  for (let p = 1000; p < 5000; p++) {
    const l = tables.lookupListener(4, A('198.18.0.1'), 8080, A('198.18.0.9'), p)!;
    assert.equal(
      tables.lookupListener(4, A('198.18.0.1'), 8080, A('198.18.0.9'), p),
      l,
      'stable per 4-tuple',
    );
    hits.set(l, (hits.get(l) ?? 0) + 1);
  }
  assert.equal(hits.size, 4);
  for (const n of hits.values()) assert.ok(n > 700 && n < 1300, `${n}`);
});

test('listener lookup: exact address beats wildcard, IPv4 beats dual-stack, V6ONLY takes no IPv4', () => {
  const { host, tables } = setup();
  host.local.push(A('198.18.0.5'));
  const v6only = new Sock(6, { v6only: true });
  tables.bind(v6only, null, 80);
  tables.listen(v6only);
  assert.equal(tables.lookupListener(4, A('198.18.0.1'), 80, A('198.18.0.9'), 1), null);
  assert.equal(tables.lookupListener(6, A('fd00::1'), 80, A('fd00::9'), 1), v6only);
  // Linux lets a wildcard and a specific listener share a port only with SO_REUSEPORT.
  const wild4 = new Sock(4, { reusePort: true });
  tables.bind(wild4, null, 81);
  tables.listen(wild4);
  const exact = new Sock(4, { reusePort: true });
  tables.bind(exact, A('198.18.0.5'), 81);
  tables.listen(exact);
  assert.equal(tables.lookupListener(4, A('198.18.0.5'), 81, A('198.18.0.9'), 1), exact);
  assert.equal(tables.lookupListener(4, A('198.18.0.1'), 81, A('198.18.0.9'), 1), wild4);
  const dual = new Sock(6);
  tables.bind(dual, null, 82);
  tables.listen(dual);
  assert.equal(tables.lookupListener(4, A('198.18.0.1'), 82, A('198.18.0.9'), 1), dual);
  tables.unlisten(dual);
  assert.equal(tables.lookupListener(4, A('198.18.0.1'), 82, A('198.18.0.9'), 1), null);
});

test('listen() without bind picks a port like bind(0)', () => {
  const { tables } = setup();
  const s = new Sock();
  tables.listen(s);
  assert.equal(s.lport % 2, 1);
  assert.equal(tables.lookupListener(4, A('198.18.0.1'), s.lport, A('198.18.0.9'), 1), s);
});

test('TIME_WAIT holds the port: rebinding needs SO_REUSEADDR on both sockets (kernel: "tw" experiment)', () => {
  for (const reuse1 of [true, false]) {
    const { tables } = setup();
    const a = new Sock(4, { reuseAddr: reuse1 });
    tables.connect(a, A('198.18.0.2'), 8000);
    const port = a.lport;
    closeToTimeWait(tables, a, 0);
    assert.equal(tables.bucket(port)!.owners, 1);
    assert.equal(
      errOf(() => tables.bind(new Sock(4, { reuseAddr: true }), A('198.18.0.1'), port)),
      reuse1 ? 'OK' : 'EADDRINUSE',
    );
    assert.equal(
      errOf(() => tables.bind(new Sock(4), A('198.18.0.1'), port)),
      'EADDRINUSE',
    );
  }
});

test('a port held only by TIME_WAIT is free again when the entry expires', () => {
  const { host, tables } = setup();
  const a = new Sock();
  tables.connect(a, A('198.18.0.2'), 8000);
  const port = a.lport;
  closeToTimeWait(tables, a, 0);
  assert.equal(
    errOf(() => tables.bind(new Sock(), null, port)),
    'EADDRINUSE',
  );
  host.advance(59_999);
  assert.equal(tables.timeWaitCount, 1);
  host.advance(60_001);
  assert.equal(tables.timeWaitCount, 0);
  assert.equal(tables.bucket(port), undefined);
  assert.equal(
    errOf(() => tables.bind(new Sock(), null, port)),
    'OK',
  );
});

test('accepted children hold the listener port after it closes', () => {
  const { tables } = setup();
  const l = new Sock();
  tables.bind(l, null, 80);
  tables.listen(l);
  const child = new Sock(4, { laddr: A('198.18.0.1'), lport: 80, raddr: A('198.18.0.9'), rport: 5555 });
  tables.insertEstablished(child);
  assert.equal(tables.lookupEstablished(4, A('198.18.0.1'), 80, A('198.18.0.9'), 5555), child);
  tables.unbind(l);
  assert.equal(
    errOf(() => tables.bind(new Sock(), null, 80)),
    'EADDRINUSE',
  );
  tables.removeEstablished(child);
  assert.equal(
    errOf(() => tables.bind(new Sock(), null, 80)),
    'OK',
  );
});
