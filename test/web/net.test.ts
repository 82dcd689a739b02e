import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { TcpLayer } from '../../src/tcp/tcp.js';
import type { NetError } from '../../src/web/errors.js';
import type { Socket } from '../../src/web/net.js';
import { A, B, concat, once, states, until, type WebPair, webPair } from './pair.js';

let p: WebPair | null = null;
function pair(...args: Parameters<typeof webPair>): WebPair {
  p = webPair(...args);
  return p;
}
afterEach(() => {
  p?.stop();
  p = null;
});

function pattern(n: number, seed = 7): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

describe('web net: connect, data, end, close', () => {
  it('echoes with the events and addresses of node:net', async () => {
    const { netA, netB } = pair();
    const events: string[] = [];
    let serverSide: Socket | null = null;
    const server = netB.createServer((s) => {
      serverSide = s;
      s.on('data', (d: Uint8Array) => s.write(d));
    });
    await once(server.listen(7000, B), 'listening');
    assert.deepEqual(server.address(), { address: B, family: 'IPv4', port: 7000 });
    const c = netA.connect(7000, B);
    assert.equal(c.connecting, true);
    assert.equal(c.readyState, 'opening');
    const got: Uint8Array[] = [];
    c.on('connect', () => events.push('connect'));
    c.on('ready', () => events.push('ready'));
    c.on('data', (d: Uint8Array) => {
      events.push('data');
      got.push(d);
      if (concat(got).length === 5) c.end();
    });
    c.on('end', () => events.push('end'));
    c.on('finish', () => events.push('finish'));
    const closed = once(c, 'close');
    c.write('hello');
    const [hadError] = await closed;
    assert.equal(hadError, false);
    assert.equal(new TextDecoder().decode(concat(got)), 'hello');
    assert.deepEqual(events.slice(0, 2), ['connect', 'ready']);
    assert.ok(events.includes('end') && events.includes('finish'));
    assert.equal(events[events.length - 1] === 'end' || events[events.length - 1] === 'finish', true);
    assert.equal(c.remoteAddress, B);
    assert.equal(c.remotePort, 7000);
    assert.equal(c.remoteFamily, 'IPv4');
    assert.equal(c.localAddress, A);
    assert.ok(
      (c.localPort ?? 0) >= 32768 && (c.localPort ?? 0) <= 60999,
      'ephemeral port from ip_local_port_range',
    );
    assert.equal(c.bytesWritten, 5);
    assert.equal(c.bytesRead, 5);
    assert.equal(c.destroyed, true);
    assert.ok(serverSide !== null);
    const ss = serverSide as Socket;
    await until(() => ss.destroyed, 5000, 'server side closed');
    assert.equal(ss.remoteAddress, A);
    assert.equal(ss.remotePort, c.localPort);
    assert.equal(ss.bytesRead, 5);
    // The client closed first: its side of the connection sits in TIME-WAIT, as on Linux.
    await until(() => states(p!.a).includes('TIME-WAIT'), 5000, 'client TIME-WAIT');
  });

  it('connects with options, a callback, createConnection and a local port', async () => {
    const { netA, netB } = pair();
    const server = netB.createServer((s) => s.end('bye'));
    await once(server.listen({ port: 7001, host: B }), 'listening');
    const c = netA.createConnection({ port: 7001, host: B, localPort: 40000, localAddress: A });
    let cbCalled = false;
    c.once('connect', () => {
      cbCalled = true;
    });
    c.setEncoding('utf8');
    let text = '';
    c.on('data', (d: string) => {
      text += d;
    });
    await once(c, 'close');
    assert.equal(cbCalled, true);
    assert.equal(text, 'bye');
    assert.equal(c.localPort, 40000);
    assert.deepEqual(c.address(), { address: A, family: 'IPv4', port: 40000 });
  });

  it('decodes UTF-8 split across chunks with setEncoding', async () => {
    const { netA, netB } = pair();
    const bytes = new TextEncoder().encode('héllo wörld €');
    const server = netB.createServer((s) => {
      // One byte per write with TCP_NODELAY: multi-byte characters arrive split.
      s.setNoDelay(true);
      let i = 0;
      const next = () => {
        if (i === bytes.length) {
          s.end();
          return;
        }
        s.write(bytes.subarray(i, i + 1), () => setTimeout(next, 1));
        i++;
      };
      next();
    });
    await once(server.listen(7002, B), 'listening');
    const c = netA.connect(7002, B);
    c.setEncoding('utf8');
    let text = '';
    c.on('data', (d: string) => {
      assert.equal(typeof d, 'string');
      text += d;
    });
    await once(c, 'close');
    assert.equal(text, 'héllo wörld €');
  });
});

describe('web net: errors shaped like Node', () => {
  it('ECONNREFUSED with syscall, address, port and a negative errno', async () => {
    const { netA } = pair();
    const c = netA.connect(7999, B);
    const closed = once(c, 'close');
    const [err] = (await once(c, 'error')) as [NetError];
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(err.syscall, 'connect');
    assert.equal(err.address, B);
    assert.equal(err.port, 7999);
    assert.equal(err.errno, -111);
    assert.equal(err.message, `connect ECONNREFUSED ${B}:7999`);
    const [hadError] = await closed;
    assert.equal(hadError, true);
  });

  it('EADDRINUSE from a second listen on the same port', async () => {
    const { netB } = pair();
    const s1 = netB.createServer();
    await once(s1.listen(7003, B), 'listening');
    const s2 = netB.createServer();
    s2.listen(7003, B);
    const [err] = (await once(s2, 'error')) as [NetError];
    assert.equal(err.code, 'EADDRINUSE');
    assert.equal(err.syscall, 'listen');
    assert.equal(err.port, 7003);
    assert.equal(err.message, `listen EADDRINUSE: address already in use ${B}:7003`);
    assert.equal(s2.listening, false);
    assert.equal(s2.address(), null);
  });

  it('ENOTFOUND for a host name (no DNS here)', async () => {
    const { netA } = pair();
    const c = netA.connect(80, 'example.invalid');
    const [err] = (await once(c, 'error')) as [NetError];
    assert.equal(err.code, 'ENOTFOUND');
    assert.equal(err.syscall, 'getaddrinfo');
    assert.equal(err.hostname, 'example.invalid');
  });

  it('ECONNRESET when the peer destroys with unread data (RST)', async () => {
    const { netA, netB } = pair();
    const server = netB.createServer({ pauseOnConnect: true }, (s) => {
      // Never reads: destroy() discards unread bytes, so Linux answers with RST.
      setTimeout(() => s.destroy(), 20);
    });
    await once(server.listen(7004, B), 'listening');
    const c = netA.connect(7004, B);
    c.on('data', () => {});
    c.write('unread bytes');
    const closed = once(c, 'close');
    const [err] = (await once(c, 'error')) as [NetError];
    assert.equal(err.code, 'ECONNRESET');
    assert.equal(err.syscall, 'read');
    await closed;
    assert.ok(p!.a.counters.get('TcpEstabResets') >= 1 || p!.b.counters.get('TcpExtTCPAbortOnClose') >= 1);
  });

  it('write after end fails with ERR_STREAM_WRITE_AFTER_END', async () => {
    const { netA, netB } = pair();
    const server = netB.createServer((s) => s.resume());
    await once(server.listen(7005, B), 'listening');
    const c = netA.connect(7005, B);
    await once(c, 'connect');
    c.end();
    let cbErr: Error | null | undefined;
    assert.equal(
      c.write('late', (e) => {
        cbErr = e;
      }),
      false,
    );
    const [err] = (await once(c, 'error')) as [NetError];
    assert.equal(err.code, 'ERR_STREAM_WRITE_AFTER_END');
    assert.equal((cbErr as NetError).code, 'ERR_STREAM_WRITE_AFTER_END');
    c.destroy();
  });
});

describe('web net: flow control', () => {
  it('write returns false while the peer does not read, then drain; every byte arrives', async () => {
    const { netA, netB } = pair();
    const box: { s: Socket | null } = { s: null };
    const srv = netB.createServer({ pauseOnConnect: true }, (s) => {
      box.s = s;
    });
    await once(srv.listen(7006, B), 'listening');
    const c = netA.connect(7006, B);
    await once(c, 'connect');
    await until(() => box.s !== null, 5000, 'accepted');
    const s = box.s as unknown as Socket;
    const total = 4 << 20;
    const data = pattern(total, 3);
    let written = 0;
    let falses = 0;
    const writer = (async () => {
      while (written < total) {
        const part = data.subarray(written, written + 65536);
        written += part.length;
        if (!c.write(part)) {
          falses++;
          await once(c, 'drain', 30_000);
        }
      }
      c.end();
    })();
    // The server does not read: its window closes and the client probes it (persist timer), the writer stalls.
    await until(
      () => (p!.a.tcp as TcpLayer).list().some((r) => r.timer === 'persist'),
      10_000,
      'zero window (persist timer)',
    );
    assert.ok(written < total, 'the writer is held back');
    assert.ok(falses >= 1, 'write() returned false');
    assert.equal(s.bytesRead, 0);
    assert.equal(s.readableLength, 0, 'pauseOnConnect reads nothing');
    assert.ok((s.tcp?.recvQueue ?? 0) > 0, 'bytes wait in the TCP receive buffer');
    const got: Uint8Array[] = [];
    s.on('data', (d: Uint8Array) => got.push(d));
    const ended = once(s, 'end', 30_000); // listen first: the FIN may be read while the writer finishes
    s.resume();
    await writer;
    await ended;
    const all = concat(got);
    assert.equal(all.length, total);
    assert.deepEqual(all, data);
    assert.equal(c.bytesWritten, total);
    assert.equal(s.bytesRead, total);
  });

  it('pause() stops data events and resume() delivers the rest', async () => {
    const { netA, netB } = pair();
    const srv = netB.createServer((s) => {
      s.write('first');
      setTimeout(() => s.end('second'), 30);
    });
    await once(srv.listen(7007, B), 'listening');
    const c = netA.connect(7007, B);
    c.setEncoding('utf8');
    const seen: string[] = [];
    c.on('data', (d: string) => {
      seen.push(d);
      c.pause();
      assert.equal(c.isPaused(), true);
      setTimeout(() => c.resume(), 60);
    });
    await once(c, 'end');
    assert.equal(seen.join(''), 'firstsecond');
  });
});

describe('web net: half-open and closing', () => {
  it('allowHalfOpen keeps the server writable after the client ends', async () => {
    const { netA, netB } = pair();
    const order: string[] = [];
    const srv = netB.createServer({ allowHalfOpen: true }, (s) => {
      s.resume();
      s.on('end', () => {
        order.push('server end');
        // Still open for writing: CLOSE-WAIT.
        assert.equal(s.readyState, 'writeOnly');
        setTimeout(() => s.end('late reply'), 20);
      });
    });
    await once(srv.listen(7008, B), 'listening');
    const c = netA.connect({ port: 7008, host: B, allowHalfOpen: true });
    c.setEncoding('utf8');
    let text = '';
    c.on('data', (d: string) => {
      text += d;
    });
    await once(c, 'connect');
    const closed = once(c, 'close');
    c.end();
    await until(() => states(p!.b).includes('CLOSE-WAIT'), 5000, 'server CLOSE-WAIT');
    await closed;
    assert.equal(text, 'late reply');
    assert.deepEqual(order, ['server end']);
  });

  it('without allowHalfOpen the server ends as soon as the client does', async () => {
    const { netA, netB } = pair();
    let serverFinished = false;
    const srv = netB.createServer((s) => {
      s.resume();
      s.on('finish', () => {
        serverFinished = true;
      });
    });
    await once(srv.listen(7009, B), 'listening');
    const c = netA.connect(7009, B);
    c.resume();
    await once(c, 'connect');
    c.end();
    await once(c, 'close');
    assert.equal(serverFinished, true);
  });

  it('server.close waits for connections; getConnections counts them', async () => {
    const { netA, netB } = pair();
    let accepted = 0;
    const srv = netB.createServer((s) => {
      accepted++;
      s.resume();
    });
    await once(srv.listen(7010, B), 'listening');
    const c1 = netA.connect(7010, B);
    const c2 = netA.connect(7010, B);
    c1.resume();
    c2.resume();
    await Promise.all([once(c1, 'connect'), once(c2, 'connect')]);
    await until(() => accepted === 2, 5000, 'both accepted');
    const count = await new Promise<number>((r) => srv.getConnections((_e, n) => r(n)));
    assert.equal(count, 2);
    let closed = false;
    srv.close(() => {
      closed = true;
    });
    assert.equal(srv.listening, false);
    // A new connection is refused now.
    const c3 = netA.connect(7010, B);
    const [err] = (await once(c3, 'error')) as [NetError];
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(closed, false, "'close' waits for open connections");
    c1.end();
    c2.end();
    await until(() => closed, 5000, "server 'close'");
    let notRunning: Error | undefined;
    srv.close((e) => {
      notRunning = e;
    });
    await until(() => notRunning !== undefined, 1000);
    assert.equal((notRunning as NetError).code, 'ERR_SERVER_NOT_RUNNING');
  });

  it('resetAndDestroy aborts with RST: the peer sees ECONNRESET', async () => {
    const { netA, netB } = pair();
    const box: { s: Socket | null } = { s: null };
    const srv = netB.createServer((s) => {
      box.s = s;
      s.resume();
    });
    await once(srv.listen(7011, B), 'listening');
    const c = netA.connect(7011, B);
    await once(c, 'connect');
    await until(() => box.s !== null);
    const perr = once(box.s as unknown as Socket, 'error');
    c.resetAndDestroy();
    const [err] = (await perr) as [NetError];
    assert.equal(err.code, 'ECONNRESET');
    assert.ok(!states(p!.a).includes('TIME-WAIT'), 'an abort leaves no TIME-WAIT');
  });
});

describe('web net: options and timers', () => {
  it("setTimeout emits 'timeout' on an idle socket and leaves it open", async () => {
    const { netA, netB } = pair();
    const srv = netB.createServer((s) => s.resume());
    await once(srv.listen(7012, B), 'listening');
    const c = netA.connect(7012, B);
    c.resume();
    await once(c, 'connect');
    let called = false;
    c.setTimeout(30, () => {
      called = true;
    });
    await once(c, 'timeout');
    assert.equal(called, true);
    assert.equal(c.destroyed, false);
    assert.equal(states(p!.a).includes('ESTAB'), true);
    c.setTimeout(0);
    c.destroy();
  });

  it('setNoDelay and setKeepAlive set TCP_NODELAY, SO_KEEPALIVE and TCP_KEEPIDLE', async () => {
    const { netA, netB } = pair();
    const srv = netB.createServer((s) => s.resume());
    await once(srv.listen(7013, B), 'listening');
    const c = netA.connect(7013, B);
    c.setNoDelay(true);
    c.setKeepAlive(true, 5000);
    await once(c, 'connect');
    assert.equal(c.tcp?.getsockopt('TCP_NODELAY'), 1);
    assert.equal(c.tcp?.getsockopt('SO_KEEPALIVE'), 1);
    assert.equal(c.tcp?.getsockopt('TCP_KEEPIDLE'), 5);
    c.setNoDelay(false);
    assert.equal(c.tcp?.getsockopt('TCP_NODELAY'), 0);
    c.destroy();
  });
});

describe('web net: WHATWG stream views', () => {
  it('socket.toWeb() streams carry the bytes and the FIN', async () => {
    const { netA, netB } = pair();
    // allowHalfOpen: the client's FIN must not end the server's side while echoed bytes are still queued.
    const srv = netB.createServer({ allowHalfOpen: true }, async (s) => {
      // Echo through the web streams: readable → writable.
      const w = s.toWeb();
      await w.readable.pipeTo(w.writable);
    });
    await once(srv.listen(7014, B), 'listening');
    const c = netA.connect({ port: 7014, host: B, allowHalfOpen: true });
    await once(c, 'connect');
    const data = pattern(300_000, 11);
    const web = c.toWeb();
    assert.equal(web.readable, c.toWeb().readable);
    const writer = web.writable.getWriter();
    const reading = (async () => {
      const parts: Uint8Array[] = [];
      const reader = web.readable.getReader();
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        parts.push(r.value);
      }
      return concat(parts);
    })();
    for (let i = 0; i < data.length; i += 10_000) await writer.write(data.subarray(i, i + 10_000));
    await writer.close();
    const echoed = await reading;
    assert.equal(echoed.length, data.length);
    assert.deepEqual(echoed, data);
  });
});

describe('web net: calls from outside a driver step', () => {
  it('a FIN sent from a timer long after the last step is not retransmitted early; TIME-WAIT survives', async () => {
    // The stacks' clocks stand still between steps; without BrowserDriver.sync() the FIN would be
    // stamped with a stale time, its retransmission timer would fire before the ACK could return,
    // and the peer's RST to the duplicate would kill our TIME-WAIT (rfc1337 = 0).
    const { netA, netB, a, b } = pair({ delay: 20 });
    const srv = netB.createServer({ allowHalfOpen: true }, (s) => {
      s.resume();
      s.on('end', () => setTimeout(() => s.end(), 300));
    });
    await once(srv.listen(7020, B), 'listening');
    const c = netA.connect(7020, B);
    c.resume();
    await once(c, 'connect');
    c.end('bye');
    await once(c, 'close');
    await until(
      () => (b.tcp as TcpLayer).list().every((r) => r.state === 'LISTEN'),
      5000,
      'server side gone',
    );
    assert.equal(b.counters.get('TcpRetransSegs'), 0);
    assert.equal(b.counters.get('TcpExtTCPLossProbes'), 0);
    assert.ok(states(a).includes('TIME-WAIT'));
  });
});

describe('web net: IPv6', () => {
  it("connects over IPv6, and a '::' listener takes IPv4 as v4-mapped, as Node shows it", async () => {
    const { netA, netB, a, b } = pair();
    a.addAddress('eth0', 'fd00::1/64');
    b.addAddress('eth0', 'fd00::2/64');
    const peers: string[] = [];
    const srv = netB.createServer((s) => {
      peers.push(`${s.remoteFamily} ${s.remoteAddress}`);
      s.end('hi');
    });
    await once(srv.listen(9000, '::'), 'listening');
    assert.deepEqual(srv.address(), { address: '::', family: 'IPv6', port: 9000 });
    for (const host of ['fd00::2', B]) {
      const c = netA.connect(9000, host);
      c.resume();
      await once(c, 'close');
    }
    assert.deepEqual(peers, ['IPv6 fd00::1', `IPv6 ::ffff:${A}`]);
  });
});

describe('web net: orderings around connect', () => {
  it('destroy() while connecting: close without error, no connect', async () => {
    const { netA, netB } = pair();
    const srv = netB.createServer((s) => s.resume());
    await once(srv.listen(7030, B), 'listening');
    const c = netA.connect(7030, B);
    let connected = false;
    c.on('connect', () => {
      connected = true;
    });
    c.destroy();
    const [hadError] = await once(c, 'close');
    assert.equal(hadError, false);
    assert.equal(connected, false);
    assert.equal(c.readyState, 'closed');
  });

  it('write and end before the handshake completes: the bytes, then the FIN', async () => {
    const { netA, netB } = pair();
    const got: string[] = [];
    const srv = netB.createServer((s) => {
      s.setEncoding('utf8');
      s.on('data', (d: string) => got.push(d));
    });
    await once(srv.listen(7031, B), 'listening');
    const c = netA.connect(7031, B);
    c.resume(); // as in Node, 'end' (and so 'close') needs the readable side consumed
    const order: string[] = [];
    assert.equal(
      c.write('early ', () => order.push('write cb')),
      true,
    );
    c.end('and last', () => order.push('finish'));
    await once(c, 'close');
    assert.equal(got.join(''), 'early and last');
    assert.deepEqual(order, ['write cb', 'finish']);
  });

  it('listen(0) picks an ephemeral port; connect({ timeout }) times out while the SYN goes unanswered', async () => {
    const { netA, netB } = pair();
    const srv = netB.createServer();
    await once(srv.listen(0, B), 'listening');
    const port = srv.address()?.port ?? 0;
    assert.ok(port >= 32768 && port <= 60999, `port ${port}`);
    // 198.18.0.3 is on the wire's subnet but nobody owns it: the SYN is never answered.
    const c = netA.connect({ port: 80, host: '198.18.0.3', timeout: 50 });
    await once(c, 'timeout');
    assert.equal(c.connecting, true);
    assert.deepEqual(states(p!.a), ['SYN-SENT']);
    c.destroy();
    await once(c, 'close');
    assert.deepEqual(states(p!.a), []);
  });
});
