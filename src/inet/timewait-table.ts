/**
 * The compact TIME_WAIT store. When a connection enters TIME_WAIT (or an
 * orphan enters FIN_WAIT2, kept as a sub-state like Linux's timewait
 * sockets), its full control block is replaced by one row here holding only
 * what the TIME_WAIT rules need (src/tcp/timewait.ts, bind conflicts,
 * takeover on connect). A busy host holds hundreds of thousands of them.
 *
 * Layout: struct of arrays, one typed-array column per field, a row index per
 * entry, except the lookup key: local address, remote address, ports and
 * the chain link sit together in one `keys` array (stride 2w + 2 words) so a
 * probe touches one cache line, not four. The IPv4 table (width 1: one
 * 32-bit word per address; v4-mapped entries of dual-stack sockets live here
 * too, as they are IPv4 on the wire) costs 68 bytes per row plus 4 of chain
 * heads = 72 bytes per entry, timer included; the IPv6 table (width 4) 96.
 *
 * Lookup: chained hashing keyed by a seeded hash of the 4-tuple (`heads`
 * per bucket, the link in `keys`), compared on the key words: no objects,
 * no strings.
 *
 * Timers: every arm of a TIME_WAIT entry is "now + 60 s" (TCP_TIMEWAIT_LEN,
 * never anything else), so entries in that sub-state sit in one FIFO list in
 * deadline order (an intrusive doubly linked list: qprev/qnext columns) and
 * a single timer-wheel handle is armed for the head: arm, re-arm (move to
 * tail) and cancel are O(1), and expiry is O(1) per entry, with 12 bytes per
 * entry instead of a wheel handle's 28. FIN_WAIT2 sub-state entries have
 * per-connection timeouts (tcp_fin_timeout, at least 3.5 RTO) and get their
 * own wheel handle (the `timer` column) until they move to TIME_WAIT.
 */
import type { TimerHandler, TimerWheel } from '../time/timer-wheel.js';
import type { IpAddr } from '../wire/addr.js';
import { fmix32, isV4Wire, mix32, v4Word, v6Word } from './addr-key.js';

/** hashTuple (addr-key.ts) of an IPv4 tuple already in words, as the table's key columns hold it. */
function hashTupleV4(l: number, r: number, ports: number, seed: number): number {
  return fmix32(mix32(mix32(mix32(seed | 0, l), r), ports));
}

/** Linux TCP_TIMEWAIT_LEN. */
export const TCP_TIMEWAIT_LEN = 60_000;

// meta column bits
export const TW_USED = 1;
export const TW_FIN_WAIT2 = 2;
const WSCALE_SHIFT = 2; // 4 bits
export const TW_REUSE = 1 << 6;
export const TW_REUSEPORT = 1 << 7;
/** The entry belongs to an AF_INET6 socket (v4-mapped when in the IPv4 table). */
export const TW_V6SOCK = 1 << 8;
const TW_OOW_SET = 1 << 9;
export const TW_HAS_TS = 1 << 10;
/** The connection was opened by connect() (its 4-tuple is tracked for the port search). */
export const TW_ACTIVE = 1 << 11;
const TOS_SHIFT = 16;

/** What a closing connection hands over (reusable: the table copies it). */
export interface TimeWaitInit {
  laddr: IpAddr;
  lport: number;
  raddr: IpAddr;
  rport: number;
  sndNxt: number;
  rcvNxt: number;
  /** Receive window in bytes (unscaled), and our window shift. */
  rcvWnd: number;
  rcvWscale: number;
  /** Timestamps were in use: TS.Recent and when it was stored (ms, 32-bit wrapping; Linux ts_recent_stamp). */
  hasTs: boolean;
  tsRecent: number;
  tsRecentStamp: number;
  tsOffset: number;
  /** Enter the FIN_WAIT2 sub-state (orphan waiting for the peer's FIN) rather than TIME_WAIT. */
  finWait2: boolean;
  /** FIN_WAIT2 only: how long to wait (ms). TIME_WAIT always lasts TCP_TIMEWAIT_LEN. */
  timeout: number;
  reuse: boolean;
  reusePort: boolean;
  /** The socket was AF_INET6 (for ss and for v4-mapped entries). */
  v6sock: boolean;
  /** Opened by connect() (active open). */
  active: boolean;
  tos: number;
}

export function newTimeWaitInit(): TimeWaitInit {
  const z = new Uint8Array(4);
  return {
    laddr: z,
    lport: 0,
    raddr: z,
    rport: 0,
    sndNxt: 0,
    rcvNxt: 0,
    rcvWnd: 0,
    rcvWscale: 0,
    hasTs: false,
    tsRecent: 0,
    tsRecentStamp: 0,
    tsOffset: 0,
    finWait2: false,
    timeout: TCP_TIMEWAIT_LEN,
    reuse: false,
    reusePort: false,
    v6sock: false,
    active: false,
    tos: 0,
  };
}

const QUEUE_TIMER = -1;

export class TimeWaitTable implements TimerHandler {
  /** Address words per address: 1 (IPv4 table) or 4 (IPv6 table). */
  readonly width: 1 | 4;
  /** Words per row in `keys`: laddr (w), raddr (w), lport << 16 | rport, chain link. */
  readonly stride: number;
  // Columns (public for the hot path: read them right after find(), they are
  // replaced when the table grows).
  /** Lookup keys and chain links, `stride` words per row (the link is an Int32 stored as u32). */
  keys: Uint32Array;
  sndNxt: Uint32Array;
  rcvNxt: Uint32Array;
  rcvWnd: Uint32Array;
  tsRecent: Uint32Array;
  tsRecentStamp: Uint32Array;
  tsOffset: Uint32Array;
  /** When the entry was created (ms, 32-bit wrapping; Linux tw_entry_stamp) for tcp_tw_reuse_delay. */
  entryStamp: Uint32Array;
  /** Last out-of-window ACK sent (ms, 32-bit wrapping), for tcp_invalid_ratelimit. */
  lastOow: Uint32Array;
  meta: Uint32Array;
  /** Wheel handle of a FIN_WAIT2 entry, -1 otherwise. */
  timer: Int32Array;
  qprev: Int32Array;
  qnext: Int32Array;
  /** TIME_WAIT deadline (ms, 32-bit wrapping). */
  deadline: Uint32Array;
  private heads: Int32Array;

  private cap: number;
  private mask: number;
  private top = 0;
  private freeHead = -1;
  private count = 0;
  private fw2Count = 0;
  private qHead = -1;
  private qTail = -1;
  private readonly qTimer: number;
  private readonly seed: number;
  private readonly wheel: TimerWheel;
  /** Called when an entry's timer expires; the owner must remove() it (and may count). */
  onExpire: (table: TimeWaitTable, i: number) => void = (t, i) => t.remove(i);

  constructor(width: 1 | 4, wheel: TimerWheel, seed: number, initialCapacity = 1024) {
    this.width = width;
    this.stride = 2 * width + 2;
    this.wheel = wheel;
    this.seed = seed | 0;
    let cap = 16;
    while (cap < initialCapacity) cap *= 2;
    this.cap = cap;
    this.mask = cap - 1;
    this.keys = new Uint32Array(cap * this.stride);
    this.sndNxt = new Uint32Array(cap);
    this.rcvNxt = new Uint32Array(cap);
    this.rcvWnd = new Uint32Array(cap);
    this.tsRecent = new Uint32Array(cap);
    this.tsRecentStamp = new Uint32Array(cap);
    this.tsOffset = new Uint32Array(cap);
    this.entryStamp = new Uint32Array(cap);
    this.lastOow = new Uint32Array(cap);
    this.meta = new Uint32Array(cap);
    this.timer = new Int32Array(cap);
    this.qprev = new Int32Array(cap);
    this.qnext = new Int32Array(cap);
    this.deadline = new Uint32Array(cap);
    this.heads = new Int32Array(cap).fill(-1);
    this.qTimer = wheel.alloc(this, QUEUE_TIMER);
  }

  /** Entries held (both sub-states). */
  get size(): number {
    return this.count;
  }

  /** Entries in the FIN_WAIT2 sub-state. */
  get finWait2Count(): number {
    return this.fw2Count;
  }

  /** Bytes of typed arrays held by the table (columns and chain heads; the shared queue timer excluded). */
  get bytes(): number {
    return this.cap * (4 * (2 * this.width + 15) + 4);
  }

  /** Rows allocated (capacity). */
  get capacity(): number {
    return this.cap;
  }

  insert(e: TimeWaitInit, now: number): number {
    if (this.count >= this.cap) this.grow();
    let i: number;
    if (this.freeHead >= 0) {
      i = this.freeHead;
      this.freeHead = this.getNext(i);
    } else {
      i = this.top++;
    }
    const w = this.width;
    const o = i * this.stride;
    const keys = this.keys;
    if (w === 1) {
      keys[o] = v4Word(e.laddr);
      keys[o + 1] = v4Word(e.raddr);
    } else {
      for (let k = 0; k < 4; k++) {
        keys[o + k] = v6Word(e.laddr, k);
        keys[o + 4 + k] = v6Word(e.raddr, k);
      }
    }
    keys[o + 2 * w] = ((e.lport << 16) | e.rport) >>> 0;
    this.sndNxt[i] = e.sndNxt >>> 0;
    this.rcvNxt[i] = e.rcvNxt >>> 0;
    this.rcvWnd[i] = e.rcvWnd >>> 0;
    this.tsRecent[i] = e.tsRecent >>> 0;
    this.tsRecentStamp[i] = Math.floor(e.tsRecentStamp) >>> 0;
    this.tsOffset[i] = e.tsOffset >>> 0;
    this.entryStamp[i] = Math.floor(now) >>> 0;
    this.lastOow[i] = 0;
    this.meta[i] =
      TW_USED |
      (e.finWait2 ? TW_FIN_WAIT2 : 0) |
      ((e.rcvWscale & 15) << WSCALE_SHIFT) |
      (e.reuse ? TW_REUSE : 0) |
      (e.reusePort ? TW_REUSEPORT : 0) |
      (e.v6sock ? TW_V6SOCK : 0) |
      (e.hasTs ? TW_HAS_TS : 0) |
      (e.active ? TW_ACTIVE : 0) |
      ((e.tos & 0xff) << TOS_SHIFT);
    this.timer[i] = -1;
    this.qprev[i] = -1;
    this.qnext[i] = -1;
    const b = this.hashRow(i) & this.mask;
    this.setNext(i, this.heads[b]);
    this.heads[b] = i;
    this.count++;
    if (e.finWait2) {
      this.fw2Count++;
      const h = this.wheel.alloc(this, i);
      this.timer[i] = h;
      this.wheel.arm(h, now + e.timeout);
    } else {
      this.enqueue(i, now);
    }
    return i;
  }

  /** The row holding this 4-tuple, or -1. Addresses may be 4-byte, v4-mapped or IPv6. */
  find(laddr: IpAddr, lport: number, raddr: IpAddr, rport: number): number {
    const ports = ((lport << 16) | rport) >>> 0;
    if (this.width === 1) {
      if (!isV4Wire(laddr)) return -1;
      return this.findV4(v4Word(laddr), v4Word(raddr), ports);
    }
    if (isV4Wire(laddr)) return -1;
    let h = this.seed;
    for (let k = 0; k < 4; k++) h = mix32(h, v6Word(laddr, k));
    for (let k = 0; k < 4; k++) h = mix32(h, v6Word(raddr, k));
    h = fmix32(mix32(h, ports));
    const keys = this.keys;
    for (let i = this.heads[h & this.mask]; i >= 0; i = keys[i * 10 + 9] | 0) {
      const o = i * 10;
      if (keys[o + 8] !== ports) continue;
      let ok = true;
      for (let k = 0; k < 4 && ok; k++)
        ok = keys[o + k] === v6Word(laddr, k) && keys[o + 4 + k] === v6Word(raddr, k);
      if (ok) return i;
    }
    return -1;
  }

  /** IPv4 lookup on words (the packet path). */
  findV4(l: number, r: number, ports: number): number {
    const h = hashTupleV4(l, r, ports, this.seed);
    const keys = this.keys;
    for (let i = this.heads[h & this.mask]; i >= 0; ) {
      const o = i << 2;
      if (keys[o + 2] === ports && keys[o] === l && keys[o + 1] === r) return i;
      i = keys[o + 3] | 0;
    }
    return -1;
  }

  isUsed(i: number): boolean {
    return i >= 0 && i < this.top && (this.meta[i] & TW_USED) !== 0;
  }

  isFinWait2(i: number): boolean {
    return (this.meta[i] & TW_FIN_WAIT2) !== 0;
  }

  hasTs(i: number): boolean {
    return (this.meta[i] & TW_HAS_TS) !== 0;
  }

  rcvWscale(i: number): number {
    return (this.meta[i] >>> WSCALE_SHIFT) & 15;
  }

  tos(i: number): number {
    return (this.meta[i] >>> TOS_SHIFT) & 0xff;
  }

  lport(i: number): number {
    return this.keys[i * this.stride + 2 * this.width] >>> 16;
  }

  rport(i: number): number {
    return this.keys[i * this.stride + 2 * this.width] & 0xffff;
  }

  /** Copy the local / remote address of row i into `out` (4 or 16 bytes, as the table's width). */
  copyLaddr(i: number, out: Uint8Array): Uint8Array {
    return this.copyAddr(i * this.stride, out);
  }

  copyRaddr(i: number, out: Uint8Array): Uint8Array {
    return this.copyAddr(i * this.stride + this.width, out);
  }

  /** Set TS.Recent (and its stamp, ms) after an acceptable timestamped segment. */
  setTsRecent(i: number, tsVal: number, now: number): void {
    this.tsRecent[i] = tsVal >>> 0;
    this.tsRecentStamp[i] = Math.floor(now) >>> 0;
    this.meta[i] |= TW_HAS_TS;
  }

  /**
   * Out-of-window ACK rate limit (Linux __tcp_oow_rate_limited): true when an
   * ACK went out less than `limitMs` ago; otherwise records `now` and returns false.
   */
  oowRateLimited(i: number, now: number, limitMs: number): boolean {
    const t = Math.floor(now) >>> 0;
    if ((this.meta[i] & TW_OOW_SET) !== 0) {
      const elapsed = (t - this.lastOow[i]) | 0;
      if (elapsed >= 0 && elapsed < limitMs) return true;
    }
    this.lastOow[i] = t;
    this.meta[i] |= TW_OOW_SET;
    return false;
  }

  /** (Re)start the 60 s TIME_WAIT timer; a FIN_WAIT2 entry stays FIN_WAIT2 (see enterTimeWait). */
  rearm(i: number, now: number): void {
    if ((this.meta[i] & TW_FIN_WAIT2) !== 0) {
      this.wheel.arm(this.timer[i], now + TCP_TIMEWAIT_LEN);
      return;
    }
    this.dequeue(i);
    this.enqueue(i, now);
  }

  /** FIN_WAIT2 → TIME_WAIT (the expected FIN arrived): the timer becomes the 60 s queue. */
  enterTimeWait(i: number, now: number): void {
    if ((this.meta[i] & TW_FIN_WAIT2) === 0) {
      this.rearm(i, now);
      return;
    }
    this.wheel.free(this.timer[i]);
    this.timer[i] = -1;
    this.meta[i] &= ~TW_FIN_WAIT2;
    this.fw2Count--;
    this.enqueue(i, now);
  }

  /** The time (ms) the entry's timer fires: absolute, near `now`. */
  expiresAt(i: number, now: number): number {
    if ((this.meta[i] & TW_FIN_WAIT2) !== 0) return this.wheel.deadline(this.timer[i]);
    return absTime(this.deadline[i], now);
  }

  remove(i: number): void {
    if (!this.isUsed(i)) return;
    const b = this.hashRow(i) & this.mask;
    let p = this.heads[b];
    if (p === i) this.heads[b] = this.getNext(i);
    else {
      while (p >= 0 && this.getNext(p) !== i) p = this.getNext(p);
      if (p >= 0) this.setNext(p, this.getNext(i));
    }
    if ((this.meta[i] & TW_FIN_WAIT2) !== 0) {
      this.wheel.free(this.timer[i]);
      this.timer[i] = -1;
      this.fw2Count--;
    } else {
      this.dequeue(i);
    }
    this.meta[i] = 0;
    this.setNext(i, this.freeHead);
    this.freeHead = i;
    this.count--;
  }

  /** Row indexes in use (for ss and tests). */
  *rows(): IterableIterator<number> {
    for (let i = 0; i < this.top; i++) if ((this.meta[i] & TW_USED) !== 0) yield i;
  }

  onTimer(data: number, _h: number, now: number): void {
    if (data !== QUEUE_TIMER) {
      this.onExpire(this, data);
      return;
    }
    const t = Math.floor(now) >>> 0;
    // Expire every entry whose deadline has passed; the queue is in deadline order.
    let n = 0;
    while (this.qHead >= 0 && ((this.deadline[this.qHead] - t) | 0) <= 0 && n++ < 1_000_000_000) {
      this.onExpire(this, this.qHead);
    }
    if (this.qHead >= 0) this.wheel.arm(this.qTimer, absTime(this.deadline[this.qHead], now));
  }

  // ---- internals ----

  private getNext(i: number): number {
    return this.keys[i * this.stride + this.stride - 1] | 0;
  }

  private setNext(i: number, v: number): void {
    this.keys[i * this.stride + this.stride - 1] = v;
  }

  private hashRow(i: number): number {
    const o = i * this.stride;
    const k = this.keys;
    if (this.width === 1) return hashTupleV4(k[o], k[o + 1], k[o + 2], this.seed);
    let h = this.seed;
    for (let j = 0; j < 8; j++) h = mix32(h, k[o + j]);
    return fmix32(mix32(h, k[o + 8]));
  }

  private enqueue(i: number, now: number): void {
    this.deadline[i] = Math.ceil(now + TCP_TIMEWAIT_LEN) >>> 0;
    this.qnext[i] = -1;
    this.qprev[i] = this.qTail;
    if (this.qTail >= 0) this.qnext[this.qTail] = i;
    else {
      this.qHead = i;
      this.wheel.arm(this.qTimer, absTime(this.deadline[i], now));
    }
    this.qTail = i;
  }

  private dequeue(i: number): void {
    const p = this.qprev[i];
    const n = this.qnext[i];
    if (p >= 0) this.qnext[p] = n;
    else if (this.qHead === i) {
      this.qHead = n;
      // The head moved later: a timer armed for the old head is a harmless early wake-up.
      if (n < 0) this.wheel.cancel(this.qTimer);
    }
    if (n >= 0) this.qprev[n] = p;
    else if (this.qTail === i) this.qTail = p;
    this.qprev[i] = -1;
    this.qnext[i] = -1;
  }

  private copyAddr(o: number, out: Uint8Array): Uint8Array {
    const w = this.width;
    for (let k = 0; k < w; k++) {
      const v = this.keys[o + k];
      out[k * 4] = v >>> 24;
      out[k * 4 + 1] = (v >>> 16) & 0xff;
      out[k * 4 + 2] = (v >>> 8) & 0xff;
      out[k * 4 + 3] = v & 0xff;
    }
    return out;
  }

  private grow(): void {
    const cap = this.cap * 2;
    const u = (a: Uint32Array, w = 1): Uint32Array => {
      const b = new Uint32Array(cap * w);
      b.set(a);
      return b;
    };
    const s = (a: Int32Array): Int32Array => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    this.keys = u(this.keys, this.stride);
    this.sndNxt = u(this.sndNxt);
    this.rcvNxt = u(this.rcvNxt);
    this.rcvWnd = u(this.rcvWnd);
    this.tsRecent = u(this.tsRecent);
    this.tsRecentStamp = u(this.tsRecentStamp);
    this.tsOffset = u(this.tsOffset);
    this.entryStamp = u(this.entryStamp);
    this.lastOow = u(this.lastOow);
    this.meta = u(this.meta);
    this.timer = s(this.timer);
    this.qprev = s(this.qprev);
    this.qnext = s(this.qnext);
    this.deadline = u(this.deadline);
    this.cap = cap;
    this.mask = cap - 1;
    this.heads = new Int32Array(cap).fill(-1);
    for (let i = 0; i < this.top; i++) {
      if ((this.meta[i] & TW_USED) === 0) continue;
      const b = this.hashRow(i) & this.mask;
      this.setNext(i, this.heads[b]);
      this.heads[b] = i;
    }
  }
}

/** A 32-bit wrapping ms stamp turned back into an absolute time near `now`. */
function absTime(stamp: number, now: number): number {
  const base = Math.floor(now);
  return base + ((stamp - (base >>> 0)) | 0);
}
