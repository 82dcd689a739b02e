/**
 * Test harness for TCP: one usnet stack whose link captures every segment it
 * emits, and a hand-built "peer" whose segments a test injects (gVisor's
 * style: drive raw segments at an endpoint, check the reply). Also a
 * two-stack pair on a MemoryWire in a World for end-to-end scenarios.
 */
import type { Link } from '../../src/link/link.js';
import { MemoryWire, type MemoryWireOptions } from '../../src/link/memory-wire.js';
import { World } from '../../src/sim/world.js';
import type { TcpSocket } from '../../src/socket/tcp-socket.js';
import { Stack } from '../../src/stack.js';
import type { SysctlValue } from '../../src/sysctl.js';
import { TcpLayer } from '../../src/tcp/tcp.js';
import { mustParseAddr } from '../../src/wire/addr.js';
import { pseudoSumV4 } from '../../src/wire/checksum.js';
import { emitIpv4, newIpv4Header, parseIpv4 } from '../../src/wire/ipv4.js';
import { emitTcp, newTcpHeader, parseTcp, type TcpHeader, tcpFillChecksum } from '../../src/wire/tcp.js';

export const LOCAL = '198.18.0.1';
export const PEER = '198.18.0.2';

/** A link that keeps what the stack transmits. */
export class CaptureLink implements Link {
  readonly mtu: number;
  frames: Uint8Array[] = [];
  times: number[] = [];
  clock: () => number = () => 0;
  onReceive: ((frame: Uint8Array) => void) | null = null;
  constructor(mtu = 1500) {
    this.mtu = mtu;
  }
  transmit(frame: Uint8Array): void {
    this.frames.push(frame.slice());
    this.times.push(this.clock());
  }
}

/** A segment as captured: header fields, flags as tcpdump writes them, payload copy. */
export interface Seg {
  flags: string;
  rawFlags: number;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  win: number;
  len: number;
  mss: number;
  wscale: number;
  sackOk: boolean;
  hasTs: boolean;
  tsVal: number;
  tsEcr: number;
  sack: number[];
  payload: Uint8Array;
  /** Option bytes as sent (layout checks). */
  optBytes: number[];
  time: number;
}

export function flagString(f: number): string {
  let s = '';
  if (f & 0x02) s += 'S';
  if (f & 0x01) s += 'F';
  if (f & 0x04) s += 'R';
  if (f & 0x08) s += 'P';
  if (f & 0x20) s += 'U';
  if (f & 0x10) s += '.';
  return s;
}

function parseFlags(s: string): number {
  let f = 0;
  for (const ch of s) {
    if (ch === 'S') f |= 0x02;
    else if (ch === 'F') f |= 0x01;
    else if (ch === 'R') f |= 0x04;
    else if (ch === 'P') f |= 0x08;
    else if (ch === 'U') f |= 0x20;
    else if (ch === '.') f |= 0x10;
  }
  return f;
}

export function decodeSegment(frame: Uint8Array, time: number): Seg | null {
  const ip = newIpv4Header();
  if (parseIpv4(frame, ip) !== null || ip.proto !== 6) return null;
  const h = newTcpHeader();
  if (parseTcp(frame, h, ip.headerLen, ip.totalLen - ip.headerLen) !== null) return null;
  const sack: number[] = [];
  for (let i = 0; i < h.sackCount * 2; i++) sack.push(h.sackBlocks[i]);
  return {
    flags: flagString(h.flags),
    rawFlags: h.flags,
    sport: h.srcPort,
    dport: h.dstPort,
    seq: h.seq,
    ack: h.ack,
    win: h.window,
    len: h.payloadLen,
    mss: h.mss,
    wscale: h.wscale,
    sackOk: h.sackOk,
    hasTs: h.hasTs,
    tsVal: h.tsVal,
    tsEcr: h.tsEcr,
    sack,
    payload: h.payload.slice(),
    optBytes: [...frame.subarray(ip.headerLen + 20, ip.headerLen + h.dataOffset)],
    time,
  };
}

export interface InjectSpec {
  flags: string;
  seq: number;
  ack?: number;
  win?: number;
  sport?: number;
  dport?: number;
  mss?: number;
  wscale?: number;
  sackOk?: boolean;
  ts?: [number, number];
  sack?: number[];
  payload?: Uint8Array | number;
  /** Spoil the checksum. */
  badChecksum?: boolean;
}

export interface HarnessOptions {
  sysctl?: Record<string, SysctlValue>;
  mtu?: number;
  seed?: number;
}

/** One stack (198.18.0.1) on a capture link; the test plays the peer (198.18.0.2). */
export class Harness {
  readonly stack: Stack;
  readonly tcp: TcpLayer;
  readonly link: CaptureLink;
  private readonly hdr: TcpHeader = newTcpHeader();
  /** Default peer port for inject(). */
  peerPort = 40000;

  constructor(o: HarnessOptions = {}) {
    this.stack = new Stack({ seed: o.seed ?? 7, name: 'h', sysctl: o.sysctl });
    this.tcp = new TcpLayer(this.stack);
    this.link = new CaptureLink(o.mtu ?? 1500);
    this.link.clock = () => this.stack.now;
    this.stack.addInterface('eth0', this.link, { addrs: [`${LOCAL}/24`] });
  }

  get now(): number {
    return this.stack.now;
  }

  socket(): TcpSocket {
    return this.tcp.socket(4);
  }

  /** Run the stack's timers up to now + ms, one deadline at a time. */
  advance(ms: number): void {
    const end = this.stack.now + ms;
    for (let i = 0; i < 1_000_000; i++) {
      const d = this.stack.nextDeadline();
      if (d > end) break;
      this.stack.advance(Math.max(d, this.stack.now));
    }
    this.stack.advance(end);
  }

  /** Run until the next segment is emitted (at most `limit` ms); returns it or null. */
  nextSegment(limit = 1_000_000): Seg | null {
    if (this.pending.length > 0) return this.pending.shift() as Seg;
    const end = this.stack.now + limit;
    for (let i = 0; i < 1_000_000; i++) {
      if (this.link.frames.length > 0) break;
      const d = this.stack.nextDeadline();
      if (d > end) break;
      this.stack.advance(Math.max(d, this.stack.now));
    }
    const got = this.take();
    if (got.length === 0) return null;
    this.pending = got.slice(1);
    return got[0];
  }

  private pending: Seg[] = [];

  /** Segments emitted since the last take(). */
  take(): Seg[] {
    const out: Seg[] = this.pending;
    this.pending = [];
    const fr = this.link.frames;
    for (let i = 0; i < fr.length; i++) {
      const s = decodeSegment(fr[i], this.link.times[i]);
      if (s !== null) out.push(s);
    }
    this.link.frames = [];
    this.link.times = [];
    return out;
  }

  /** Exactly one segment emitted since the last take(). */
  one(): Seg {
    const s = this.take();
    if (s.length !== 1)
      throw new Error(`expected one segment, got ${s.length}: ${s.map((x) => x.flags).join(' ')}`);
    return s[0];
  }

  /** Deliver a hand-built segment from the peer. */
  inject(sp: InjectSpec): void {
    const h = this.hdr;
    h.srcPort = sp.sport ?? this.peerPort;
    h.dstPort = sp.dport ?? 80;
    h.seq = sp.seq >>> 0;
    h.ack = (sp.ack ?? 0) >>> 0;
    h.flags = parseFlags(sp.flags);
    h.window = sp.win ?? 65535;
    h.urgent = 0;
    h.checksum = 0;
    h.mss = sp.mss ?? -1;
    h.wscale = sp.wscale ?? -1;
    h.sackOk = sp.sackOk ?? false;
    h.hasTs = sp.ts !== undefined;
    h.tsVal = sp.ts?.[0] ?? 0;
    h.tsEcr = sp.ts?.[1] ?? 0;
    h.sackCount = 0;
    if (sp.sack) {
      for (let i = 0; i < sp.sack.length; i++) h.sackBlocks[i] = sp.sack[i];
      h.sackCount = sp.sack.length / 2;
    }
    const payload =
      sp.payload === undefined
        ? new Uint8Array(0)
        : typeof sp.payload === 'number'
          ? new Uint8Array(sp.payload).map((_, i) => i & 0xff)
          : sp.payload;
    const buf = new Uint8Array(20 + 60 + payload.length);
    const hl = emitTcp(h, buf, 20);
    buf.set(payload, 20 + hl);
    const tlen = hl + payload.length;
    const src = mustParseAddr(PEER);
    const dst = mustParseAddr(LOCAL);
    tcpFillChecksum(buf, 20, tlen, pseudoSumV4(src, dst, 6, tlen));
    if (sp.badChecksum) buf[20 + 16] ^= 0xff;
    const ip = newIpv4Header();
    ip.totalLen = 20 + tlen;
    ip.proto = 6;
    ip.ttl = 64;
    ip.src.set(src);
    ip.dst.set(dst);
    emitIpv4(ip, buf, 0);
    this.stack.receive('eth0', buf.subarray(0, 20 + tlen));
  }

  counter(name: string): number {
    return this.stack.counters.get(name);
  }
}

/** Two stacks a (198.18.0.1) and b (198.18.0.2) with TCP, on a MemoryWire in a World. */
export function twoStacks(
  o: {
    wire?: MemoryWireOptions;
    sysctlA?: Record<string, SysctlValue>;
    sysctlB?: Record<string, SysctlValue>;
  } = {},
) {
  const world = new World({ maxStepsSameTime: 1_000_000 });
  const wire = world.add(
    new MemoryWire({ delay: 1, mtu: 1500, name: 'wire', ...o.wire, clock: world.clock }),
  );
  const a = world.add(new Stack({ seed: 1, name: 'a', sysctl: o.sysctlA }));
  const b = world.add(new Stack({ seed: 2, name: 'b', sysctl: o.sysctlB }));
  a.addInterface('eth0', wire.a, { addrs: ['198.18.0.1/24', 'fd00::1/64'] });
  b.addInterface('eth0', wire.b, { addrs: ['198.18.0.2/24', 'fd00::2/64'] });
  const ta = new TcpLayer(a);
  const tb = new TcpLayer(b);
  return { world, wire, a, b, ta, tb };
}

export interface Established {
  l: TcpSocket;
  s: TcpSocket;
  /** Our ISS; our next sequence number is iss + 1 at the start. */
  iss: number;
  /** The peer's next sequence number. */
  peerSeq: number;
  synack: Seg;
}

/**
 * A passive connection: listener on LOCAL:80, the peer's SYN (MSS 1460,
 * wscale 7, SACK-permitted; timestamps only when `ts`), our SYN-ACK, the
 * peer's ACK, accept(). The peer's window is 65535 << 7 unless `win`.
 */
export function establishPassive(
  h: Harness,
  o: { ts?: boolean; win?: number; wscale?: number; sack?: boolean } = {},
): Established {
  const l = h.socket();
  l.bind(LOCAL, 80);
  l.listen(5);
  const ws = o.wscale ?? 7;
  h.inject({
    flags: 'S',
    seq: 1000,
    win: 64240,
    mss: 1460,
    wscale: ws,
    sackOk: o.sack ?? true,
    ts: o.ts ? [100, 0] : undefined,
  });
  const sa = h.one();
  h.inject({
    flags: '.',
    seq: 1001,
    ack: sa.seq + 1,
    win: o.win ?? 65535,
    ts: o.ts ? [101, sa.tsVal] : undefined,
  });
  const s = l.accept();
  h.take();
  return { l, s, iss: sa.seq, peerSeq: 1001, synack: sa };
}
