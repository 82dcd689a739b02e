/**
 * The composition root: one Stack is one host. It owns the shared basics
 * (sysctl, counters, the seeded generator, the timer wheel, the clock) and
 * the layers (ip, udp, tcp), and is driven from outside (DESIGN: sans-I/O):
 *
 *   const stack = new Stack({ seed: 1, now: 0, name: 'a' });
 *   stack.addInterface('eth0', link, { addrs: ['198.18.0.1/24', 'fd00::1/64'] });
 *   stack.receive('eth0', frame);      // or the link's onReceive
 *   stack.advance(now);                // run what is due
 *   stack.nextDeadline();              // when to call advance() next
 *
 * Every stack has a loopback device `lo` (127.0.0.1/8, ::1/128): traffic to
 * the stack's own addresses goes through it and is delivered on the next
 * advance(), never re-entrantly.
 *
 * Transports: the Stack constructs UDP itself; TCP is attached with
 * `new TcpLayer(stack)`, whose constructor sets `stack.tcp` and registers
 * protocol 6 (see docs/internals.md), so this file imports no TCP module.
 */
import { Counters } from './counters.js';
import { SysError } from './errno.js';
import type { EchoReply } from './ip/icmp-service.js';
import type { NetInterface } from './ip/interface.js';
import { type InterfaceOptions, IpLayer, type RouteOptions } from './ip/ip-layer.js';
import type { Family, IpOutputOpts } from './ip/types.js';
import type { Link } from './link/link.js';
import { Rng } from './rng.js';
import { Sysctl, type SysctlValue } from './sysctl.js';
import type { Steppable } from './time/steppable.js';
import { TimerWheel } from './time/timer-wheel.js';
import { UdpLayer } from './udp/udp-layer.js';
import type { UdpSocket } from './udp/udp-socket.js';
import { type IpAddr, mustParseAddr } from './wire/addr.js';

export interface StackOptions {
  /** Seed of the stack's one random generator (default 1). */
  seed?: number;
  /** Time the stack starts at, ms (default 0). */
  now?: number;
  /** A name for logs and pcap file names. */
  name?: string;
  /** Sysctl overrides by Linux name. */
  sysctl?: Record<string, SysctlValue>;
  /**
   * Acknowledge in-order data delivered in one burst as Linux acknowledges
   * a GRO packet (src/tcp/gro.ts); false: segment by segment, as with
   * `ethtool -K dev gro off`. Default true.
   */
  gro?: boolean;
}

/** A socket-like object that wants its onEvent called once the stack is done
 *  with the current input or timer run (never re-entrantly). */
export interface Wakeable {
  wakeQueued: boolean;
  fireEvents(): void;
}

/** What a transport layer offers the stack: sockets, and receive bursts (src/tcp/gro.ts). */
export interface TransportLayer {
  socket(family: Family): unknown;
  beginBurst?(): void;
  endBurst?(): void;
}

export class Stack implements Steppable {
  readonly name: string;
  readonly sysctl: Sysctl;
  readonly counters: Counters;
  readonly rng: Rng;
  readonly timers: TimerWheel;
  readonly ip: IpLayer;
  /** Set by `new TcpLayer(stack)`; null until a TCP layer is attached. */
  tcp: TransportLayer | null = null;
  readonly udp: UdpLayer;
  /** Other things that have deadlines of their own (attach()). */
  private readonly extra: Steppable[] = [];
  private _now: number;
  private wakeQueue: Wakeable[] = [];
  private depth = 0;
  /** StackOptions.gro. */
  readonly gro: boolean;
  /** Receive bursts open (beginBurst) and frames taken in the current one. */
  private bursting = 0;
  private burstFrames = 0;

  constructor(opts: StackOptions = {}) {
    this.name = opts.name ?? 'stack';
    this.gro = opts.gro ?? true;
    this._now = opts.now ?? 0;
    this.sysctl = new Sysctl(opts.sysctl);
    this.counters = new Counters();
    this.rng = new Rng(opts.seed ?? 1);
    this.timers = new TimerWheel(this._now);
    this.ip = new IpLayer(this);
    this.udp = new UdpLayer(this);
  }

  /** Current time (ms): the last value given to advance() or the constructor. */
  get now(): number {
    return this._now;
  }

  // ---- configuration -----------------------------------------------------------

  addInterface(name: string, link: Link, opts: InterfaceOptions = {}): NetInterface {
    const iface = this.ip.addInterface(name, link, opts);
    // Frames that the link hands over are processed like receive().
    link.onReceive = (frame) => this.receive(name, frame);
    return iface;
  }

  addAddress(ifname: string, cidr: string): void {
    this.ip.addAddress(ifname, cidr);
  }

  addRoute(prefix: string, opts: RouteOptions): void {
    this.ip.addRoute(prefix, opts);
  }

  /** Let something with deadlines of its own be driven with the stack. */
  attach(s: Steppable): void {
    this.extra.push(s);
  }

  // ---- driving -------------------------------------------------------------------

  /** An IP packet arrived on `ifname`. The stack owns `frame` afterwards. */
  receive(ifname: string, frame: Uint8Array): void {
    this.depth++;
    try {
      this.ip.receive(ifname, frame);
    } finally {
      this.depth--;
    }
    if (this.depth === 0) this.flushEvents();
    else if (this.depth === this.bursting && ++this.burstFrames >= this.sysctl.v['net.core.dev_weight'])
      this.repoll();
  }

  /**
   * A burst has used up its NAPI budget (net.core.dev_weight frames): as when
   * a Linux poll returns, what was merged is acknowledged and the sockets'
   * events fire (the applications run) before the next frames are taken.
   */
  private repoll(): void {
    this.burstFrames = 0;
    if (this.gro) {
      this.tcp?.endBurst?.();
      this.tcp?.beginBurst?.();
    }
    this.flushEvents();
  }

  nextDeadline(): number {
    let d = this.timers.nextDeadline();
    const l = this.ip.nextDeadline();
    if (l < d) d = l;
    for (const s of this.extra) {
      const x = s.nextDeadline();
      if (x < d) d = x;
    }
    if (this.wakeQueue.length > 0 && this._now < d) d = this._now;
    return d;
  }

  advance(now: number): void {
    if (now > this._now) this._now = now;
    this.beginBurst();
    try {
      this.timers.advance(this._now);
      this.ip.advance();
      for (const s of this.extra) if (s.nextDeadline() <= this._now) s.advance(this._now);
    } finally {
      this.endBurst();
    }
  }

  /**
   * Frames received until endBurst() arrive as one burst (one NAPI poll of a
   * Linux driver): socket events fire once at its end, and with `gro` TCP
   * makes one ACK decision per flow's merged run of segments (src/tcp/gro.ts).
   * World calls these around the deliveries of its links.
   */
  beginBurst(): void {
    this.depth++;
    if (this.bursting++ === 0) this.burstFrames = 0;
    if (this.gro) this.tcp?.beginBurst?.();
  }

  endBurst(): void {
    try {
      if (this.gro) this.tcp?.endBurst?.();
    } finally {
      this.bursting--;
      this.depth--;
    }
    if (this.depth === 0) this.flushEvents();
  }

  /** Queue `t.fireEvents()` for when the stack finishes the current input/timer run. */
  wake(t: Wakeable): void {
    if (t.wakeQueued) return;
    t.wakeQueued = true;
    this.wakeQueue.push(t);
    if (this.depth === 0) this.flushEvents();
  }

  private flushEvents(): void {
    // Bounded: an onEvent that wakes sockets again is served in the next round.
    for (let round = 0; round < 64 && this.wakeQueue.length > 0; round++) {
      const q = this.wakeQueue;
      this.wakeQueue = [];
      for (const t of q) {
        t.wakeQueued = false;
        t.fireEvents();
      }
    }
  }

  // ---- sockets and tools ------------------------------------------------------------

  /** A BSD-like socket of the given transport and family (see src/socket/). */
  socket(kind: 'udp', family?: Family): UdpSocket;
  socket(kind: 'tcp', family?: Family): unknown;
  socket(kind: 'tcp' | 'udp', family: Family = 4): unknown {
    if (family !== 4 && family !== 6) throw new SysError('EAFNOSUPPORT', 'socket');
    if (kind === 'udp') return this.udp.socket(family);
    if (kind !== 'tcp') throw new SysError('EPROTONOSUPPORT', 'socket');
    if (this.tcp === null) throw new SysError('EPROTONOSUPPORT', 'socket', 'no tcp layer in this stack');
    return this.tcp.socket(family);
  }

  /** Send an ICMP/ICMPv6 echo request; returns 0 or an errno number. */
  ping(dst: string | IpAddr, id: number, seq: number, data?: Uint8Array, opts?: IpOutputOpts): number {
    const d = typeof dst === 'string' ? mustParseAddr(dst) : dst;
    return this.ip.icmp.sendEcho(d, id, seq, data ?? new Uint8Array(0), undefined, opts);
  }

  /** Called for every echo reply this stack receives. */
  set onEchoReply(fn: ((r: EchoReply) => void) | null) {
    this.ip.icmp.onEchoReply = fn;
  }
}
