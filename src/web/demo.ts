/**
 * The browser demo as a library, so the page and the tests run the same
 * thing: two stacks on an in-memory wire driven in real time by a
 * BrowserDriver, an HTTP/1.1 server on b (198.18.0.2:80) and two clients on
 * a (198.18.0.1):
 *
 * - client 1 fetches /, /hello.txt and /data.json over one keep-alive
 *   connection, then closes first: its side goes FIN-WAIT-1 → FIN-WAIT-2 →
 *   TIME-WAIT while the server sits in CLOSE-WAIT (it waits `closeDelayMs`)
 *   then LAST-ACK;
 * - client 2 fetches /big.bin with `Connection: close`, so the server closes
 *   first and the TIME-WAIT is on the server's side.
 *
 * Every packet on a's interface goes to a tcpdump-style log and a pcap; the
 * ss table of both stacks is sampled after every driver step.
 */
import { MemoryWire } from '../link/memory-wire.js';
import { PcapTap } from '../link/pcap-tap.js';
import { Stack } from '../stack.js';
import { TcpLayer } from '../tcp/tcp.js';
import { DIR_UNKNOWN, type PacketSink, PcapWriter } from '../wire/pcap.js';
import { BrowserDriver } from './driver.js';
import {
  createHttpServer,
  HttpClient,
  type HttpClientResponse,
  type HttpRequest,
  type HttpResponse,
} from './http.js';
import { createNet, type Net } from './net.js';
import { SegmentLog } from './segment-log.js';
import { type ConnHistory, StateRecorder } from './ss.js';

export interface DemoOptions {
  /** One-way delay of the wire (ms). Default 20. */
  delayMs?: number;
  /** Random loss per frame, both directions. Default 0. */
  loss?: number;
  /** Wire bandwidth (bit/s), 0 = unlimited. Default 50 Mbit/s. */
  rateBps?: number;
  /** How long the server keeps a connection half-closed (CLOSE-WAIT) after the client's FIN. Default 300 ms. */
  closeDelayMs?: number;
  /** Size of /big.bin. Default 200 000 bytes. */
  bigBytes?: number;
  /** Give up after this long (ms of real time). Default 30 000. */
  timeoutMs?: number;
  /** Seeds of the stacks and the wire. */
  seed?: number;
}

export interface DemoResponse {
  path: string;
  status: number;
  length: number;
  /** The body as text for text resources, '' for binary ones. */
  text: string;
  /** FNV-1a 32-bit hash of the body (hex). */
  fnv: string;
  /** Which client and its local port (the same port for every keep-alive request). */
  client: number;
  localPort: number;
}

export interface DemoResult {
  ok: boolean;
  error?: string;
  responses: DemoResponse[];
  /** Every ss state name seen on either stack ('ESTAB', 'TIME-WAIT', ...). */
  states: string[];
  /** Per connection and host, the states it went through. */
  history: ConnHistory[];
  segments: number;
  elapsedMs: number;
}

export const DEMO_SERVER = '198.18.0.2';
export const DEMO_CLIENT = '198.18.0.1';
export const DEMO_PORT = 80;

export const INDEX_TEXT =
  '<!doctype html><title>usnet</title><p>Served over a TCP stack written in TypeScript.</p>\n';
export const HELLO_TEXT = 'Hello from usnet!\n';
export const DATA_JSON = JSON.stringify({ stack: 'usnet', tcp: 'Linux-like', timeWaitSeconds: 60 });

/** The deterministic bytes of /big.bin (xorshift32). */
export function bigBody(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export function fnv1a(b: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) {
    h ^= b[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** Sends every packet to several sinks (a pcap and the text log). */
class FanOut implements PacketSink {
  constructor(readonly sinks: PacketSink[]) {
    for (const s of sinks) s.addInterface('eth0');
  }
  addInterface(): number {
    return 0;
  }
  writePacket(timeMs: number, data: Uint8Array, iface?: number, dir = DIR_UNKNOWN): void {
    for (const s of this.sinks) s.writePacket(timeMs, data, iface, dir);
  }
}

export class Demo {
  readonly driver: BrowserDriver;
  readonly wire: MemoryWire;
  readonly a: Stack;
  readonly b: Stack;
  readonly netA: Net;
  readonly netB: Net;
  readonly log: SegmentLog;
  readonly pcap: PcapWriter;
  readonly recorder: StateRecorder;
  /** Responses so far, in the order they completed (the page shows them as they come). */
  readonly responses: DemoResponse[] = [];
  /** Called after each driver step (the page re-renders the ss table). */
  onStep: (() => void) | null = null;
  readonly result: Promise<DemoResult>;
  private readonly opts: Required<DemoOptions>;
  private readonly started: number;

  constructor(opts: DemoOptions = {}) {
    this.opts = {
      delayMs: opts.delayMs ?? 20,
      loss: opts.loss ?? 0,
      rateBps: opts.rateBps ?? 50_000_000,
      closeDelayMs: opts.closeDelayMs ?? 300,
      bigBytes: opts.bigBytes ?? 200_000,
      timeoutMs: opts.timeoutMs ?? 30_000,
      seed: opts.seed ?? 1,
    };
    const o = this.opts;
    this.driver = new BrowserDriver();
    this.started = this.driver.now();
    this.a = new Stack({ seed: o.seed, name: 'client', now: 0 });
    this.b = new Stack({ seed: o.seed + 1, name: 'server', now: 0 });
    this.wire = new MemoryWire({
      clock: this.driver.clock,
      seed: o.seed,
      delay: o.delayMs,
      loss: o.loss,
      rateBps: o.rateBps,
      mtu: 1500,
      name: 'wire',
    });
    // Stacks first: each is brought to the current time before the wire delivers to it.
    this.driver.add(this.a);
    this.driver.add(this.b);
    this.driver.add(this.wire);
    this.log = new SegmentLog({ keep: 5000 });
    this.pcap = new PcapWriter();
    const epoch = Date.now();
    const tap = new PcapTap(
      this.wire.a,
      new FanOut([this.pcap, this.log]),
      () => epoch + this.driver.now(),
      'eth0',
    );
    this.a.addInterface('eth0', tap, { addrs: [`${DEMO_CLIENT}/24`] });
    this.b.addInterface('eth0', this.wire.b, { addrs: [`${DEMO_SERVER}/24`] });
    new TcpLayer(this.a);
    new TcpLayer(this.b);
    this.netA = createNet(this.a, this.driver);
    this.netB = createNet(this.b, this.driver);
    this.recorder = new StateRecorder([
      { name: 'client', stack: this.a },
      { name: 'server', stack: this.b },
    ]);
    this.driver.onStep = () => {
      this.recorder.sample();
      if (this.onStep !== null) this.onStep();
    };
    this.driver.start();
    this.result = this.run();
  }

  /** Stops the driver (TIME-WAIT entries stay where they are). */
  stop(): void {
    this.driver.stop();
  }

  private handler(req: HttpRequest): HttpResponse {
    if (req.method !== 'GET' && req.method !== 'HEAD') return { status: 405 };
    switch (req.path) {
      case '/':
        return { status: 200, headers: { 'Content-Type': 'text/html' }, body: INDEX_TEXT };
      case '/hello.txt':
        return { status: 200, headers: { 'Content-Type': 'text/plain' }, body: HELLO_TEXT };
      case '/data.json':
        return { status: 200, headers: { 'Content-Type': 'application/json' }, body: DATA_JSON };
      case '/big.bin':
        return {
          status: 200,
          headers: { 'Content-Type': 'application/octet-stream' },
          body: bigBody(this.opts.bigBytes),
        };
      default:
        return { status: 404, body: 'not found\n' };
    }
  }

  private async run(): Promise<DemoResult> {
    const responses = this.responses;
    let error: string | undefined;
    const server = createHttpServer(this.netB, (r) => this.handler(r), {
      closeDelayMs: this.opts.closeDelayMs,
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(DEMO_PORT, DEMO_SERVER, () => resolve());
    });
    const record = (client: number, path: string, r: HttpClientResponse) => {
      const binary = (r.headers['content-type'] ?? '').startsWith('application/octet-stream');
      responses.push({
        path,
        status: r.status,
        length: r.body.length,
        text: binary ? '' : new TextDecoder().decode(r.body),
        fnv: fnv1a(r.body),
        client,
        localPort: r.localPort,
      });
    };
    const target = { host: DEMO_SERVER, port: DEMO_PORT };
    const c1 = new HttpClient(this.netA, target);
    const c2 = new HttpClient(this.netA, target);
    const job1 = (async () => {
      for (const p of ['/', '/hello.txt', '/data.json']) record(1, p, await c1.get(p));
      await c1.close();
    })();
    const job2 = (async () => {
      record(2, '/big.bin', await c2.get('/big.bin', { Connection: 'close' }));
      await c2.close();
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`demo did not finish in ${this.opts.timeoutMs} ms`)),
        this.opts.timeoutMs,
      );
    });
    const deadline = this.driver.now() + this.opts.timeoutMs;
    try {
      await Promise.race([Promise.all([job1, job2]), timeout]);
      // Wait until both connections have settled: TIME-WAIT on each side, nothing closing any more.
      await Promise.race([this.settled(deadline), timeout]);
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    } finally {
      clearTimeout(timer);
    }
    server.close();
    const seen = [...this.recorder.seen];
    const ok =
      error === undefined &&
      responses.length === 4 &&
      responses.every((r) => r.status === 200) &&
      seen.includes('ESTAB') &&
      seen.includes('TIME-WAIT');
    return {
      ok,
      error,
      responses,
      states: seen,
      history: [...this.recorder.history.values()],
      segments: this.log.count,
      elapsedMs: this.driver.now() - this.started,
    };
  }

  private settled(deadline: number): Promise<void> {
    const busy = new Set([
      'SYN-SENT',
      'SYN-RECV',
      'ESTAB',
      'FIN-WAIT-1',
      'CLOSE-WAIT',
      'CLOSING',
      'LAST-ACK',
    ]);
    const check = (): boolean => {
      let tw = 0;
      for (const s of [this.a, this.b]) {
        for (const r of (s.tcp as TcpLayer).list()) {
          if (busy.has(r.state)) return false;
          if (r.state === 'TIME-WAIT') tw++;
        }
      }
      return tw >= 2;
    };
    return new Promise<void>((resolve) => {
      const poll = () => {
        if (check()) resolve();
        else if (this.driver.now() < deadline) setTimeout(poll, 10);
      };
      poll();
    });
  }
}

/** Starts the demo; `demo.result` resolves when the exchange is over. */
export function startDemo(opts: DemoOptions = {}): Demo {
  return new Demo(opts);
}
