/**
 * What only usnet's createNet() has, or what node:net does against names
 * and addresses the kernel test cannot use: the hosts map and lookup option,
 * ENOTFOUND, 'localhost' on the stack's own loopback, a dual-stack '::'
 * listener (v4-mapped peer addresses, as Node shows them), local binds,
 * socket options reaching the TCP socket underneath.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import type { UsnetSocket } from '../../../src/node/net/index.js';
import { createNet } from '../../../src/node/net/index.js';
import { type TwoHosts, twoHosts } from '../../../src/node/net/two-hosts.js';

let h: TwoHosts;
const T = { timeout: 20_000 };

before(() => {
  h = twoHosts({ hosts: { 'web.test': '198.18.0.2' } });
});
after(() => h.close());

async function serve(port: number, host?: string): Promise<void> {
  const srv = h.netB.createServer((s) => s.end(`hi ${s.remoteAddress} ${s.remoteFamily}`));
  srv.listen(port, host);
  await once(srv, 'listening');
}

function readAll(s: UsnetSocket): Promise<string> {
  let out = '';
  s.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((resolve, reject) => {
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

test(
  'host names from the hosts map connect, with a lookup event; unknown names fail with ENOTFOUND',
  T,
  async () => {
    await serve(1001, '198.18.0.2');
    const c = h.netA.connect(1001, 'web.test');
    const [err, address, family, host] = await once(c, 'lookup');
    assert.deepEqual([err, address, family, host], [null, '198.18.0.2', 4, 'web.test']);
    assert.equal(await readAll(c), 'hi 198.18.0.1 IPv4');
    const bad = h.netA.connect(1001, 'nowhere.test');
    const [e] = (await once(bad, 'error').catch((x: unknown) => [x])) as [
      Error & { code: string; syscall: string },
    ];
    assert.equal(e.code, 'ENOTFOUND');
    assert.equal(e.syscall, 'getaddrinfo');
    assert.equal(e.message, 'getaddrinfo ENOTFOUND nowhere.test');
  },
);

test('a lookup function (dns.lookup shape) resolves other names', T, async () => {
  await serve(1002, '198.18.0.2');
  const net = createNet({
    stack: h.a,
    driver: h.driver,
    lookup: (name, _opts, cb) =>
      queueMicrotask(() => cb(null, name === 'b.example' ? '198.18.0.2' : '0.0.0.0', 4)),
  });
  const c = net.connect({ host: 'b.example', port: 1002 });
  assert.equal(await readAll(c), 'hi 198.18.0.1 IPv4');
});

test("'localhost' connects over the stack's own loopback", T, async () => {
  const srv = h.netA.createServer((s) => s.end(`local ${s.remoteAddress}`));
  srv.listen(1003, '127.0.0.1');
  await once(srv, 'listening');
  const c = h.netA.connect(1003);
  assert.equal(await readAll(c), 'local 127.0.0.1');
  assert.equal(c.remoteAddress, '127.0.0.1');
});

test("listen() without a host is dual-stack '::', IPv4 peers appear v4-mapped (as in Node)", T, async () => {
  await serve(1004);
  const c = h.netA.connect(1004, '198.18.0.2');
  assert.equal(await readAll(c), 'hi ::ffff:198.18.0.1 IPv6');
});

test('localAddress/localPort bind the client; a foreign local address is EADDRNOTAVAIL', T, async () => {
  await serve(1005, '198.18.0.2');
  const c = h.netA.connect({ host: '198.18.0.2', port: 1005, localAddress: '198.18.0.1', localPort: 45000 });
  await once(c, 'connect');
  assert.equal(c.localPort, 45000);
  assert.equal(await readAll(c), 'hi 198.18.0.1 IPv4');
  const bad = h.netA.connect({ host: '198.18.0.2', port: 1005, localAddress: '198.18.0.9' });
  const [e] = (await once(bad, 'error').catch((x: unknown) => [x])) as [
    Error & { code: string; syscall: string },
  ];
  assert.equal(e.code, 'EADDRNOTAVAIL');
  assert.equal(e.syscall, 'bind');
});

test(
  'setNoDelay / setKeepAlive reach the TCP socket (TCP_NODELAY, SO_KEEPALIVE, TCP_KEEPIDLE)',
  T,
  async () => {
    await serve(1006, '198.18.0.2');
    const c = h.netA.connect(1006, '198.18.0.2');
    c.setNoDelay(true);
    c.setKeepAlive(true, 30_000);
    const sock = c.sock;
    assert.ok(sock !== null);
    assert.equal(sock.getsockopt('TCP_NODELAY'), 1);
    assert.equal(sock.getsockopt('SO_KEEPALIVE'), 1);
    assert.equal(sock.getsockopt('TCP_KEEPIDLE'), 30);
    await readAll(c);
  },
);

test('maxConnections: connections beyond it are accepted and closed at once', T, async () => {
  const srv = h.netB.createServer((s) => s.resume());
  srv.maxConnections = 1;
  srv.listen(1007, '198.18.0.2');
  await once(srv, 'listening');
  const c1 = h.netA.connect(1007, '198.18.0.2');
  await once(c1, 'connect');
  await new Promise((r) => setTimeout(r, 20));
  const c2 = h.netA.connect(1007, '198.18.0.2');
  c2.resume();
  await once(c2, 'end');
  const n = await new Promise<number>((r) => srv.getConnections((_e, k) => r(k)));
  assert.equal(n, 1);
  c1.destroy();
  c2.destroy();
  srv.close();
});

test(
  'a call made long after the last driver step uses the current clock (no spurious retransmission, TIME-WAIT kept)',
  T,
  async () => {
    const srv = h.netB.createServer((s) => s.resume()); // ends when the client does
    srv.listen(1008, '198.18.0.2');
    await once(srv, 'listening');
    const c = h.netA.connect(1008, '198.18.0.2');
    c.resume();
    await once(c, 'connect');
    const retrans = () => h.a.counters.get('TcpRetransSegs') + h.b.counters.get('TcpRetransSegs');
    const before = retrans();
    const port = c.localPort;
    // Idle: nothing is due, so the driver does not step and the stacks' clocks stand still.
    await new Promise((r) => setTimeout(r, 400));
    const closed = once(c, 'close');
    c.end();
    await closed;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(retrans() - before, 0, 'a segment was retransmitted');
    const row = (h.a.tcp as unknown as { list(): { state: string; lport: number }[] })
      .list()
      .find((r) => r.lport === port);
    assert.equal(row?.state, 'TIME-WAIT');
  },
);

function script(code: string, timeoutMs: number) {
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    encoding: 'utf8',
    timeout: timeoutMs,
  });
}

test(
  'process lifetime as with node:net: exits once sockets and servers are closed, TIME_WAIT notwithstanding',
  T,
  () => {
    const r = script(
      `import { twoHosts } from './src/node/net/two-hosts.ts';
     const h = twoHosts();
     const srv = h.netB.createServer((s) => s.end('bye'));
     srv.listen(9, '198.18.0.2', () => {
       const c = h.netA.connect(9, '198.18.0.2');
       c.on('data', (d) => console.log(String(d)));
       c.on('close', () => srv.close(() => console.log('tw', h.b.tcp.list().filter((r) => r.state === 'TIME-WAIT').length)));
     });`,
      15_000,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'bye\ntw 1\n');
  },
);

test('process lifetime: a listening server keeps the process alive, unless unref()', T, () => {
  const alive = script(
    `import { twoHosts } from './src/node/net/two-hosts.ts';
     twoHosts().netB.createServer().listen(9, '198.18.0.2', () => console.log('listening'));`,
    2500,
  );
  assert.equal(alive.signal, 'SIGTERM', 'the process ended while a server was listening');
  assert.equal(alive.stdout, 'listening\n');
  const unref = script(
    `import { twoHosts } from './src/node/net/two-hosts.ts';
     twoHosts().netB.createServer().listen(9, '198.18.0.2', () => console.log('listening')).unref();`,
    15_000,
  );
  assert.equal(unref.status, 0, unref.stderr);
  assert.equal(unref.stdout, 'listening\n');
});
