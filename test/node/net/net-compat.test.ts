/**
 * node:net compatibility, written once, run twice: against node:net over the
 * kernel loopback (the reference) and against usnet's createNet() on two
 * stacks in real time. The cases follow Node's own test/parallel/test-net-*
 * tests: connect/end/destroy orderings, half-open with allowHalfOpen,
 * backpressure and 'drain', setTimeout, ECONNREFUSED / EADDRINUSE errors,
 * server.close() with open connections, getConnections(), address().
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { type Impl, kernelImpl, usnetImpl } from './impls.js';

// biome-ignore lint/suspicious/noExplicitAny: sockets of either implementation
type Sock = any;
// biome-ignore lint/suspicious/noExplicitAny: servers of either implementation
type Srv = any;

const T = { timeout: 20_000 };

function collect(s: Sock): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on('data', (d: Buffer) => parts.push(d));
  return new Promise((resolve, reject) => {
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
}

function events(s: Sock, names: string[]): string[] {
  const seen: string[] = [];
  for (const n of names) s.on(n, () => seen.push(n));
  return seen;
}

function cases(impl: Impl): void {
  const servers: Srv[] = [];

  async function listen(
    opts: object | null,
    onConn?: (s: Sock) => void,
  ): Promise<{ srv: Srv; port: number }> {
    const srv: Srv = opts === null ? impl.server.createServer() : impl.server.createServer(opts);
    if (onConn) srv.on('connection', onConn);
    srv.listen(0, impl.host);
    await once(srv, 'listening');
    servers.push(srv);
    return { srv, port: srv.address().port };
  }

  async function connectTo(port: number, opts: object = {}): Promise<Sock> {
    const c: Sock = impl.client.connect({ port, host: impl.host, ...opts });
    await once(c, 'connect');
    return c;
  }

  before(() => impl.setup());
  after(async () => {
    for (const s of servers) if (s.listening) s.close();
    impl.teardown();
  });

  test(
    'connect: events, properties and states before and after (test-net-connect-options, -socket-connecting)',
    T,
    async () => {
      let accepted: Sock = null;
      const { port } = await listen(null, (s) => {
        accepted = s;
      });
      const c: Sock = impl.client.createConnection(port, impl.host);
      const seen = events(c, ['connect', 'ready']);
      assert.equal(c.connecting, true);
      assert.equal(c.pending, true);
      assert.equal(c.readyState, 'opening');
      await once(c, 'ready');
      assert.deepEqual(seen, ['connect', 'ready']);
      assert.equal(c.connecting, false);
      assert.equal(c.pending, false);
      assert.equal(c.readyState, 'open');
      assert.equal(c.remoteAddress, impl.host);
      assert.equal(c.remotePort, port);
      assert.equal(c.remoteFamily, 'IPv4');
      assert.equal(c.localAddress, impl.clientHost);
      assert.ok(c.localPort >= 1024 && c.localPort <= 65535);
      assert.deepEqual(c.address(), { address: impl.clientHost, family: 'IPv4', port: c.localPort });
      for (let i = 0; i < 200 && accepted === null; i++) await new Promise((r) => setTimeout(r, 5));
      assert.ok(accepted !== null);
      assert.equal(accepted.remoteAddress, impl.clientHost);
      assert.equal(accepted.remotePort, c.localPort);
      assert.equal(accepted.localPort, port);
      assert.equal(c.setNoDelay(true), c);
      assert.equal(c.setKeepAlive(true, 10_000), c);
      c.destroy();
      await once(accepted, 'close');
    },
  );

  test(
    'echo: 1 MiB both ways intact, bytesRead/bytesWritten, write and end callbacks (test-net-bytes-stats)',
    T,
    async () => {
      const { port } = await listen(null, (s) => s.pipe(s));
      const c = await connectTo(port);
      const data = randomBytes(1 << 20);
      const got = collect(c);
      const closed = once(c, 'close');
      let writeCb = false;
      c.write(data.subarray(0, 1000), () => {
        writeCb = true;
      });
      const ended = new Promise<void>((r) => c.end(data.subarray(1000), () => r()));
      const back = await got;
      await ended;
      assert.ok(writeCb);
      assert.equal(back.length, data.length);
      assert.ok(back.equals(data));
      assert.equal(c.bytesRead, data.length);
      assert.equal(c.bytesWritten, data.length);
      const [hadError] = await closed;
      assert.equal(hadError, false);
    },
  );

  test(
    'end(): the peer sees end, answers with its own FIN (allowHalfOpen false), both close (test-net-end-close)',
    T,
    async () => {
      const order: string[] = [];
      const { port } = await listen(null, (s) => {
        s.on('end', () => order.push('server end'));
        s.on('close', (e: boolean) => order.push(`server close ${e}`));
        s.resume();
      });
      const c = await connectTo(port);
      c.on('finish', () => order.push('client finish'));
      c.on('end', () => order.push('client end'));
      c.resume();
      c.end();
      await once(c, 'close');
      for (let i = 0; i < 200 && order.length < 5; i++) await new Promise((r) => setTimeout(r, 5));
      assert.ok(order.indexOf('client finish') < order.indexOf('client end'));
      assert.ok(order.indexOf('server end') < order.indexOf('client end'));
      assert.ok(order.includes('server close false'));
      assert.equal(c.readyState, 'closed');
      assert.equal(c.destroyed, true);
    },
  );

  test(
    'half-open: with allowHalfOpen the server keeps writing after the client ended (test-net-allow-half-open)',
    T,
    async () => {
      const { port } = await listen({ allowHalfOpen: true }, (s) => {
        s.resume();
        s.on('end', () => {
          assert.equal(s.writable, true);
          assert.equal(s.readyState, 'writeOnly');
          s.write('after ');
          setTimeout(() => s.end('your end'), 20);
        });
      });
      const c = await connectTo(port);
      const got = collect(c);
      const closed = once(c, 'close');
      c.end();
      assert.equal(c.readyState, 'readOnly');
      assert.equal((await got).toString(), 'after your end');
      await closed;
    },
  );

  test(
    'destroy(): the peer reads end of stream and closes; writes after destroy fail (test-net-socket-destroy-twice)',
    T,
    async () => {
      let srvSock: Sock = null;
      const { port } = await listen(null, (s) => {
        srvSock = s;
        s.resume();
      });
      const c = await connectTo(port);
      for (let i = 0; i < 200 && srvSock === null; i++) await new Promise((r) => setTimeout(r, 5));
      const srvEnd = once(srvSock, 'end');
      const srvClosed = once(srvSock, 'close');
      const closed = once(c, 'close');
      c.destroy();
      c.destroy(); // twice is harmless
      assert.equal(c.destroyed, true);
      const [hadError] = await closed;
      assert.equal(hadError, false);
      await srvEnd;
      await srvClosed;
      const err = await new Promise<Error & { code: string }>((r) => c.write('x', r));
      assert.equal(err.code, 'ERR_STREAM_DESTROYED');
    },
  );

  test(
    'resetAndDestroy(): the peer gets ECONNRESET from read and closes with hadError (test-net-socket-reset-and-destroy)',
    T,
    async () => {
      let srvSock: Sock = null;
      const { port } = await listen(null, (s) => {
        srvSock = s;
        s.resume();
      });
      const c = await connectTo(port);
      for (let i = 0; i < 200 && srvSock === null; i++) await new Promise((r) => setTimeout(r, 5));
      const errP = once(srvSock, 'error').catch((e: unknown) => [e]);
      const closeP = new Promise<boolean>((r) => srvSock.on('close', r));
      c.resetAndDestroy();
      const [err] = (await errP) as [Error & { code: string; syscall: string; errno: number }];
      assert.equal(err.code, 'ECONNRESET');
      assert.equal(err.syscall, 'read');
      assert.equal(err.errno, -104);
      assert.equal(err.message, 'read ECONNRESET');
      assert.equal(await closeP, true);
    },
  );

  test(
    'backpressure: writes stall while the reader is paused, drain and every byte follow resume (test-net-write-after-close, -pause-resume)',
    T,
    async () => {
      let srvSock: Sock = null;
      const { port } = await listen({ pauseOnConnect: true }, (s) => {
        srvSock = s;
      });
      const c = await connectTo(port);
      for (let i = 0; i < 200 && srvSock === null; i++) await new Promise((r) => setTimeout(r, 5));
      const chunk = randomBytes(16 * 1024);
      const limit = 64 << 20;
      let queued = 0;
      let stalled = false;
      // Write while write() says go on; after a false, wait for drain. No drain
      // for 300 ms means the buffers on the path are full: flow control works.
      while (queued < limit) {
        queued += chunk.length;
        if (c.write(chunk)) continue;
        const drained = await Promise.race([
          once(c, 'drain').then(() => true),
          new Promise<boolean>((r) => setTimeout(() => r(false), 300)),
        ]);
        if (!drained) {
          stalled = true;
          break;
        }
      }
      assert.ok(stalled, `no backpressure: ${queued} bytes written to a paused reader`);
      assert.ok(c.writableLength > 0);
      let received = 0;
      srvSock.on('data', (d: Buffer) => {
        received += d.length;
      });
      const drain = once(c, 'drain');
      srvSock.resume();
      await drain;
      c.end();
      await once(srvSock, 'end');
      assert.equal(received, queued);
    },
  );

  test(
    'setTimeout: timeout fires on an idle socket without closing it; 0 disables (test-net-socket-timeout)',
    T,
    async () => {
      const { port } = await listen(null, (s) => s.resume());
      const c = await connectTo(port);
      const t0 = Date.now();
      c.setTimeout(60);
      assert.equal(c.timeout, 60);
      await once(c, 'timeout');
      assert.ok(Date.now() - t0 >= 55);
      assert.equal(c.destroyed, false);
      let fired = false;
      c.setTimeout(30, () => {
        fired = true;
      });
      c.setTimeout(0);
      await new Promise((r) => setTimeout(r, 80));
      assert.equal(fired, false);
      c.destroy();
    },
  );

  test('setTimeout: activity postpones the timeout (test-net-socket-timeout-unref)', T, async () => {
    const { port } = await listen(null, (s) => s.pipe(s));
    const c = await connectTo(port);
    let timeouts = 0;
    c.on('timeout', () => timeouts++);
    c.resume();
    c.setTimeout(300);
    // 360 ms of traffic, never 300 ms idle: no timeout.
    for (let i = 0; i < 12; i++) {
      c.write('ping');
      await new Promise((r) => setTimeout(r, 30));
    }
    assert.equal(timeouts, 0);
    await once(c, 'timeout');
    c.destroy();
  });

  test(
    'ECONNREFUSED: error shaped like Node, close with hadError (test-net-connect-econnrefused)',
    T,
    async () => {
      const { srv, port } = await listen(null);
      srv.close();
      await once(srv, 'close');
      const c: Sock = impl.client.connect(port, impl.host);
      const seen = events(c, ['connect']);
      const closed = new Promise<boolean>((r) => c.on('close', r));
      const [err] = (await once(c, 'error').catch((e: unknown) => [e])) as [
        Error & { code: string; errno: number; syscall: string; address: string; port: number },
      ];
      assert.equal(err.code, 'ECONNREFUSED');
      assert.equal(err.errno, -111);
      assert.equal(err.syscall, 'connect');
      assert.equal(err.address, impl.host);
      assert.equal(err.port, port);
      assert.equal(err.message, `connect ECONNREFUSED ${impl.host}:${port}`);
      assert.equal(await closed, true);
      assert.deepEqual(seen, []);
      assert.equal(c.connecting, false);
    },
  );

  test(
    'EADDRINUSE: a second listen on the same address and port fails like Node (test-net-server-listen-handle)',
    T,
    async () => {
      const { port } = await listen(null);
      const srv2: Srv = impl.server.createServer();
      srv2.listen(port, impl.host);
      const [err] = (await once(srv2, 'error').catch((e: unknown) => [e])) as [
        Error & { code: string; errno: number; syscall: string; address: string; port: number },
      ];
      assert.equal(err.code, 'EADDRINUSE');
      assert.equal(err.errno, -98);
      assert.equal(err.syscall, 'listen');
      assert.equal(err.address, impl.host);
      assert.equal(err.port, port);
      assert.equal(err.message, `listen EADDRINUSE: address already in use ${impl.host}:${port}`);
      assert.equal(srv2.listening, false);
    },
  );

  test(
    'server.close(): stops accepting at once, emits close only after the last connection (test-net-server-close)',
    T,
    async () => {
      const { srv, port } = await listen(null, (s) => s.resume());
      const c1 = await connectTo(port);
      const c2 = await connectTo(port);
      for (let i = 0; i < 200; i++) {
        const n = await new Promise<number>((r) => srv.getConnections((_e: Error | null, k: number) => r(k)));
        if (n === 2) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(
        await new Promise<number>((r) => srv.getConnections((_e: Error | null, k: number) => r(k))),
        2,
      );
      let closed = false;
      const closeCb = new Promise<void>((r) =>
        srv.close(() => {
          closed = true;
          r();
        }),
      );
      assert.equal(srv.listening, false);
      assert.equal(srv.address(), null);
      // New connections are refused now.
      const c3: Sock = impl.client.connect(port, impl.host);
      const [err] = (await once(c3, 'error').catch((e: unknown) => [e])) as [Error & { code: string }];
      assert.equal(err.code, 'ECONNREFUSED');
      const c1closed = once(c1, 'close');
      c1.end();
      await c1closed;
      await new Promise((r) => setTimeout(r, 30));
      assert.equal(closed, false, 'server closed while a connection was still open');
      assert.equal(
        await new Promise<number>((r) => srv.getConnections((_e: Error | null, k: number) => r(k))),
        1,
      );
      c2.end();
      await closeCb;
      assert.equal(closed, true);
    },
  );

  test(
    'server.close() on a server that is not running calls back with ERR_SERVER_NOT_RUNNING',
    T,
    async () => {
      const srv: Srv = impl.server.createServer();
      const err = await new Promise<Error & { code: string }>((r) => srv.close(r));
      assert.equal(err.code, 'ERR_SERVER_NOT_RUNNING');
    },
  );

  test(
    'listen forms and address(): listen({port, host, backlog}, cb), listening flag (test-net-server-listen-options)',
    T,
    async () => {
      const srv: Srv = impl.server.createServer();
      assert.equal(srv.listening, false);
      assert.equal(srv.address(), null);
      await new Promise<void>((r) => srv.listen({ port: 0, host: impl.host, backlog: 5 }, r));
      servers.push(srv);
      assert.equal(srv.listening, true);
      const a = srv.address();
      assert.equal(a.address, impl.host);
      assert.equal(a.family, 'IPv4');
      assert.ok(a.port > 0);
      const c = await connectTo(a.port);
      assert.equal(c.remotePort, a.port);
      c.destroy();
      srv.close();
      await once(srv, 'close');
    },
  );

  test(
    'pause()/resume(): no data while paused, everything after resume (test-net-pause-resume-connecting)',
    T,
    async () => {
      const { port } = await listen(null, (s) => {
        s.end('hello world');
      });
      const c: Sock = impl.client.connect(port, impl.host);
      c.pause();
      let got = '';
      c.on('data', (d: Buffer) => {
        got += d.toString();
      });
      await once(c, 'connect');
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(got, '');
      assert.equal(c.isPaused(), true);
      c.resume();
      await once(c, 'end');
      assert.equal(got, 'hello world');
    },
  );

  test(
    'destroy() while connecting: close without connect or error (test-net-connect-immediately-destroy)',
    T,
    async () => {
      const { port } = await listen(null);
      const c: Sock = impl.client.connect(port, impl.host);
      const seen = events(c, ['connect', 'error']);
      c.destroy();
      const [hadError] = await once(c, 'close');
      assert.equal(hadError, false);
      await new Promise((r) => setTimeout(r, 30));
      assert.deepEqual(seen, []);
    },
  );

  test('writes queued while connecting go out once connected (test-net-connect-buffer)', T, async () => {
    const { port } = await listen(null, (s) => s.pipe(s));
    const c: Sock = impl.client.connect(port, impl.host);
    assert.equal(c.write('queued '), true);
    c.end('before connect');
    const got = await collect(c);
    assert.equal(got.toString(), 'queued before connect');
  });

  test('new Socket() + connect(options, cb); net.isIP', T, async () => {
    const { port } = await listen(null, (s) => s.end('hi'));
    const c: Sock = new impl.client.Socket();
    assert.equal(c.pending, true);
    assert.equal(c.connecting, false);
    await new Promise<void>((r) => c.connect({ port, host: impl.host }, r));
    const got = await collect(c);
    assert.equal(got.toString(), 'hi');
    assert.equal(impl.client.isIP('198.18.0.1'), 4);
    assert.equal(impl.client.isIP('fd00::1'), 6);
    assert.equal(impl.client.isIP('example'), 0);
  });

  test('invalid port is a synchronous ERR_SOCKET_BAD_PORT', T, () => {
    assert.throws(() => impl.client.connect(70000, impl.host), { code: 'ERR_SOCKET_BAD_PORT' });
  });
}

for (const impl of [kernelImpl(), usnetImpl()]) describe(impl.name, () => cases(impl));
