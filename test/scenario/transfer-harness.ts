/**
 * Bulk-transfer harness for scenario tests and benchmarks: two stacks on a
 * MemoryWire in a World, one TCP connection between them, and pumps that
 * stream a deterministic byte pattern through it while hashing both ends.
 */
import { createHash, type Hash } from 'node:crypto';
import { MemoryWire, type MemoryWireOptions } from '../../src/link/memory-wire.js';
import { World } from '../../src/sim/world.js';
import { POLLERR, POLLHUP, POLLIN, POLLOUT } from '../../src/socket/poll.js';
import type { TcpSocket } from '../../src/socket/tcp-socket.js';
import { Stack, type StackOptions } from '../../src/stack.js';
import { TcpLayer } from '../../src/tcp/tcp.js';

export interface PairOptions {
  wire?: MemoryWireOptions;
  a?: StackOptions;
  b?: StackOptions;
  /** SO_SNDBUF / SO_RCVBUF for both sockets (bytes); default: the sysctl defaults. */
  sndBuf?: number;
  rcvBuf?: number;
  port?: number;
}

export interface Pair {
  world: World;
  wire: MemoryWire;
  a: Stack;
  b: Stack;
  /** a's connected socket and b's accepted one. */
  ca: TcpSocket;
  cb: TcpSocket;
}

export function tcpOf(s: Stack): TcpLayer {
  return (s.tcp as TcpLayer | null) ?? new TcpLayer(s);
}

function sock(s: Stack): TcpSocket {
  return tcpOf(s).socket(4);
}

export interface Hosts {
  world: World;
  wire: MemoryWire;
  a: Stack;
  b: Stack;
}

/** Stacks a (198.18.0.1) and b (198.18.0.2) on one MemoryWire in a World. */
export function twoStacks(o: PairOptions = {}): Hosts {
  const world = new World({ maxStepsSameTime: 1_000_000 });
  const wire = new MemoryWire({ delay: 1, mtu: 1500, name: 'wire', ...o.wire, clock: world.clock });
  const a = world.add(new Stack({ seed: 1, name: 'a', ...o.a }));
  const b = world.add(new Stack({ seed: 2, name: 'b', ...o.b }));
  // World brings both stacks to the event time before the wire delivers.
  world.add(wire);
  a.addInterface('eth0', wire.a, { addrs: ['198.18.0.1/24'] });
  b.addInterface('eth0', wire.b, { addrs: ['198.18.0.2/24'] });
  tcpOf(a);
  tcpOf(b);
  return { world, wire, a, b };
}

/** Build the pair and complete a handshake a → b (throws if it does not complete). */
export function connectPair(o: PairOptions = {}): Pair {
  const { world, wire, a, b } = twoStacks(o);
  const port = o.port ?? 5001;
  const ls = sock(b);
  if (o.rcvBuf) ls.setsockopt('SO_RCVBUF', o.rcvBuf);
  if (o.sndBuf) ls.setsockopt('SO_SNDBUF', o.sndBuf);
  ls.bind('198.18.0.2', port);
  ls.listen(16);
  const ca = sock(a);
  if (o.rcvBuf) ca.setsockopt('SO_RCVBUF', o.rcvBuf);
  if (o.sndBuf) ca.setsockopt('SO_SNDBUF', o.sndBuf);
  try {
    ca.connect('198.18.0.2', port);
  } catch (e) {
    if ((e as { code?: string }).code !== 'EINPROGRESS') throw e;
  }
  let cb: TcpSocket | null = null;
  world.runUntil(
    () => {
      if (cb === null) {
        try {
          cb = ls.accept();
        } catch {
          /* EAGAIN until the handshake completes */
        }
      }
      return cb !== null && ca.state === 'ESTABLISHED';
    },
    { timeout: 120_000 },
  );
  if (cb === null) throw new Error(`handshake did not complete: client ${ca.state}`);
  ls.close();
  return { world, wire, a, b, ca, cb };
}

/** A deterministic byte stream (xorshift32 words) generated in 64 KiB chunks. */
export class Pattern {
  private x: number;
  readonly chunk = new Uint8Array(65536);
  private readonly words = new Uint32Array(this.chunk.buffer);
  constructor(seed: number) {
    this.x = seed >>> 0 || 1;
  }
  next(): Uint8Array {
    let x = this.x;
    const w = this.words;
    for (let i = 0; i < w.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      w[i] = x;
    }
    this.x = x >>> 0;
    return this.chunk;
  }
}

/** Streams `total` pattern bytes into a socket, then shuts down writing. */
export class BulkSender {
  readonly hash: Hash = createHash('sha256');
  sent = 0;
  done = false;
  /** shutdown(SHUT_WR) after the last byte (false: leave the stream open for more). */
  shutdownWhenDone = true;
  /** Send the same 64 KiB chunk over and over (benchmarks: generating data is not TCP's cost). */
  fixedData = false;
  private generated = false;
  private pat: Pattern;
  private buf: Uint8Array;
  private pos = 0;
  private len = 0;
  constructor(
    readonly sock: TcpSocket,
    readonly total: number,
    seed: number,
    readonly hashing = true,
  ) {
    this.pat = new Pattern(seed);
    this.buf = this.pat.chunk;
  }
  pump(): void {
    if (this.done) return;
    for (;;) {
      if (this.pos === this.len) {
        if (this.sent === this.total) {
          if (this.shutdownWhenDone) this.sock.shutdown(1);
          this.done = true;
          return;
        }
        if (!this.fixedData || !this.generated) {
          this.buf = this.pat.next();
          this.generated = true;
        }
        this.len = Math.min(this.buf.length, this.total - this.sent);
        this.pos = 0;
        if (this.hashing) this.hash.update(this.buf.subarray(0, this.len));
      }
      // Ask poll() first: EAGAIN is an exception here, and exceptions are
      // far too slow for a hot loop (the stack trace alone costs µs).
      if (!(this.sock.poll() & (POLLOUT | POLLERR))) return;
      let n: number;
      try {
        n = this.sock.send(this.buf, this.pos, this.len - this.pos);
      } catch (e) {
        if ((e as { code?: string }).code === 'EAGAIN') return;
        throw e;
      }
      this.pos += n;
      this.sent += n;
      if (n === 0) return;
    }
  }
}

/** Reads a socket to end of stream, hashing what arrives. */
export class BulkReceiver {
  readonly hash: Hash = createHash('sha256');
  received = 0;
  eof = false;
  private readonly buf = new Uint8Array(65536);
  constructor(
    readonly sock: TcpSocket,
    readonly hashing = true,
  ) {}
  pump(): void {
    while (!this.eof) {
      if (!(this.sock.poll() & (POLLIN | POLLERR | POLLHUP))) return;
      let n: number;
      try {
        n = this.sock.recvInto(this.buf, 0, this.buf.length);
      } catch (e) {
        if ((e as { code?: string }).code === 'EAGAIN') return;
        throw e;
      }
      if (n === 0) {
        this.eof = true;
        return;
      }
      if (this.hashing) this.hash.update(this.buf.subarray(0, n));
      this.received += n;
    }
  }
}

export interface DuplexResult {
  ok: boolean;
  virtualMs: number;
  aToB: { sent: number; received: number; digestSent: string; digestReceived: string };
  bToA: { sent: number; received: number; digestSent: string; digestReceived: string };
}

/** Bulk transfer of `bytes` in each direction at once; runs until both ends saw EOF. */
export function duplexTransfer(
  p: Pair,
  bytes: number,
  opts: { timeoutMs?: number; maxSteps?: number } = {},
): DuplexResult {
  const sa = new BulkSender(p.ca, bytes, 0x1234567);
  const sb = new BulkSender(p.cb, bytes, 0x7654321);
  const ra = new BulkReceiver(p.ca);
  const rb = new BulkReceiver(p.cb);
  const fail = (s: TcpSocket) => {
    const ev = s.poll();
    if (ev & POLLERR) throw new Error(`socket error ${s.getsockopt('SO_ERROR')} in state ${s.state}`);
    return ev & POLLHUP;
  };
  p.ca.onEvent = () => {
    sa.pump();
    ra.pump();
  };
  p.cb.onEvent = () => {
    sb.pump();
    rb.pump();
  };
  const t0 = p.world.now;
  sa.pump();
  sb.pump();
  p.world.runUntil(
    () => {
      fail(p.ca);
      fail(p.cb);
      return ra.eof && rb.eof && sa.done && sb.done;
    },
    { timeout: opts.timeoutMs ?? 3_600_000, maxSteps: opts.maxSteps ?? 1e9 },
  );
  const r: DuplexResult = {
    ok: false,
    virtualMs: p.world.now - t0,
    aToB: {
      sent: sa.sent,
      received: rb.received,
      digestSent: sa.hash.digest('hex'),
      digestReceived: rb.hash.digest('hex'),
    },
    bToA: {
      sent: sb.sent,
      received: ra.received,
      digestSent: sb.hash.digest('hex'),
      digestReceived: ra.hash.digest('hex'),
    },
  };
  r.ok =
    r.aToB.sent === bytes &&
    r.aToB.received === bytes &&
    r.aToB.digestSent === r.aToB.digestReceived &&
    r.bToA.sent === bytes &&
    r.bToA.received === bytes &&
    r.bToA.digestSent === r.bToA.digestReceived;
  return r;
}
