/**
 * TCP speed between two usnet stacks in one process (virtual time, in-memory
 * wire, one core), beside Linux's own TCP on loopback measured in the same run
 * with the same data sizes:
 *
 *   - kernel: bench/ref/tcp-ref.c (compiled here with gcc), client and server
 *     in two processes doing plain blocking syscalls. MTU 1,500 runs inside a
 *     network namespace of our own (usnet-bench-<pid>) whose lo has MTU 1500
 *     (GSO still on, as the kernel normally runs); MTU 65,535 uses that lo at
 *     its usual 65,536. Without root or ip(8), host loopback with TCP_MAXSEG.
 *   - node:net: both ends in this process on 127.0.0.1 (what a Node program
 *     gets; node's own overhead dominates there, which is why the C program
 *     is the kernel reference).
 *
 * Measured: single-stream throughput at MTU 1,500 and 65,535; connections per
 * second (handshake, 100-byte request, 100-byte reply, the server closes, the
 * client reads to end of stream and closes); 1-byte
 * ping-pong round trip; and the number of times each payload byte is copied
 * from the sender's buffer to the receiver's (counted by instrumenting
 * Uint8Array copies during a transfer).
 *
 * Figures are printed twice: per CPU-second (user + system time of every
 * process involved, from process.cpuUsage / getrusage; stable when other
 * work shares the machine) and per wall-clock second. The usnet sender
 * writes one 64 KiB buffer over and over, as the C reference does
 * (generating data is not TCP's cost).
 *
 *   node --import tsx bench/tcp.bench.ts            (about a minute)
 *   USNET_BENCH_QUICK=1 node --import tsx bench/tcp.bench.ts
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { POLLERR, POLLHUP, POLLIN, POLLOUT } from '../src/socket/poll.js';
import type { TcpSocket } from '../src/socket/tcp-socket.js';
import {
  BulkReceiver,
  BulkSender,
  connectPair,
  type Hosts,
  tcpOf,
  twoStacks,
} from '../test/scenario/transfer-harness.js';

const QUICK = process.env.USNET_BENCH_QUICK === '1';
const MiB = 1 << 20;
const SIZE_1500 = (QUICK ? 32 : 128) * MiB;
const SIZE_64K = (QUICK ? 128 : 512) * MiB;
const CONNS = QUICK ? 3000 : 20000;
const PINGS = QUICK ? 10000 : 50000;
const ROUNDS = QUICK ? 1 : 3;
/** One-way delay of the in-memory wire: small, only so virtual time moves. */
const WIRE_DELAY = 0.001;

/** Elapsed wall-clock and CPU (user + system of this process) seconds. */
interface Span {
  wall: number;
  cpu: number;
}
function clock(): () => Span {
  const w0 = performance.now();
  const c0 = process.cpuUsage();
  return () => {
    const c = process.cpuUsage(c0);
    return { wall: (performance.now() - w0) / 1000, cpu: (c.user + c.system) / 1e6 };
  };
}

// ------------------------------------------------------------------ usnet

function usnetThroughput(mtu: number, bytes: number): Span {
  const p = connectPair({ wire: { delay: WIRE_DELAY, mtu }, sndBuf: 4 * MiB, rcvBuf: 4 * MiB });
  const s = new BulkSender(p.ca, bytes, 1, false);
  s.fixedData = true; // like the kernel reference: one buffer written over and over
  const r = new BulkReceiver(p.cb, false);
  p.ca.onEvent = () => s.pump();
  p.cb.onEvent = () => r.pump();
  const stop = clock();
  s.pump();
  p.world.runUntil(() => r.eof, { maxSteps: 1e9 });
  const span = stop();
  if (r.received !== bytes) throw new Error(`usnet transfer short: ${r.received}`);
  return span;
}

function readable(s: TcpSocket): boolean {
  return (s.poll() & (POLLIN | POLLERR | POLLHUP)) !== 0;
}

function usnetCps(n: number): Span {
  const h: Hosts = twoStacks({ wire: { delay: WIRE_DELAY } });
  const ls = tcpOf(h.b).socket(4);
  ls.bind('198.18.0.2', 80);
  ls.listen(4096);
  const req = new Uint8Array(100).fill(0x71);
  const buf = new Uint8Array(200);
  let done = 0;
  ls.onEvent = () => {
    while (ls.poll() & POLLIN) {
      const s = ls.accept();
      let got = 0;
      const serve = () => {
        while (got < 100 && readable(s)) {
          const k = s.recvInto(buf, 0, 100 - got);
          if (k === 0) break;
          got += k;
        }
        if (got === 100) {
          got = 101;
          s.send(req);
          s.close();
        }
      };
      s.onEvent = serve;
      serve();
    }
  };
  const start = () => {
    const c = tcpOf(h.a).socket(4);
    c.setsockopt('TCP_NODELAY', 1);
    let sent = false;
    let got = 0;
    c.onEvent = () => {
      if (!sent && c.poll() & POLLOUT) {
        c.send(req);
        sent = true;
      }
      // Read the reply, then to end of stream: the server closes first and
      // keeps the TIME_WAIT, as in the kernel reference.
      while (got >= 0 && readable(c)) {
        const k = c.recvInto(buf, 0, 200);
        if (k > 0) {
          got += k;
          continue;
        }
        if (got !== 100) throw new Error(`usnet cps: reply of ${got} bytes`);
        got = -1;
        c.close();
        done++;
        if (done < n) start();
      }
    };
    try {
      c.connect('198.18.0.2', 80);
    } catch (e) {
      if ((e as { code?: string }).code !== 'EINPROGRESS') throw e;
    }
  };
  const stop = clock();
  start();
  h.world.runUntil(() => done === n, { maxSteps: 1e9 });
  const span = stop();
  if (done !== n) throw new Error(`usnet cps: ${done} of ${n}`);
  return span;
}

function usnetPingPong(n: number): Span {
  const p = connectPair({ wire: { delay: WIRE_DELAY } });
  p.ca.setsockopt('TCP_NODELAY', 1);
  p.cb.setsockopt('TCP_NODELAY', 1);
  const one = new Uint8Array(1);
  const buf = new Uint8Array(16);
  let count = 0;
  p.cb.onEvent = () => {
    while (readable(p.cb)) {
      const k = p.cb.recvInto(buf, 0, 16);
      if (k === 0) return;
      p.cb.send(buf, 0, k);
    }
  };
  p.ca.onEvent = () => {
    while (readable(p.ca)) {
      const k = p.ca.recvInto(buf, 0, 16);
      if (k === 0) return;
      count += k;
      if (count < n) p.ca.send(one);
    }
  };
  const stop = clock();
  p.ca.send(one);
  p.world.runUntil(() => count === n, { maxSteps: 1e9 });
  const span = stop();
  if (count !== n) throw new Error(`usnet ping-pong: ${count} of ${n}`);
  return span;
}

/**
 * Count the bytes copied by Uint8Array.prototype.set / slice / copyWithin
 * while `bytes` of payload go from a's send() to b's recv(), by call site.
 */
function usnetCopies(mtu: number, bytes: number): { perByte: number; sites: [string, number][] } {
  const p = connectPair({ wire: { delay: WIRE_DELAY, mtu }, sndBuf: 4 * MiB, rcvBuf: 4 * MiB });
  // A first transfer grows the buffers to their final size (growing copies
  // them, once per connection); the copies are counted during a second one
  // on the same connection.
  const warm = 8 * MiB;
  const s0 = new BulkSender(p.ca, warm, 2, false);
  s0.shutdownWhenDone = false;
  let rcvd = 0;
  const rbuf = new Uint8Array(65536);
  const drain = () => {
    while (p.cb.poll() & POLLIN) rcvd += p.cb.recvInto(rbuf, 0, rbuf.length);
  };
  p.ca.onEvent = () => s0.pump();
  p.cb.onEvent = drain;
  s0.pump();
  p.world.runUntil(() => rcvd === warm, { maxSteps: 1e9 });
  const s = new BulkSender(p.ca, bytes, 1, false);
  const r = new BulkReceiver(p.cb, false);
  p.ca.onEvent = () => s.pump();
  p.cb.onEvent = () => r.pump();
  const proto = Uint8Array.prototype;
  const { set, slice, copyWithin } = proto;
  const sites = new Map<string, number>();
  let total = 0;
  const note = (n: number) => {
    if (n < 64) return; // headers and small bookkeeping are not payload copies
    total += n;
    const line = (new Error().stack ?? '').split('\n')[3] ?? '?';
    // "Fn (/path/src/x.ts:12:3)" → "Fn src/x.ts" (a wrap-around's two calls count as one site)
    const site = line
      .replace(/^\s*at\s+/, '')
      .replace(/\(?(?:file:\/\/)?\/\S*?\/(src|test|bench)\//, '$1/')
      .replace(/:\d+:\d+\)?$/, '');
    sites.set(site, (sites.get(site) ?? 0) + n);
  };
  proto.set = function (this: Uint8Array, src: ArrayLike<number>, off?: number) {
    note(src.length);
    return set.call(this, src, off);
  } as typeof set;
  proto.slice = function (this: Uint8Array, a?: number, b?: number) {
    const out = slice.call(this, a, b);
    note(out.length);
    return out;
  } as typeof slice;
  proto.copyWithin = function (this: Uint8Array, t: number, a: number, b?: number) {
    note((b ?? this.length) - a);
    return copyWithin.call(this, t, a, b);
  } as typeof copyWithin;
  try {
    s.pump();
    p.world.runUntil(() => r.eof, { maxSteps: 1e9 });
  } finally {
    proto.set = set;
    proto.slice = slice;
    proto.copyWithin = copyWithin;
  }
  if (r.received !== bytes) throw new Error('copy-count transfer short');
  const list = [...sites.entries()]
    .map(([k, v]) => [k, v / bytes] as [string, number])
    .sort((x, y) => y[1] - x[1]);
  return { perByte: total / bytes, sites: list };
}

// ------------------------------------------------------------------ node:net

function withServer(onConn: (s: net.Socket) => void): Promise<{ port: number; close: () => void }> {
  return new Promise((resolve) => {
    const srv = net.createServer(onConn);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      resolve({ port, close: () => srv.close() });
    });
  });
}

async function nodeThroughput(bytes: number): Promise<Span> {
  let got = 0;
  let stop = clock();
  let finish: (v: Span) => void = () => {};
  const result = new Promise<Span>((r) => {
    finish = r;
  });
  const srv = await withServer((s) => {
    s.on('data', (d: Buffer) => {
      got += d.length;
    });
    s.on('end', () => {
      finish(stop());
      s.end();
    });
  });
  const chunk = Buffer.alloc(65536, 0x78);
  const c = net.connect(srv.port, '127.0.0.1');
  await new Promise((r) => c.once('connect', r));
  stop = clock();
  let left = bytes;
  const write = () => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!c.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        c.once('drain', write);
        return;
      }
    }
    c.end();
  };
  write();
  const g = await result;
  c.destroy();
  srv.close();
  if (got !== bytes) throw new Error('node:net transfer short');
  return g;
}

async function nodeCps(n: number): Promise<Span> {
  const srv = await withServer((s) => {
    let got = 0;
    s.on('data', (d: Buffer) => {
      got += d.length;
      if (got === 100) s.end(Buffer.alloc(100, 0x71));
    });
    s.on('error', () => {});
  });
  const req = Buffer.alloc(100, 0x71);
  const stop = clock();
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve, reject) => {
      const c = net.connect({ port: srv.port, host: '127.0.0.1', noDelay: true }, () => c.write(req));
      let got = 0;
      c.on('data', (d: Buffer) => {
        got += d.length;
      });
      // The server ends first; the client's end follows (allowHalfOpen off).
      c.on('close', () => (got === 100 ? resolve() : reject(new Error(`reply of ${got} bytes`))));
      c.on('error', reject);
    });
  }
  const span = stop();
  srv.close();
  return span;
}

async function nodePingPong(n: number): Promise<Span> {
  const srv = await withServer((s) => {
    s.setNoDelay(true);
    s.on('data', (d: Buffer) => s.write(d));
  });
  const c = net.connect({ port: srv.port, host: '127.0.0.1', noDelay: true });
  await new Promise((r) => c.once('connect', r));
  const one = Buffer.from([1]);
  let count = 0;
  const stop = clock();
  await new Promise<void>((resolve) => {
    c.on('data', (d: Buffer) => {
      count += d.length;
      if (count >= n) resolve();
      else c.write(one);
    });
    c.write(one);
  });
  const span = stop();
  c.destroy();
  srv.close();
  return span;
}

// ------------------------------------------------------------------ kernel via C

interface Kernel {
  run(mode: string, n: number, mtu: number): Span | null;
  cleanup(): void;
  how: string;
}

function kernelRef(): Kernel | null {
  const src = join(import.meta.dirname ?? 'bench', 'ref', 'tcp-ref.c');
  const dir = mkdtempSync(join(tmpdir(), 'usnet-bench-'));
  const exe = join(dir, 'tcp-ref');
  try {
    execFileSync('gcc', ['-O2', '-o', exe, src], { stdio: 'pipe' });
  } catch {
    return null;
  }
  const ns = `usnet-bench-${process.pid}`;
  let haveNs = false;
  if (process.getuid?.() === 0 && existsSync('/usr/sbin/ip')) {
    try {
      execFileSync('ip', ['netns', 'add', ns], { stdio: 'pipe' });
      haveNs = true;
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up'], { stdio: 'pipe' });
      // Same congestion control as usnet.
      execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.tcp_congestion_control=reno'], {
        stdio: 'pipe',
      });
    } catch {
      /* keep haveNs as is; cleanup deletes it */
    }
  }
  const cleanup = () => {
    if (haveNs) spawnSync('ip', ['netns', 'del', ns], { stdio: 'pipe' });
  };
  process.on('exit', cleanup);
  return {
    how: haveNs
      ? `netns ${ns}, lo MTU set per test, reno`
      : 'host loopback, TCP_MAXSEG for 1500, host congestion control',
    cleanup,
    run(mode: string, n: number, mtu: number): Span | null {
      const args = [mode, String(n)];
      let cmd = exe;
      let argv = args;
      if (haveNs) {
        spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'mtu', String(mtu === 1500 ? 1500 : 65536)], {
          stdio: 'pipe',
        });
        cmd = 'ip';
        argv = ['netns', 'exec', ns, exe, ...args];
      } else if (mode === 'tput' && mtu === 1500) argv = [...args, '1448'];
      const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 180_000 });
      const m = /(\S+) (\d+) ([\d.]+) ([\d.]+)/.exec(r.stdout ?? '');
      return m ? { wall: Number(m[3]), cpu: Number(m[4]) } : null;
    },
  };
}

// ------------------------------------------------------------------ run

/** Best (shortest) wall and CPU time over `n` runs, taken separately. */
async function best(n: number, f: () => Span | null | Promise<Span | null>): Promise<Span | null> {
  let b: Span | null = null;
  for (let i = 0; i < n; i++) {
    const x = await f();
    if (x === null) continue;
    b = b === null ? { ...x } : { wall: Math.min(b.wall, x.wall), cpu: Math.min(b.cpu, x.cpu) };
  }
  return b;
}

interface Row {
  what: string;
  /** From seconds to the figure shown. */
  conv: (sec: number) => number;
  higherBetter: boolean;
  digits: number;
  usnet: Span | null;
  kernel: Span | null;
  node: Span | null;
}

const fmt = (x: number | null, d: number) => (x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(d));

function table(rows: Row[], key: 'wall' | 'cpu'): void {
  const out: string[][] = [['', 'usnet', 'kernel (C)', 'usnet/kernel', 'node:net', 'usnet/node:net']];
  for (const r of rows) {
    const v = (s: Span | null) => (s === null ? null : r.conv(s[key]));
    const u = v(r.usnet);
    const k = v(r.kernel);
    const n = v(r.node);
    const ratio = (o: number | null) =>
      u === null || o === null || !o ? '-' : `${(r.higherBetter ? u / o : o / u).toFixed(2)}x`;
    out.push([
      r.what,
      fmt(u, r.digits),
      fmt(k, r.digits),
      ratio(k),
      n === null ? '-' : fmt(n, r.digits),
      ratio(n),
    ]);
  }
  const w = out[0].map((_, i) => Math.max(...out.map((r) => r[i].length)));
  for (const r of out) console.log(r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  '));
}

async function main(): Promise<void> {
  console.log(
    `usnet TCP bench (${QUICK ? 'quick' : 'full'}; best of ${ROUNDS} after a warm-up on each path; node ${process.version})`,
  );
  const k = kernelRef();
  console.log(`kernel reference: ${k ? `bench/ref/tcp-ref.c, ${k.how}` : 'unavailable (no gcc)'}`);

  // Warm up on each path until V8's tiers and heap sizing have settled: the
  // figures are steady-state ones. Connections take longest (measured in one
  // process, 20,000 per round: 21k, 39k, 45k, then 51-52k per CPU-second).
  usnetThroughput(1500, 4 * MiB);
  usnetThroughput(65535, 16 * MiB);
  for (let i = 0; i < (QUICK ? 1 : 3); i++) usnetCps(CONNS);
  usnetPingPong(PINGS);

  const kr = (mode: string, n: number, mtu: number) => () => (k ? k.run(mode, n, mtu) : null);
  const rows: Row[] = [
    {
      what: 'throughput MTU 1500 (Gbit/s)',
      conv: (s) => (SIZE_1500 * 8) / s / 1e9,
      higherBetter: true,
      digits: 2,
      usnet: await best(ROUNDS, () => usnetThroughput(1500, SIZE_1500)),
      kernel: await best(ROUNDS, kr('tput', SIZE_1500, 1500)),
      node: null,
    },
    {
      what: 'throughput MTU 65535 (Gbit/s)',
      conv: (s) => (SIZE_64K * 8) / s / 1e9,
      higherBetter: true,
      digits: 2,
      usnet: await best(ROUNDS, () => usnetThroughput(65535, SIZE_64K)),
      kernel: await best(ROUNDS, kr('tput', SIZE_64K, 65535)),
      node: await best(ROUNDS, () => nodeThroughput(SIZE_64K)),
    },
    {
      what: 'connections/s (100 B request + reply, close)',
      conv: (s) => CONNS / s,
      higherBetter: true,
      digits: 0,
      usnet: await best(ROUNDS, () => usnetCps(CONNS)),
      kernel: await best(ROUNDS, kr('cps', CONNS, 65535)),
      node: await best(ROUNDS, () => nodeCps(CONNS)),
    },
    {
      what: '1-byte ping-pong round trip (µs)',
      conv: (s) => (s * 1e6) / PINGS,
      higherBetter: false,
      digits: 2,
      usnet: await best(ROUNDS, () => usnetPingPong(PINGS)),
      kernel: await best(ROUNDS, kr('pingpong', PINGS, 65535)),
      node: await best(ROUNDS, () => nodePingPong(PINGS)),
    },
  ];
  k?.cleanup();

  console.log('\nper CPU-second (user + system time of all processes involved; steady on a busy machine):');
  table(rows, 'cpu');
  console.log(
    '\nper wall-clock second (usnet and node:net on one core; the kernel reference uses two processes):',
  );
  table(rows, 'wall');
  console.log('(ratios: >1x means usnet is better; node:net at MTU 1500 is not measured: lo has MTU 65536)');
  console.log(
    `sizes: ${SIZE_1500 / MiB} MiB at MTU 1500, ${SIZE_64K / MiB} MiB at MTU 65535, ${CONNS} connections, ${PINGS} ping-pongs`,
  );

  const copies1500 = usnetCopies(1500, 4 * MiB);
  const copies64k = usnetCopies(65535, 16 * MiB);
  for (const [mtu, c] of [
    [1500, copies1500],
    [65535, copies64k],
  ] as const) {
    console.log(
      `\npayload bytes copied per byte delivered (sender's send() to receiver's recv()), MTU ${mtu}: ${c.perByte.toFixed(2)}`,
    );
    for (const [site, per] of c.sites.slice(0, 8)) console.log(`  ${per.toFixed(2)}  ${site}`);
  }
}

await main();
