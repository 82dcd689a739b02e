/**
 * `usnet demo` (npm start): two usnet stacks on an in-memory wire in real
 * time, node:http unchanged on top of them. Host b serves a few resources,
 * host a fetches them over one keep-alive connection, then closes it. Every
 * segment is printed as tcpdump prints it, an `ss -tan` table whenever the
 * connection states change (ESTAB → FIN-WAIT/CLOSE-WAIT/LAST-ACK →
 * TIME-WAIT), and the packets go to a pcap file Wireshark opens.
 * No root, no TUN, no setup; it ends by itself.
 */
import http from 'node:http';
import type net from 'node:net';
import type { Command } from 'commander';
import { runSs, type SsRow, type SsState } from '../src/drill/tools.js';
import type { Link } from '../src/link/link.js';
import { PcapTap } from '../src/link/pcap-tap.js';
import { TcpdumpFormatter } from '../src/node/net/tcpdump.js';
import { ADDR_A, ADDR_B, type TwoHosts, twoHosts } from '../src/node/net/two-hosts.js';
import { CaptureFileWriter } from '../src/node/pcap-file.js';
import type { Stack } from '../src/stack.js';
import type { TcpLayer } from '../src/tcp/tcp.js';
import { formatAddr } from '../src/wire/addr.js';
import type { PacketSink } from '../src/wire/pcap.js';

export interface DemoOptions {
  loss: number;
  delay: number;
  pcap: string;
  requests: number;
  quiet?: boolean;
}

const RESOURCES: { path: string; type: string; body: () => Buffer | Buffer[] }[] = [
  {
    path: '/',
    type: 'text/html',
    body: () =>
      Buffer.from(
        '<!doctype html><title>usnet</title><h1>Hello from a user-space TCP/IP stack</h1>\n' +
          '<p>This page crossed two TCP stacks written in TypeScript.</p>\n',
      ),
  },
  {
    path: '/data.bin',
    type: 'application/octet-stream',
    // Sent in pieces without a length: Transfer-Encoding: chunked.
    body: () => Array.from({ length: 4 }, (_, i) => Buffer.alloc(5000, 0x41 + i)),
  },
  {
    path: '/api/time',
    type: 'application/json',
    body: () => Buffer.from(JSON.stringify({ stack: 'usnet', linuxLike: true })),
  },
];

function ssRows(stack: Stack): SsRow[] {
  return (stack.tcp as TcpLayer).list().map((r) => ({
    state: (r.state === 'CLOSE' ? 'UNCONN' : r.state) as SsState,
    recvQ: r.recvQ,
    sendQ: r.sendQ,
    family: r.family === 6 || (r.laddr !== null && r.laddr.length === 16) ? 6 : 4,
    laddr: r.laddr === null ? null : formatAddr(r.laddr),
    lport: r.lport,
    raddr: r.raddr === null ? null : formatAddr(r.raddr),
    rport: r.rport,
    timer: r.timer ? `(${r.timer},${timerText(r.timerMs)},${r.retrans})` : undefined,
  }));
}

/** ss -o prints timers as 59sec, 200ms, 1min59sec. */
function timerText(ms: number): string {
  if (ms < 1000) return `${Math.ceil(ms)}ms`;
  const s = Math.floor(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}min${s % 60 ? `${s % 60}sec` : ''}` : `${s}sec`;
}

/** One `ss -tan` table for both hosts (shared columns), each row labelled with its host. */
function ssTable(h: TwoHosts, withTimers: boolean): string {
  const ra = ssRows(h.a);
  const rb = ssRows(h.b);
  const r = runSs(withTimers ? ['-tano'] : ['-tan'], [...ra, ...rb]);
  const lines = r.stdout.replace(/\n$/, '').split('\n');
  const out = [`    host ${lines[0]}`];
  lines.slice(1).forEach((l, i) => {
    out.push(`    ${i < ra.length ? 'a   ' : 'b   '} ${l}`);
  });
  return out.join('\n');
}

/** The connection states of both hosts, as a key that changes when any state does. */
function stateKey(h: TwoHosts): string {
  const k = (s: Stack) =>
    (s.tcp as TcpLayer)
      .list()
      .map((r) => `${r.state}:${r.lport}:${r.rport}`)
      .sort()
      .join(',');
  return `${k(h.a)}|${k(h.b)}`;
}

/** A Link that calls `seen` for every frame passing it, either way. */
class WatchLink implements Link {
  onReceive: ((frame: Uint8Array) => void) | null = null;
  constructor(
    private readonly inner: Link,
    private readonly seen: () => void,
  ) {
    inner.onReceive = (f) => {
      seen();
      this.onReceive?.(f);
    };
  }
  get mtu(): number {
    return this.inner.mtu;
  }
  transmit(frame: Uint8Array): void {
    this.seen();
    this.inner.transmit(frame);
  }
}

export async function runDemo(o: DemoOptions, print: (s: string) => void = console.log): Promise<number> {
  const cap = new CaptureFileWriter(o.pcap, { format: 'pcap' });
  const fmt = new TcpdumpFormatter();
  let segments = 0;
  let h: TwoHosts | null = null;
  let lastKey = '';
  let ssPending = false;
  const showStates = () => {
    ssPending = false;
    if (h === null) return;
    const key = stateKey(h);
    if (key === lastKey) return;
    lastKey = key;
    print(ssTable(h, false));
  };
  // States change while a stack processes a segment. A microtask queued as the
  // segment passes a link runs right after that processing and before the
  // applications' reactions (also microtasks, queued later), so CLOSE-WAIT and
  // FIN-WAIT-2 are seen even when the server closes at once.
  const watchStates = () => {
    if (ssPending) return;
    ssPending = true;
    queueMicrotask(showStates);
  };
  // Everything host a's end of the wire sees, both ways: printed, then written to the pcap.
  const sink: PacketSink = {
    addInterface: (name) => cap.writer.addInterface(name),
    writePacket: (timeMs, data, iface, dir, origLen) => {
      cap.writer.writePacket(timeMs, data, iface, dir, origLen);
      const line = fmt.format(timeMs, data);
      if (line !== null) {
        segments++;
        print(line);
      }
      watchStates();
    },
  };
  const hosts = twoHosts({
    wire: { delay: o.delay, loss: o.loss / 100 },
    wrap: (link: Link, side) =>
      side === 'a'
        ? new PcapTap(link, sink, () => hosts.driver.clock.now(), 'eth0')
        : new WatchLink(link, watchStates),
  });
  h = hosts;

  print('usnet demo: two user-space TCP/IP stacks on an in-memory wire, node:http on top, in real time');
  print(
    `  client a ${ADDR_A}  <-- wire: delay ${o.delay} ms, loss ${o.loss}% -->  server b ${ADDR_B}:80   (no root, no TUN)`,
  );
  print('');

  const app = http.createServer((req, res) => {
    const r = RESOURCES.find((x) => x.path === req.url);
    if (r === undefined) {
      res.writeHead(404).end('not found\n');
      return;
    }
    const body = r.body();
    res.setHeader('Content-Type', r.type);
    if (Array.isArray(body)) {
      for (const piece of body) res.write(piece);
      res.end();
    } else {
      res.setHeader('Content-Length', body.length);
      res.end(body);
    }
  });
  const server = hosts.netB.createServer((s) => app.emit('connection', s));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(80, ADDR_B, resolve);
  });

  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  (agent as unknown as { createConnection: unknown }).createConnection = (opts: net.NetConnectOpts) =>
    hosts.netA.connect(opts as { port: number; host: string });
  const seen = new Set<string>();
  let ok = 0;
  for (let i = 0; i < o.requests; i++) {
    const r = RESOURCES[i % RESOURCES.length] as (typeof RESOURCES)[number];
    const res = await new Promise<{ status: number; type: string; te: string; bytes: number; via: string }>(
      (resolve, reject) => {
        const req = http.request({ host: ADDR_B, port: 80, path: r.path, agent }, (res) => {
          let bytes = 0;
          const s = res.socket as unknown as { localAddress: string; localPort: number };
          const via = `${s.localAddress}:${s.localPort}`;
          res.on('data', (d: Buffer) => {
            bytes += d.length;
          });
          res.on('end', () => {
            resolve({
              status: res.statusCode ?? 0,
              type: String(res.headers['content-type']),
              te: res.headers['transfer-encoding'] === 'chunked' ? ', chunked' : '',
              bytes,
              via,
            });
          });
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      },
    );
    const reused = seen.has(res.via) ? 'reused' : 'new';
    seen.add(res.via);
    if (res.status === 200) ok++;
    print(
      `  >>> GET ${r.path} -> ${res.status} ${res.type}, ${res.bytes} bytes${res.te} (keep-alive connection from ${res.via}, ${reused})`,
    );
  }

  // The client closes first, so its side goes FIN_WAIT1 → FIN_WAIT2 → TIME_WAIT
  // while the server's goes CLOSE_WAIT → LAST_ACK → gone.
  print('  >>> client closes its keep-alive connection');
  agent.destroy();
  const settled = () => {
    const a = (hosts.a.tcp as TcpLayer).list();
    const b = (hosts.b.tcp as TcpLayer).list();
    return a.length > 0 && a.every((r) => r.state === 'TIME-WAIT') && b.every((r) => r.state === 'LISTEN');
  };
  for (let i = 0; i < 3000 && !settled(); i++) await new Promise((r) => setTimeout(r, 2));
  await new Promise((r) => setImmediate(r));
  showStates();
  print('');
  print('  final state (ss -tano): the client keeps TIME-WAIT for 60 s, as Linux does');
  print(ssTable(hosts, true));
  const done = settled();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  hosts.close();
  cap.close();
  print('');
  print(
    `${ok}/${o.requests} requests OK over ${seen.size} connection(s), ${segments} segments; ` +
      `pcap written to ${o.pcap} (open it with wireshark, or: tshark -r ${o.pcap})`,
  );
  return ok === o.requests && done ? 0 : 1;
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('two stacks in memory, HTTP between them: tcpdump-style trace, ss table, pcap')
    .option('--loss <percent>', 'packet loss on the wire, percent', '0')
    .option('--delay <ms>', 'one-way delay on the wire, ms', '1')
    .option('--pcap <file>', 'where to write the capture', 'usnet-demo.pcap')
    .option('--requests <n>', 'how many HTTP requests', '3')
    .action(async (opts: { loss: string; delay: string; pcap: string; requests: string }) => {
      const loss = Number(opts.loss);
      const delay = Number(opts.delay);
      const requests = Number(opts.requests);
      if (!(loss >= 0 && loss < 100) || !(delay >= 0) || !(Number.isInteger(requests) && requests >= 1)) {
        console.error('usnet demo: --loss must be 0..99, --delay >= 0, --requests a positive integer');
        process.exitCode = 2;
        return;
      }
      const guard = setTimeout(() => {
        console.error('usnet demo: did not finish within 60 s');
        process.exit(1);
      }, 60_000);
      guard.unref();
      process.exitCode = await runDemo({ loss, delay, pcap: opts.pcap, requests });
    });
}
