/**
 * The TCP layer of one stack: registers with IP, demultiplexes segments to
 * control blocks (established table, then TIME_WAIT, then listeners, else a
 * reset), owns the shared output buffer, the timers of every connection and
 * the wake-up queue toward sockets. Per-state input processing is in
 * input.ts, segment building in output.ts, timers in timers.ts, listeners in
 * listen.ts.
 */

import { InetTables } from '../inet/inet-tables.js';
import type { IcmpErr, IpHandler, IpOutputOpts, IpRx } from '../ip/types.js';
import { TcpSocket } from '../socket/tcp-socket.js';
import type { Sysctl } from '../sysctl.js';
import type { TimerHandler } from '../time/timer-wheel.js';
import { addrCopy, type IpAddr } from '../wire/addr.js';
import { pseudoSum, wireBuffer } from '../wire/checksum.js';
import { IPPROTO_TCP, newTcpHeader, parseTcp, type TcpHeader, tcpChecksumOk } from '../wire/tcp.js';
import { BufferPool } from './buffer-pool.js';
import { type TcpCounterIds, tcpCounterIds } from './counters.js';
import { groFlush } from './gro.js';
import type { TcpHost, TcpTables } from './host.js';
import { segmentArrives } from './input.js';
import { listenInput } from './listen.js';
import { sendReset } from './output.js';
import { SS_STATE_NAMES, TcpState } from './state.js';
import { Tcb } from './tcb.js';
import { onTcbTimer } from './timers.js';
import { TimeWait } from './timewait.js';

/** Offset of the TCP header in the output buffer: room for any IP header. */
export const OUT_HEADROOM = 64;

/** One row of `ss -t` (stack.tcp.list()). */
export interface TcpListRow {
  state: (typeof SS_STATE_NAMES)[number];
  family: 4 | 6;
  laddr: IpAddr | null;
  lport: number;
  raddr: IpAddr | null;
  rport: number;
  /** Established: bytes not yet read; LISTEN: accept-queue length. */
  recvQ: number;
  /** Established: bytes not yet acknowledged; LISTEN: the backlog. */
  sendQ: number;
  /** `ss -o` timer: 'on' (retransmit), 'persist', 'keepalive', 'timewait', 'delack' or '' */
  timer: string;
  /** Milliseconds until the timer fires (0 when none). */
  timerMs: number;
  /** Retransmissions / probes so far (the third field of ss's timer:(...)). */
  retrans: number;
  /** IPV6_V6ONLY of an AF_INET6 socket (ss prints its unspecified addresses as `*` when false) */
  v6only?: boolean;
}

export class TcpLayer implements IpHandler, TimerHandler {
  readonly host: TcpHost;
  readonly sysctl: Sysctl;
  readonly c: TcpCounterIds;
  tables: TcpTables<Tcb>;
  /** Reused parsed header for input; another for output. */
  readonly hdr: TcpHeader = newTcpHeader();
  readonly ohdr: TcpHeader = newTcpHeader();
  /**
   * The one output buffer: TCP header at OUT_HEADROOM, payload after it. In
   * WebAssembly memory (wireBuffer) so the checksum sums it in place instead
   * of staging a copy: one payload copy fewer per segment.
   */
  obuf: Uint8Array = wireBuffer(OUT_HEADROOM + 60 + 65536);
  readonly outOpts: IpOutputOpts = { df: true };
  /** Free send/receive rings shared by this layer's connections (buffer-pool.ts). */
  readonly bufferPool = new BufferPool();
  /** Control blocks by id (timer data), and the free ids. */
  private readonly byId: (Tcb | null)[] = [];
  private readonly freeIds: number[] = [];
  /** Socket calls in progress: wake-ups from inside them are not reported (the caller knows). */
  apiDepth = 0;
  /** Receive bursts open (beginBurst); connections whose ACK decision waits for the end (gro.ts). */
  burstDepth = 0;
  readonly groAcks: Tcb[] = [];
  /** Secret for SYN cookies (from the stack's rng). */
  readonly cookieSecret: Uint32Array;
  /** Hook for the TIME_WAIT table: a connection entering TIME_WAIT or an orphan entering FIN_WAIT2. */
  timeWait: TimeWaitHook | null = null;

  constructor(host: TcpHost, tables?: TcpTables<Tcb>) {
    this.host = host;
    this.sysctl = host.sysctl;
    this.c = tcpCounterIds(host.counters);
    this.tables = tables ?? new InetTables<Tcb>(host);
    const r = host.rng.fork();
    this.cookieSecret = new Uint32Array([r.u32(), r.u32(), r.u32(), r.u32()]);
    host.ip.register(IPPROTO_TCP, this);
    if ('tcp' in host) (host as { tcp: unknown }).tcp = this;
    if (this.tables instanceof InetTables) this.timeWait = new TimeWait(this.tables, this, host);
  }

  /** stack.socket('tcp', family). */
  socket(family: 4 | 6): TcpSocket {
    return new TcpSocket(this, family);
  }

  get now(): number {
    return this.host.now;
  }

  inc(id: number, by = 1): void {
    this.host.counters.inc(id, by);
  }

  // ---------------------------------------------------------------- control blocks

  /**
   * A new control block with buffers sized from tcp_wmem / tcp_rmem. Its
   * three timer handles are taken from the wheel when first armed (most
   * connections never arm the keepalive timer, many not the delayed ACK).
   */
  newTcb(family: 4 | 6): Tcb {
    const v = this.sysctl.v;
    const t = new Tcb(family, v['net.ipv4.tcp_wmem'][1], v['net.ipv4.tcp_rmem'][1], this.bufferPool);
    const id = this.freeIds.length > 0 ? (this.freeIds.pop() as number) : this.byId.length;
    this.byId[id] = t;
    t.id = id;
    return t;
  }

  /** A wheel handle for one of `t`'s timers (-1 once `t` is freed: arming it then throws, as a freed handle did). */
  private timerFor(t: Tcb): number {
    return t.id >= 0 ? this.host.timers.alloc(this, t.id) : -1;
  }

  /**
   * Release a control block's timers, id and buffer rings (after it left
   * every table; nobody reads or sends through it any more, so what its
   * buffers still hold is dropped).
   */
  freeTcb(t: Tcb): void {
    if (t.id < 0) return;
    t.snd.clear();
    t.snd.release();
    t.rcv.clear();
    t.rcv.release();
    const w = this.host.timers;
    if (t.hRtx >= 0) w.free(t.hRtx);
    if (t.hDack >= 0) w.free(t.hDack);
    if (t.hKeep >= 0) w.free(t.hKeep);
    t.hRtx = t.hDack = t.hKeep = -1;
    t.rtxDeadline = t.dackDeadline = t.keepDeadline = Infinity;
    this.byId[t.id] = null;
    this.freeIds.push(t.id);
    t.id = -1;
  }

  /** Every live control block (for ss). */
  *all(): IterableIterator<Tcb> {
    for (const t of this.byId) if (t !== null) yield t;
  }

  // ---------------------------------------------------------------- wake-ups

  /** `t`'s readiness may have changed: tell its socket (which defers to the stack's wake queue). */
  wake(t: Tcb): void {
    if (t.owner !== null) t.owner.wake();
  }

  // ---------------------------------------------------------------- receive bursts (gro.ts)

  /** Frames delivered until endBurst() come as one burst, as one NAPI poll. */
  beginBurst(): void {
    this.burstDepth++;
  }

  endBurst(): void {
    if (--this.burstDepth === 0 && this.groAcks.length > 0) groFlush(this);
  }

  // ---------------------------------------------------------------- input

  input(rx: IpRx, buf: Uint8Array, off: number, len: number): void {
    const c = this.c;
    this.inc(c.TcpInSegs);
    const h = this.hdr;
    if (parseTcp(buf, h, off, len) !== null) {
      this.inc(c.TcpInErrs);
      return;
    }
    const ps = pseudoSum(rx.src, rx.dst, IPPROTO_TCP, len);
    if (!tcpChecksumOk(buf, off, len, ps)) {
      this.inc(c.TcpInCsumErrors);
      this.inc(c.TcpInErrs);
      return;
    }
    if (h.srcPort === 0 || h.dstPort === 0) {
      this.inc(c.TcpInErrs);
      return;
    }
    {
      const t = this.tables.lookupEstablished(rx.family, rx.dst, h.dstPort, rx.src, h.srcPort);
      if (t !== null) {
        segmentArrives(this, t, rx, h);
        return;
      }
      if (this.timeWait !== null) {
        const tw = this.tables.lookupTimeWait(rx.family, rx.dst, h.dstPort, rx.src, h.srcPort);
        if (tw >= 0) {
          const isn = this.timeWait.input(tw, rx, h);
          if (isn < 0) return;
          // A SYN may open a new connection through the listener with this ISN (RFC 6191 / Linux tcp_timewait_state_process).
          const l = this.tables.lookupListener(rx.family, rx.dst, h.dstPort, rx.src, h.srcPort);
          if (l !== null) listenInput(this, l, rx, h, isn);
          else this.noSocket(rx, h);
          return;
        }
      }
      const l = this.tables.lookupListener(rx.family, rx.dst, h.dstPort, rx.src, h.srcPort);
      if (l !== null) {
        listenInput(this, l, rx, h, -1);
        return;
      }
      this.noSocket(rx, h);
    }
  }

  /**
   * RFC 9293 §3.10.7.1 (CLOSED): a segment for which no connection exists.
   * A RST is dropped; otherwise if ACK is set send <SEQ=SEG.ACK><CTL=RST>,
   * else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. Linux adds no options.
   */
  noSocket(rx: IpRx, h: TcpHeader): void {
    if (h.flags & 0x04) return;
    this.replyReset(rx, h);
  }

  /** The RST answer to segment `h` from `rx` (no socket, or a socket that refuses it). */
  replyReset(rx: IpRx, h: TcpHeader): void {
    if (h.flags & 0x10) {
      this.sendReply(rx.family, rx.dst, h.dstPort, rx.src, h.srcPort, h.ack, 0, 0x04, -1, 0, 0);
    } else {
      let segLen = h.payloadLen;
      if (h.flags & 0x02) segLen++;
      if (h.flags & 0x01) segLen++;
      this.sendReply(
        rx.family,
        rx.dst,
        h.dstPort,
        rx.src,
        h.srcPort,
        0,
        (h.seq + segLen) >>> 0,
        0x14,
        -1,
        0,
        0,
      );
    }
  }

  /**
   * A bare segment built from a tuple and numbers, without a control block:
   * RSTs to unknown segments and the TIME_WAIT table's ACKs and RSTs.
   * `tsVal` < 0 means no timestamp option.
   */
  sendReply(
    family: 4 | 6,
    laddr: IpAddr,
    lport: number,
    raddr: IpAddr,
    rport: number,
    seq: number,
    ack: number,
    flags: number,
    tsVal: number,
    tsEcr: number,
    window: number,
  ): void {
    sendReset(this, family, laddr, lport, raddr, rport, seq, ack, flags, tsVal, tsEcr, window);
  }

  /**
   * An ICMP error quoting one of our segments. Linux tcp_v4_err / tcp_v6_err
   * look in the established hash only (connections, embryonic children,
   * TIME_WAIT): with nothing there the error counts in IcmpInErrors, even
   * when a listener holds the port (checked on 6.18), and the IP layer undoes
   * a path-MTU change it made for it. Returns whether a socket took it.
   */
  icmpError(err: IcmpErr): boolean {
    const t = this.tables.lookupEstablished(err.family, err.src, err.sport, err.dst, err.dport);
    if (t !== null) {
      handleIcmp(this, t, err);
      return true;
    }
    // A TIME_WAIT entry takes it and does nothing with it.
    return (
      this.timeWait !== null &&
      this.tables.lookupTimeWait(err.family, err.src, err.sport, err.dst, err.dport) >= 0
    );
  }

  // ---------------------------------------------------------------- timers

  onTimer(data: number, handle: number, now: number): void {
    const t = this.byId[data];
    if (t === null || t === undefined) return;
    onTcbTimer(this, t, handle, now);
  }

  armRtx(t: Tcb, kind: number, delay: number): void {
    t.rtxKind = kind;
    t.rtxArmedAt = this.now;
    t.rtxDeadline = this.now + delay;
    if (t.hRtx < 0) t.hRtx = this.timerFor(t);
    this.host.timers.arm(t.hRtx, t.rtxDeadline);
  }

  cancelRtx(t: Tcb): void {
    if (t.hRtx < 0) return;
    t.rtxKind = 0;
    t.rtxDeadline = Infinity;
    this.host.timers.cancel(t.hRtx);
  }

  armDack(t: Tcb, delay: number): void {
    t.dackDeadline = this.now + delay;
    if (t.hDack < 0) t.hDack = this.timerFor(t);
    this.host.timers.arm(t.hDack, t.dackDeadline);
  }

  cancelDack(t: Tcb): void {
    if (t.hDack < 0 || t.dackDeadline === Infinity) return;
    t.dackDeadline = Infinity;
    this.host.timers.cancel(t.hDack);
  }

  armKeep(t: Tcb, delay: number): void {
    t.keepDeadline = this.now + delay;
    if (t.hKeep < 0) t.hKeep = this.timerFor(t);
    this.host.timers.arm(t.hKeep, t.keepDeadline);
  }

  cancelKeep(t: Tcb): void {
    if (t.hKeep < 0) return;
    t.keepDeadline = Infinity;
    this.host.timers.cancel(t.hKeep);
  }

  // ---------------------------------------------------------------- listing

  /** Rows for `ss -t`: every control block, plus TIME_WAIT entries from the table. */
  list(): TcpListRow[] {
    const now = this.now;
    const rows: TcpListRow[] = [];
    for (const t of this.all()) {
      if (t.state === TcpState.CLOSED) continue;
      let timer = '';
      let timerMs = 0;
      let retrans = 0;
      if (t.rtxDeadline !== Infinity) {
        // ss shows a loss probe as 'on' too (inet_diag reports ICSK_TIME_LOSS_PROBE as timer 1).
        timer = t.rtxKind === RTX_PERSIST ? 'persist' : 'on';
        timerMs = Math.max(0, t.rtxDeadline - now);
        retrans = t.rtxKind === RTX_PERSIST ? t.probesOut : t.retransmits;
      } else if (t.keepDeadline !== Infinity) {
        timer = t.state === TcpState.FIN_WAIT2 || t.state === TcpState.TIME_WAIT ? 'timewait' : 'keepalive';
        timerMs = Math.max(0, t.keepDeadline - now);
        retrans = t.probesOut;
      } else if (t.dackDeadline !== Infinity) {
        timer = 'delack';
        timerMs = Math.max(0, t.dackDeadline - now);
      }
      const listen = t.state === TcpState.LISTEN;
      rows.push({
        state: SS_STATE_NAMES[t.state],
        family: t.family,
        laddr: t.laddr === null ? null : addrCopy(t.laddr),
        lport: t.lport,
        raddr: t.raddr === null ? null : addrCopy(t.raddr),
        rport: t.rport,
        recvQ: listen ? (t.acceptQueue?.length ?? 0) : t.rcv.readable,
        sendQ: listen ? t.backlog : t.snd.length,
        timer,
        timerMs,
        retrans,
        v6only: t.v6only,
      });
    }
    if (this.timeWait !== null) for (const r of this.timeWait.list(now)) rows.push(r);
    return rows;
  }
}

/** Kinds of the retransmission timer (one wheel handle per connection, as Linux's icsk_retransmit_timer). */
export const RTX_RTO = 1;
export const RTX_PERSIST = 2;
/** Tail-loss probe (RFC 8985 §7, Linux ICSK_TIME_LOSS_PROBE). */
export const RTX_TLP = 3;

/** The TIME_WAIT table as TCP drives it (src/tcp/timewait.ts implements it). */
export interface TimeWaitHook {
  /** A full connection enters TIME_WAIT (or an orphan FIN_WAIT2): store what the rules need. Returns false when the table is full (tcp_max_tw_buckets). */
  enter(t: Tcb, now: number): boolean;
  /**
   * A segment hit entry `idx`: process it (replies go through tcp.sendReply).
   * Returns an ISN (>= 0) when a SYN may open a new connection, else -1.
   */
  input(idx: number, rx: IpRx, h: TcpHeader): number;
  list(now: number): TcpListRow[];
}

import { handleIcmp } from './icmp.js';
