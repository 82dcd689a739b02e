import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryWire } from '../../src/link/memory-wire.js';
import { PcapTap } from '../../src/link/pcap-tap.js';
import { World } from '../../src/sim/world.js';
import type { TcpSocket } from '../../src/socket/tcp-socket.js';
import { Stack } from '../../src/stack.js';
import { TcpLayer } from '../../src/tcp/tcp.js';
import { BrowserDriver } from '../../src/web/driver.js';
import { Emitter } from '../../src/web/emitter.js';
import { createHttpServer, HttpClient } from '../../src/web/http.js';
import { SegmentLog, tcpFlagString } from '../../src/web/segment-log.js';
import { StateRecorder, ssRows } from '../../src/web/ss.js';
import { B, once, until, type WebPair, webPair } from './pair.js';

describe('Emitter', () => {
  it('runs listeners in order, once listeners once, and throws an unheard error', () => {
    const e = new Emitter();
    const seen: string[] = [];
    const f = (x: string) => seen.push(`f${x}`);
    e.on('x', f);
    e.once('x', (x: string) => seen.push(`once${x}`));
    e.on('x', (x: string) => seen.push(`g${x}`));
    assert.equal(e.emit('x', '1'), true);
    assert.equal(e.emit('x', '2'), true);
    assert.deepEqual(seen, ['f1', 'once1', 'g1', 'f2', 'g2']);
    e.off('x', f);
    assert.equal(e.listenerCount('x'), 1);
    assert.equal(e.emit('nothing'), false);
    const boom = new Error('boom');
    assert.throws(() => e.emit('error', boom), /boom/);
    e.on('error', () => {});
    assert.equal(e.emit('error', boom), true);
  });
});

/** Two stacks in virtual time with a SegmentLog tapping a's interface. */
function virtualPair() {
  const world = new World();
  const wire = world.add(new MemoryWire({ delay: 5 }));
  const a = world.add(new Stack({ seed: 1, name: 'a' }));
  const b = world.add(new Stack({ seed: 2, name: 'b' }));
  const log = new SegmentLog();
  a.addInterface('eth0', new PcapTap(wire.a, log, world.clock), { addrs: ['198.18.0.1/24'] });
  b.addInterface('eth0', wire.b, { addrs: ['198.18.0.2/24'] });
  const ta = new TcpLayer(a);
  const tb = new TcpLayer(b);
  return { world, a, b, ta, tb, log };
}

describe('SegmentLog', () => {
  it('prints tcpdump -n lines: absolute ISNs on SYNs, relative numbers after, options in wire order', () => {
    const { world, ta, tb, log, a, b } = virtualPair();
    const ls = tb.socket(4);
    ls.bind('198.18.0.2', 80);
    ls.listen(8);
    const c = ta.socket(4);
    try {
      c.connect('198.18.0.2', 80);
    } catch {
      /* EINPROGRESS */
    }
    let s: TcpSocket | null = null;
    world.runUntil(() => {
      try {
        s ??= ls.accept();
      } catch {
        /* EAGAIN */
      }
      return s !== null && c.state === 'ESTABLISHED';
    });
    c.send(new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n'));
    world.run({ until: world.now + 100 });
    const rec = new StateRecorder([
      { name: 'a', stack: a },
      { name: 'b', stack: b },
    ]);
    rec.sample();
    assert.ok(rec.seen.has('ESTAB') && rec.seen.has('LISTEN'));
    const lines = log.lines.map((l) => l.text);
    const syn =
      /^0\.000000 IP 198\.18\.0\.1\.(\d+) > 198\.18\.0\.2\.80: Flags \[S\], seq (\d+), win 64240, options \[mss 1460,sackOK,TS val \d+ ecr 0,nop,wscale \d+\], length 0$/.exec(
        lines[0],
      );
    assert.ok(syn, lines[0]);
    const isn = Number(syn[2]);
    const synAck = new RegExp(
      `^0\\.\\d{6} IP 198\\.18\\.0\\.2\\.80 > 198\\.18\\.0\\.1\\.${syn[1]}: Flags \\[S\\.\\], seq \\d+, ack ${isn + 1}, win \\d+, options \\[mss 1460,sackOK,TS val \\d+ ecr \\d+,nop,wscale \\d+\\], length 0$`,
    );
    assert.match(lines[1], synAck);
    assert.match(lines[2], /Flags \[\.\], ack 1, win \d+, options \[nop,nop,TS val \d+ ecr \d+\], length 0$/);
    assert.match(
      lines[3],
      /Flags \[P\.\], seq 1:19, ack 1, win \d+, options \[nop,nop,TS val \d+ ecr \d+\], length 18$/,
    );
    assert.equal(log.count, log.lines.length);
  });

  it('names flags as tcpdump does', () => {
    assert.equal(tcpFlagString(0x02), 'S');
    assert.equal(tcpFlagString(0x12), 'S.');
    assert.equal(tcpFlagString(0x18), 'P.');
    assert.equal(tcpFlagString(0x11), 'F.');
    assert.equal(tcpFlagString(0x04), 'R');
    assert.equal(tcpFlagString(0x19), 'FP.');
    assert.equal(tcpFlagString(0x03), 'FS');
    assert.equal(tcpFlagString(0xd2), 'S.EW');
    assert.equal(tcpFlagString(0), 'none');
  });

  it('describes non-TCP and malformed packets without throwing', () => {
    const log = new SegmentLog();
    assert.match(log.describe(new Uint8Array([0x45, 0, 0])), /^IP truncated-ip/);
    assert.match(log.describe(new Uint8Array(0)), /^unknown packet, length 0/);
  });
});

describe('ss rows', () => {
  it('formats LISTEN and established rows like ss -tan', () => {
    const { world, ta, tb, a, b } = virtualPair();
    const ls = tb.socket(4);
    ls.bind(null, 8080);
    ls.listen(8);
    const c = ta.socket(4);
    try {
      c.connect('198.18.0.2', 8080);
    } catch {
      /* EINPROGRESS */
    }
    world.runUntil(() => c.state === 'ESTABLISHED');
    world.run({ until: world.now + 50 }); // the server's side completes too: one connection waits in the accept queue
    assert.deepEqual(
      ssRows(b).find((r) => r.state === 'LISTEN'),
      { state: 'LISTEN', recvQ: 1, sendQ: 8, local: '0.0.0.0:8080', peer: '0.0.0.0:*', timer: '' },
    );
    const row = ssRows(a)[0];
    assert.equal(row.state, 'ESTAB');
    assert.match(row.local, /^198\.18\.0\.1:\d+$/);
    assert.equal(row.peer, '198.18.0.2:8080');
  });
});

describe('BrowserDriver', () => {
  it('runs due work, re-arms for the next deadline and stops with no timer left', async () => {
    const fired: number[] = [];
    let deadline = 5;
    const item = {
      nextDeadline: () => deadline,
      advance: (now: number) => {
        if (now >= deadline) {
          fired.push(deadline);
          deadline = fired.length < 3 ? deadline + 5 : Infinity;
        }
      },
    };
    const d = new BrowserDriver([item]);
    let steps = 0;
    d.onStep = () => steps++;
    d.start();
    await new Promise<void>((resolve, reject) => {
      const end = Date.now() + 5000;
      const poll = () =>
        fired.length === 3
          ? resolve()
          : Date.now() > end
            ? reject(new Error('not fired'))
            : setTimeout(poll, 2);
      poll();
    });
    assert.deepEqual(fired, [5, 10, 15]);
    // One step may fire several deadlines when the timer ran late (its rounds repeat while work is due).
    assert.ok(steps >= 1 && d.steps >= 3, `steps ${steps}, rounds ${d.steps}`);
    assert.ok(d.now() >= 15, `never fires early (now ${d.now()})`);
    d.stop();
    assert.equal(d.isRunning, false);
  });
});

describe('HTTP over the web net API', () => {
  let p: WebPair | null = null;
  it('keeps one connection alive, answers 404, and closes on Connection: close', async () => {
    p = webPair();
    try {
      const srv = createHttpServer(p.netB, (req) =>
        req.path === '/x' ? { status: 200, body: `hello ${req.method}` } : { status: 404, body: 'nope' },
      );
      await once(srv.listen(8080, B), 'listening');
      const c = new HttpClient(p.netA, { host: B, port: 8080 });
      const r1 = await c.get('/x');
      const r2 = await c.get('/missing');
      const r3 = await c.request('HEAD', '/x');
      assert.equal(r1.status, 200);
      assert.equal(new TextDecoder().decode(r1.body), 'hello GET');
      assert.equal(r1.headers['content-length'], '9');
      assert.equal(r2.status, 404);
      assert.equal(r3.status, 200);
      assert.equal(r3.body.length, 0);
      assert.equal(c.connections, 1);
      assert.equal(r1.localPort, r2.localPort);
      const r4 = await c.get('/x', { Connection: 'close' });
      assert.equal(r4.headers.connection, 'close');
      const sock = c.socket;
      assert.ok(sock !== null);
      if (!sock.destroyed) await once(sock, 'close');
      // The server closed first: its side ends in TIME-WAIT.
      const b = p.b;
      await until(
        () => (b.tcp as TcpLayer).list().some((r) => r.state === 'TIME-WAIT'),
        5000,
        'server TIME-WAIT',
      );
      const r5 = await c.get('/x');
      assert.equal(r5.status, 200);
      assert.equal(c.connections, 2, 'a new connection after the close');
      await c.close();
    } finally {
      p.stop();
    }
  });
});

describe('BrowserDriver time slices', () => {
  for (const how of ['setImmediate', 'MessageChannel'] as const) {
    it(`yields between slices when work stays due (${how}) and still runs every round`, async () => {
      const g = globalThis as { setImmediate?: unknown };
      const saved = g.setImmediate;
      if (how === 'MessageChannel') g.setImmediate = undefined;
      let d: BrowserDriver;
      try {
        d = new BrowserDriver([], { sliceMs: 0 }); // one round per step: every round is a yield
      } finally {
        g.setImmediate = saved;
      }
      let left = 200;
      let now = 0;
      d.add({
        nextDeadline: () => (left > 0 ? now : Infinity), // always due until done
        advance: (t: number) => {
          now = t;
          if (left > 0) left--;
        },
      });
      let steps = 0;
      d.onStep = () => steps++;
      d.start();
      await until(() => left === 0, 10_000, 'all rounds');
      assert.ok(steps >= 100, `steps ${steps}: the work was spread over many tasks`);
      d.stop();
    });
  }
});
