/**
 * Port choice as observed on Linux 6.18 (python3 sockets in a private
 * network namespace, 198.18.0.1 and .2 on lo; script in
 * test/kernel/inet/experiments.py):
 *  - connect() from unbound sockets to one destination: 12 ports, all even,
 *    each a little above the previous (e.g. 39984, 39990, 39998, 40010, ...);
 *  - bind(port 0): odd ports only while odd ones are free; with SO_REUSEADDR
 *    also below the middle of the range (32768 + ((61000-32768) >> 2 << 1));
 *  - ip_local_port_range 40000 40009: exactly 10 connects succeed, evens
 *    first then odds ([40008, 40002, 40000, 40006, 40004, 40007, 40001,
 *    40009, 40003, 40005]), the 11th fails EADDRNOTAVAIL, and a connect to
 *    another remote port still gets a source port.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { A, errOf, Sock, setup } from './helpers.js';

const SRV = A('198.18.0.2');

test('connect() picks even ports first, near each other for one destination', () => {
  const { tables } = setup(3);
  const ports: number[] = [];
  for (let i = 0; i < 12; i++) {
    const s = new Sock();
    assert.equal(tables.connect(s, SRV, 8000), null);
    ports.push(s.lport);
    assert.deepEqual(s.laddr, A('198.18.0.1'));
  }
  for (const p of ports) {
    assert.equal(p % 2, 0);
    assert.ok(p >= 32768 && p <= 60999);
  }
  // The perturbation table moves the next search just past the last port (by 2..16).
  for (let i = 1; i < ports.length; i++) {
    const d = ports[i] - ports[i - 1];
    assert.ok(d >= 2 && d <= 16, `step ${d}`);
  }
});

test('a small range is used up exactly: evens then odds, then EADDRNOTAVAIL; another remote port still works', () => {
  const { tables } = setup(5, { 'net.ipv4.ip_local_port_range': '40000 40009' });
  const ports: number[] = [];
  for (let i = 0; i < 10; i++) {
    const s = new Sock();
    tables.connect(s, SRV, 8000);
    ports.push(s.lport);
  }
  assert.deepEqual(
    ports.map((p) => p % 2),
    [0, 0, 0, 0, 0, 1, 1, 1, 1, 1],
  );
  assert.deepEqual(
    [...ports].sort((a, b) => a - b),
    [40000, 40001, 40002, 40003, 40004, 40005, 40006, 40007, 40008, 40009],
  );
  const s = new Sock();
  assert.equal(
    errOf(() => tables.connect(s, SRV, 8000)),
    'EADDRNOTAVAIL',
  );
  assert.equal(s.lport, 0);
  assert.equal(s.laddr, null);
  assert.equal(
    errOf(() => tables.connect(new Sock(), SRV, 8001)),
    'OK',
  );
  assert.equal(
    errOf(() => tables.connect(new Sock(), A('198.18.0.3'), 8000)),
    'OK',
  );
});

test('the default range gives exactly 28,232 connections to one destination, 14,116 even first', () => {
  const { tables } = setup(9);
  const ports: number[] = [];
  for (;;) {
    const s = new Sock();
    if (errOf(() => tables.connect(s, SRV, 443)) !== 'OK') break;
    ports.push(s.lport);
    if (ports.length > 30000) break;
  }
  assert.equal(ports.length, 28232);
  assert.equal(
    ports.findIndex((p) => p % 2 === 1),
    14116,
  );
  assert.equal(new Set(ports).size, 28232);
});

test('IP_LOCAL_PORT_RANGE narrows the range and drops the parity rule', () => {
  const { tables } = setup(2);
  const ports: number[] = [];
  for (let i = 0; i < 5; i++) {
    const s = new Sock(4, { localPortRange: (50004 << 16) | 50000 });
    tables.connect(s, SRV, 80);
    ports.push(s.lport);
  }
  assert.deepEqual(
    [...ports].sort((a, b) => a - b),
    [50000, 50001, 50002, 50003, 50004],
  );
  assert.equal(
    errOf(() => tables.connect(new Sock(4, { localPortRange: (50004 << 16) | 50000 }), SRV, 80)),
    'EADDRNOTAVAIL',
  );
  // Bounds outside the system range are ignored (each bound separately).
  const s = new Sock(4, { localPortRange: ((70000 % 65536) << 16) | 1000 });
  tables.connect(s, SRV, 81);
  assert.ok(s.lport >= 32768 && s.lport <= 60999);
});

test('ip_local_reserved_ports are never chosen', () => {
  const { tables } = setup(4, {
    'net.ipv4.ip_local_port_range': '40000 40009',
    'net.ipv4.ip_local_reserved_ports': '40000-40003,40008',
  });
  const ports: number[] = [];
  for (;;) {
    const s = new Sock();
    if (errOf(() => tables.connect(s, SRV, 80)) !== 'OK') break;
    ports.push(s.lport);
  }
  assert.deepEqual(
    ports.sort((a, b) => a - b),
    [40004, 40005, 40006, 40007, 40009],
  );
});

test('bind(port 0) prefers odd ports; SO_REUSEADDR prefers the lower half', () => {
  const { tables } = setup(6);
  for (let i = 0; i < 20; i++) {
    const s = new Sock();
    tables.bind(s, null, 0);
    assert.equal(s.lport % 2, 1);
  }
  const half = 32768 + (((61000 - 32768) >> 2) << 1);
  for (let i = 0; i < 20; i++) {
    const s = new Sock(4, { reuseAddr: true });
    tables.bind(s, null, 0);
    assert.equal(s.lport % 2, 1);
    assert.ok(s.lport < half, `${s.lport} < ${half}`);
  }
});

test('bind(port 0) exhausts odd then even ports, then EADDRINUSE', () => {
  const { tables } = setup(8, { 'net.ipv4.ip_local_port_range': '40000 40007' });
  const ports: number[] = [];
  for (let i = 0; i < 8; i++) {
    const s = new Sock();
    tables.bind(s, A('198.18.0.1'), 0);
    ports.push(s.lport);
  }
  assert.deepEqual(
    ports.map((p) => p % 2),
    [1, 1, 1, 1, 0, 0, 0, 0],
  );
  assert.equal(
    errOf(() => tables.bind(new Sock(), null, 0)),
    'EADDRINUSE',
  );
});

test('connect() never takes a port that bind() holds, even for another address', () => {
  const { tables } = setup(1, { 'net.ipv4.ip_local_port_range': '40000 40001' });
  const b = new Sock(4, { reuseAddr: true });
  tables.bind(b, A('198.18.0.1'), 40000);
  const s = new Sock();
  tables.connect(s, SRV, 80);
  assert.equal(s.lport, 40001);
  assert.equal(
    errOf(() => tables.connect(new Sock(), SRV, 80)),
    'EADDRNOTAVAIL',
  );
});

test('IP_BIND_ADDRESS_NO_PORT: bind keeps the address, connect picks the port (even first)', () => {
  const { host, tables } = setup(1);
  host.local.push(A('198.18.0.7'));
  const s = new Sock(4, { bindAddressNoPort: true });
  tables.bind(s, A('198.18.0.7'), 0);
  assert.equal(s.lport, 0);
  assert.equal(tables.isBound(s), false);
  tables.connect(s, SRV, 80);
  assert.deepEqual(s.laddr, A('198.18.0.7'));
  assert.equal(s.lport % 2, 0);
});

test('same seed, same ports', () => {
  const run = (seed: number) => {
    const { tables } = setup(seed);
    const out: number[] = [];
    for (let i = 0; i < 50; i++) {
      const s = new Sock();
      tables.connect(s, SRV, 80 + (i % 3));
      out.push(s.lport);
    }
    return out;
  };
  assert.deepEqual(run(11), run(11));
  assert.notDeepEqual(run(11), run(12));
});

test('ip_autobind_reuse lets bind(port 0) share a port with SO_REUSEADDR owners once the range is used up', () => {
  const { host, tables } = setup(3, { 'net.ipv4.ip_local_port_range': '40000 40001' });
  for (const p of [40000, 40001]) tables.bind(new Sock(4, { reuseAddr: true }), A('198.18.0.1'), p);
  assert.equal(
    errOf(() => tables.bind(new Sock(4, { reuseAddr: true }), null, 0)),
    'EADDRINUSE',
  );
  host.sysctl.set('net.ipv4.ip_autobind_reuse', 1);
  const s = new Sock(4, { reuseAddr: true });
  tables.bind(s, null, 0);
  assert.ok(s.lport === 40000 || s.lport === 40001);
  // Without SO_REUSEADDR on the newcomer there is still no port.
  assert.equal(
    errOf(() => tables.bind(new Sock(4), null, 0)),
    'EADDRINUSE',
  );
});
