/**
 * The same port-choice and bind experiments on the Linux kernel (python3
 * sockets in a private namespace, test/kernel/inet/port_experiments.py) and
 * on usnet's connection tables, compared by shape: the ports themselves are
 * random on both sides, their parity, spacing, ranges and the errno values
 * are not. Needs root, ip and python3; skipped otherwise.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { kernelTestsAvailable, Netns } from '../../src/node/netns.js';
import { A, errOf, Sock, setup } from '../inet/helpers.js';

interface Results {
  connect: number[];
  bind0: number[];
  bind0reuse: number[];
  exhaust: number[];
  exhaustNext: string | null;
  exhaustOtherPort: string;
  listen: string[];
}

const avail = kernelTestsAvailable();
const skip = avail.ok ? false : `needs root, ip and python3: ${avail.reason}`;

async function kernel(): Promise<Results> {
  const ns = Netns.create('inet-ports');
  try {
    ns.ipSync(['addr', 'add', '198.18.0.1/32', 'dev', 'lo']);
    ns.ipSync(['addr', 'add', '198.18.0.2/32', 'dev', 'lo']);
    const r = await ns.exec(['python3', join(import.meta.dirname, 'inet', 'port_experiments.py')], {
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Results;
  } finally {
    ns.delete();
  }
}

function usnet(): Results {
  const { host, tables } = setup(42);
  host.local.push(A('198.18.0.2'));
  const SRV = A('198.18.0.2');
  const srv = new Sock(4, { reuseAddr: true });
  tables.bind(srv, SRV, 8000);
  tables.listen(srv);
  const out: Results = {
    connect: [],
    bind0: [],
    bind0reuse: [],
    exhaust: [],
    exhaustNext: null,
    exhaustOtherPort: '',
    listen: [],
  };
  for (let i = 0; i < 12; i++) {
    const c = new Sock();
    tables.connect(c, SRV, 8000);
    out.connect.push(c.lport);
  }
  for (let i = 0; i < 8; i++) {
    const b = new Sock();
    tables.bind(b, A('198.18.0.1'), 0);
    out.bind0.push(b.lport);
  }
  for (let i = 0; i < 8; i++) {
    const b = new Sock(4, { reuseAddr: true });
    tables.bind(b, A('198.18.0.1'), 0);
    out.bind0reuse.push(b.lport);
  }
  host.sysctl.set('net.ipv4.ip_local_port_range', '40000 40009');
  const srv2 = new Sock();
  tables.bind(srv2, SRV, 8001);
  tables.listen(srv2);
  for (let i = 0; i < 12; i++) {
    const c = new Sock();
    const r = errOf(() => tables.connect(c, SRV, 8001));
    if (r !== 'OK') {
      out.exhaustNext = r;
      break;
    }
    out.exhaust.push(c.lport);
  }
  out.exhaustOtherPort = errOf(() => tables.connect(new Sock(), SRV, 8002)) === 'OK' ? 'EINPROGRESS' : 'FAIL';
  host.sysctl.set('net.ipv4.ip_local_port_range', '32768 60999');
  const a = new Sock(4, { reuseAddr: true });
  const b = new Sock(4, { reuseAddr: true });
  out.listen.push(errOf(() => tables.bind(a, null, 9000)));
  out.listen.push(errOf(() => tables.bind(b, null, 9000)));
  out.listen.push(errOf(() => tables.listen(a)));
  out.listen.push(errOf(() => tables.listen(b)));
  out.listen.push(errOf(() => tables.bind(new Sock(4, { reuseAddr: true }), A('198.18.0.1'), 9000)));
  out.listen.push(errOf(() => tables.bind(new Sock(6, { reuseAddr: true }), null, 9000)));
  out.listen.push(errOf(() => tables.bind(new Sock(6, { v6only: true }), null, 9000)));
  out.listen.push(errOf(() => tables.bind(new Sock(), A('198.19.0.99'), 0)));
  return out;
}

/** What must agree between the kernel and usnet. */
function shape(r: Results) {
  const half = 32768 + (((61000 - 32768) >> 2) << 1);
  const steps = r.connect.slice(1).map((p, i) => p - r.connect[i]);
  return {
    connectEven: r.connect.every((p) => p % 2 === 0),
    connectSmallSteps: steps.every((d) => d >= 2 && d <= 16),
    bind0Odd: r.bind0.every((p) => p % 2 === 1),
    bind0ReuseOddLowerHalf: r.bind0reuse.every((p) => p % 2 === 1 && p < half),
    exhaustCount: r.exhaust.length,
    exhaustParity: r.exhaust.map((p) => p % 2),
    exhaustAll: [...r.exhaust].sort((x, y) => x - y),
    exhaustNext: r.exhaustNext,
    exhaustOtherPortGotAPort: r.exhaustOtherPort === 'EINPROGRESS' || r.exhaustOtherPort === 'ECONNREFUSED',
    listen: r.listen,
  };
}

test("port choice and bind conflicts: usnet has the kernel's shape", { skip, timeout: 60_000 }, async () => {
  const k = await kernel();
  const u = usnet();
  assert.deepEqual(shape(u), shape(k));
  // And what that shape is (observed on Linux 6.18):
  assert.deepEqual(shape(k), {
    connectEven: true,
    connectSmallSteps: true,
    bind0Odd: true,
    bind0ReuseOddLowerHalf: true,
    exhaustCount: 10,
    exhaustParity: [0, 0, 0, 0, 0, 1, 1, 1, 1, 1],
    exhaustAll: [40000, 40001, 40002, 40003, 40004, 40005, 40006, 40007, 40008, 40009],
    exhaustNext: 'EADDRNOTAVAIL',
    exhaustOtherPortGotAPort: true,
    listen: ['OK', 'OK', 'OK', 'EADDRINUSE', 'EADDRINUSE', 'EADDRINUSE', 'OK', 'EADDRNOTAVAIL'],
  });
});
