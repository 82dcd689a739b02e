import { Rng } from '../rng.js';
import type { Clock } from '../time/clock.js';
import type { Steppable } from '../time/steppable.js';
import { checksumUpdate16 } from '../wire/checksum.js';
import { FrameArena } from './frame-arena.js';
import type { Link } from './link.js';

/**
 * Impairments of one direction of a wire. Probabilities are per frame in
 * [0, 1]; times in ms. Applied in the order a frame meets them on a real
 * link: MTU check, transmit queue (tail drop) and serialization at `rateBps`,
 * loss on the medium (random, then burst), corruption, propagation `delay` +
 * `jitter`, reordering, duplication.
 */
export interface Impairments {
  /** One-way propagation delay (ms). Default 0. */
  delay?: number;
  /** Extra delay drawn uniformly from [0, jitter) per frame (ms). Default 0. */
  jitter?: number;
  /**
   * If false (default), jitter never reorders: a frame is not delivered
   * before the one sent ahead of it (like a real FIFO path). If true, frames
   * overtake each other freely (like netem jitter).
   */
  jitterReorders?: boolean;
  /** Bandwidth in bits per second; 0 or absent = unlimited (no serialization delay). */
  rateBps?: number;
  /**
   * Bytes the transmit queue holds, counting frames not yet fully serialized
   * (only with `rateBps`). A frame that does not fit is tail-dropped.
   * Default Infinity.
   */
  queueLimit?: number;
  /**
   * ECN marking as an AQM would do it (RFC 3168 §5; a step threshold like
   * DCTCP's K): with `rateBps`, an ECT frame that finds more than this many
   * bytes queued is marked CE (and still queued); Not-ECT frames are not
   * touched. Frames beyond `queueLimit` are dropped either way. Default
   * Infinity (never mark).
   */
  ecnMarkBytes?: number;
  /** Independent random loss probability. */
  loss?: number;
  /**
   * Gilbert-Elliott burst loss: per frame, lose with `lossBad` (default 1) in
   * the bad state or `lossGood` (default 0) in the good state, then move
   * good→bad with probability `p` and bad→good with probability `r`.
   * Mean loss = p/(p+r)·lossBad + r/(p+r)·lossGood; mean burst 1/r.
   */
  burstLoss?: { p: number; r: number; lossBad?: number; lossGood?: number } | null;
  /** Probability that a frame is delivered twice. */
  duplicate?: number;
  /** Probability that a frame is held back `reorderDelay` ms so later frames overtake it. */
  reorder?: number;
  /** Extra delay of a reordered frame (ms). Default 10. */
  reorderDelay?: number;
  /** Probability that one random bit of the frame is flipped. */
  corrupt?: number;
}

export interface MemoryWireOptions extends Impairments {
  /** Seed of the wire's own generator (impairment decisions). Default 1. */
  seed?: number;
  /** Largest frame carried; larger frames are dropped and counted. Default 1500. */
  mtu?: number;
  /**
   * The simulation clock (e.g. `world.clock`), read when a frame is
   * transmitted to stamp its departure. World.add() supplies the world's
   * clock when none is given. Without any, the wire uses the time of its
   * last advance().
   */
  clock?: Clock;
  /** For error messages and World's livelock report. */
  name?: string;
  /** Overrides for the a→b direction (merged over the common options). */
  aToB?: Impairments;
  /** Overrides for the b→a direction (merged over the common options). */
  bToA?: Impairments;
}

/** Counters of one direction. */
export interface WireStats {
  /** Frames given to transmit(), and their bytes. */
  sent: number;
  sentBytes: number;
  /** Frames handed to the receiving end's onReceive (duplicates included). */
  delivered: number;
  deliveredBytes: number;
  dropped: {
    mtu: number;
    queue: number;
    loss: number;
    burst: number;
    /** Arrived while the receiving end had no onReceive. */
    noReceiver: number;
  };
  duplicated: number;
  reordered: number;
  corrupted: number;
  /** Frames queued without a copy: built by the sender in memory the wire lent (txBuffer). */
  zeroCopy: number;
  /** ECT frames marked CE (ecnMarkBytes). */
  ceMarked: number;
}

export type WireDirection = 'aToB' | 'bToA' | 'both';

interface Resolved {
  delay: number;
  jitter: number;
  jitterReorders: boolean;
  rateBps: number;
  queueLimit: number;
  ecnMarkBytes: number;
  loss: number;
  geP: number;
  geR: number;
  geLossBad: number;
  geLossGood: number;
  burst: boolean;
  duplicate: number;
  reorder: number;
  reorderDelay: number;
  corrupt: number;
}

function newStats(): WireStats {
  return {
    sent: 0,
    sentBytes: 0,
    delivered: 0,
    deliveredBytes: 0,
    dropped: { mtu: 0, queue: 0, loss: 0, burst: 0, noReceiver: 0 },
    duplicated: 0,
    reordered: 0,
    corrupted: 0,
    zeroCopy: 0,
    ceMarked: 0,
  };
}

function prob(name: string, v: number | undefined): number {
  const p = v ?? 0;
  if (!(p >= 0 && p <= 1))
    throw new RangeError(`MemoryWire: ${name} must be a probability in [0, 1], got ${v}`);
  return p;
}

function nonNeg(name: string, v: number | undefined, dflt: number): number {
  const x = v ?? dflt;
  if (!(x >= 0)) throw new RangeError(`MemoryWire: ${name} must be >= 0, got ${v}`);
  return x;
}

function resolve(o: Impairments): Resolved {
  const bl = o.burstLoss ?? null;
  return {
    delay: nonNeg('delay', o.delay, 0),
    jitter: nonNeg('jitter', o.jitter, 0),
    jitterReorders: o.jitterReorders ?? false,
    rateBps: nonNeg('rateBps', o.rateBps, 0),
    queueLimit: nonNeg('queueLimit', o.queueLimit, Infinity),
    ecnMarkBytes: nonNeg('ecnMarkBytes', o.ecnMarkBytes, Infinity),
    loss: prob('loss', o.loss),
    burst: bl !== null,
    geP: prob('burstLoss.p', bl?.p ?? 0),
    geR: prob('burstLoss.r', bl?.r ?? 0),
    geLossBad: prob('burstLoss.lossBad', bl?.lossBad ?? 1),
    geLossGood: prob('burstLoss.lossGood', bl?.lossGood ?? 0),
    duplicate: prob('duplicate', o.duplicate),
    reorder: prob('reorder', o.reorder),
    reorderDelay: nonNeg('reorderDelay', o.reorderDelay, 10),
    corrupt: prob('corrupt', o.corrupt),
  };
}

const IMPAIRMENT_KEYS: (keyof Impairments)[] = [
  'delay',
  'jitter',
  'jitterReorders',
  'rateBps',
  'queueLimit',
  'ecnMarkBytes',
  'loss',
  'burstLoss',
  'duplicate',
  'reorder',
  'reorderDelay',
  'corrupt',
];

function pickImpairments(o: Impairments): Impairments {
  const out: Record<string, unknown> = {};
  for (const k of IMPAIRMENT_KEYS) if (o[k] !== undefined) out[k] = o[k];
  return out as Impairments;
}

/** State of one direction. */
class Direction {
  cfg: Resolved;
  readonly stats = newStats();
  readonly rng: Rng;
  /** Set by the constructor of the wire end that receives this direction. */
  rx!: WireEnd;
  // Serialization: end time of the frame being sent last, and a FIFO of
  // (finish time, bytes) of frames not yet fully serialized.
  busyUntil = -Infinity;
  qFinish: number[] = [];
  qBytes: number[] = [];
  qHead = 0;
  queuedBytes = 0;
  geBad = false;
  lastArrival = -Infinity;
  raw: Impairments;
  /** Reused memory for frames to a receiver that borrows them (Link.rxBorrow); made on first use. */
  arena: FrameArena | null = null;
  /** The buffer txBuffer() lent for the next frame (null: none), the arena it is in and its handle there. */
  lent: Uint8Array | null = null;
  lentArena: FrameArena | null = null;
  lentEnd = 0;

  constructor(raw: Impairments, rng: Rng) {
    this.raw = raw;
    this.cfg = resolve(raw);
    this.rng = rng;
  }
}

/** One end of a MemoryWire: what a stack attaches to an interface. */
class WireEnd implements Link {
  onReceive: ((frame: Uint8Array) => void) | null = null;
  rxBorrow = false;

  constructor(
    private readonly wire: MemoryWire,
    private readonly dir: number,
    readonly name: string,
  ) {}

  get mtu(): number {
    return this.wire.mtu;
  }

  transmit(frame: Uint8Array): void {
    this.wire.send(this.dir, frame);
  }

  txBuffer(len: number): Uint8Array | null {
    return this.wire.txBuffer(this.dir, len);
  }
}

/**
 * Frames in flight, ordered by (arrival time, send sequence number): per
 * direction a FIFO ring of the frames whose arrival is not earlier than the
 * last one queued in that direction (every frame when the direction neither
 * jitters with reordering nor reorders: arrivals are then clamped to be
 * monotone), plus one binary min-heap for the frames that overtake others.
 * The earliest of the rings' heads and the heap's top is the next frame,
 * exactly as one heap of everything would give, without the heap's
 * O(log n) sifting per frame in the common case. Times and sequence numbers
 * live in Float64Arrays (exact integers up to 2^53), grown by doubling.
 */
class Ring {
  time = new Float64Array(64);
  seq = new Float64Array(64);
  frame: (Uint8Array | null)[] = new Array<Uint8Array | null>(64).fill(null);
  /** The arena a frame's bytes are in (null: the receiver owns them), and their handle there. */
  arena: (FrameArena | null)[] = new Array<FrameArena | null>(64).fill(null);
  end = new Int32Array(64);
  head = 0;
  size = 0;
  /** Arrival time of the last frame pushed (the ring accepts none earlier). */
  tail = -Infinity;

  push(time: number, seq: number, frame: Uint8Array, arena: FrameArena | null, end: number): void {
    let cap = this.time.length;
    if (this.size === cap) this.grow();
    cap = this.time.length;
    const i = (this.head + this.size) & (cap - 1);
    this.time[i] = time;
    this.seq[i] = seq;
    this.frame[i] = frame;
    this.arena[i] = arena;
    this.end[i] = end;
    this.size++;
    this.tail = time;
  }

  /** Removes the head and returns its frame (size > 0). */
  shift(): Uint8Array {
    const i = this.head;
    const f = this.frame[i] as Uint8Array;
    this.frame[i] = null; // the receiver owns it now; do not keep it reachable
    this.head = (i + 1) & (this.time.length - 1);
    this.size--;
    return f;
  }

  private grow(): void {
    const cap = this.time.length;
    const t = new Float64Array(cap * 2);
    const q = new Float64Array(cap * 2);
    const f = new Array<Uint8Array | null>(cap * 2).fill(null);
    const a = new Array<FrameArena | null>(cap * 2).fill(null);
    const e = new Int32Array(cap * 2);
    for (let k = 0; k < this.size; k++) {
      const j = (this.head + k) & (cap - 1);
      t[k] = this.time[j];
      q[k] = this.seq[j];
      f[k] = this.frame[j];
      a[k] = this.arena[j];
      e[k] = this.end[j];
    }
    this.time = t;
    this.seq = q;
    this.frame = f;
    this.arena = a;
    this.end = e;
    this.head = 0;
  }
}

/** Binary min-heap keyed by (time, seq); `dir` says which direction a frame travels. */
class Heap {
  time = new Float64Array(16);
  seq = new Float64Array(16);
  dir = new Uint8Array(16);
  frame: (Uint8Array | null)[] = new Array<Uint8Array | null>(16).fill(null);
  size = 0;

  private less(i: number, j: number): boolean {
    const ti = this.time[i];
    const tj = this.time[j];
    return ti < tj || (ti === tj && this.seq[i] < this.seq[j]);
  }

  private move(from: number, to: number): void {
    this.time[to] = this.time[from];
    this.seq[to] = this.seq[from];
    this.dir[to] = this.dir[from];
    this.frame[to] = this.frame[from];
  }

  push(time: number, seq: number, dir: number, frame: Uint8Array): void {
    if (this.size === this.time.length) this.grow();
    let i = this.size++;
    // Sift up with a hole: parents move down until the new key fits.
    while (i > 0) {
      const p = (i - 1) >> 1;
      const tp = this.time[p];
      if (tp < time || (tp === time && this.seq[p] < seq)) break;
      this.move(p, i);
      i = p;
    }
    this.time[i] = time;
    this.seq[i] = seq;
    this.dir[i] = dir;
    this.frame[i] = frame;
  }

  /** Removes the top and returns its frame (size > 0); read dir[0] first. */
  pop(): Uint8Array {
    const top = this.frame[0] as Uint8Array;
    const n = --this.size;
    if (n > 0) {
      this.move(n, 0);
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const m = r < n && this.less(r, l) ? r : l;
        if (!this.less(m, i)) break;
        // swap i and m
        const t = this.time[i];
        const q = this.seq[i];
        const d = this.dir[i];
        const f = this.frame[i];
        this.move(m, i);
        this.time[m] = t;
        this.seq[m] = q;
        this.dir[m] = d;
        this.frame[m] = f;
        i = m;
      }
    }
    this.frame[n] = null;
    return top;
  }

  private grow(): void {
    const cap = this.time.length * 2;
    const t = new Float64Array(cap);
    t.set(this.time);
    const q = new Float64Array(cap);
    q.set(this.seq);
    const d = new Uint8Array(cap);
    d.set(this.dir);
    const f = new Array<Uint8Array | null>(cap).fill(null);
    for (let k = 0; k < this.size; k++) f[k] = this.frame[k];
    this.time = t;
    this.seq = q;
    this.dir = d;
    this.frame = f;
  }
}

/**
 * Frame copies are views carved from shared slabs rather than one ArrayBuffer
 * each: a view is a small heap object, while every ArrayBuffer has its own
 * backing store that the garbage collector tracks and sweeps one by one
 * (most of the wire's cost at MTU 1500). A frame is handed over for good
 * (the stack owns it), so a slab is never reused; it is freed once no frame
 * cut from it is reachable (so a frame a stack keeps pins at most 64 KiB).
 * Frames over 8 KiB get their own buffer: for them the per-buffer cost is
 * small beside the copy, and fresh slabs would cost more in page faults
 * (measured: a wash at MTU 65535, +25% throughput at MTU 1500).
 */
const SLAB_BYTES = 64 * 1024;
/** Frames start on 8-byte boundaries (word-aligned loads in the checksum). */
const FRAME_ALIGN = 8;
/** An IPv4 or IPv6 packet whose ECN field says ECT(0) or ECT(1) (RFC 3168 §5). */
function isEct(f: Uint8Array): boolean {
  if (f.length < 2) return false;
  const v = f[0] >> 4;
  const ecn = v === 4 ? f[1] & 3 : v === 6 ? (f[1] >> 4) & 3 : 0;
  return ecn === 1 || ecn === 2;
}

/** Set CE in an ECT packet; IPv4's header checksum follows (RFC 1624). */
function markCongestion(f: Uint8Array): void {
  if (f[0] >> 4 === 6) {
    f[1] |= 0x30;
    return;
  }
  if (f.length < 20) return;
  const old = (f[0] << 8) | f[1];
  f[1] |= 3;
  const c = checksumUpdate16((f[10] << 8) | f[11], old, (f[0] << 8) | f[1]);
  f[10] = c >> 8;
  f[11] = c & 0xff;
}

/**
 * Most memory per direction for frames to a borrowing receiver (see
 * FrameArena), beyond what bulk transfers with 4 MiB windows keep in
 * flight; past it, frames are copied as for any receiver.
 */
const ARENA_MAX = 32 << 20;

/**
 * Two connected Link ends, `a` and `b`, with impairments per direction;
 * deterministic from the seed. A frame given to transmit() is copied and
 * queued; it is delivered only in advance(now), never from inside
 * transmit(), even with zero delay. Frames queued during an advance() (a
 * reply sent from inside onReceive) wait for the next advance(), so two
 * stacks answering each other over a zero-delay wire make World steps, not
 * a hidden loop.
 */
export class MemoryWire implements Steppable {
  readonly a: Link;
  readonly b: Link;
  readonly mtu: number;
  readonly name: string;
  private clock: Clock | null;
  private readonly dirs: [Direction, Direction];
  private lastNow = 0;
  private seq = 0;
  // In-flight frames: rings[d] for frames of direction d in arrival order,
  // the heap for those that overtake (see Ring).
  private readonly rings: [Ring, Ring] = [new Ring(), new Ring()];
  private readonly heap = new Heap();
  private slab = new ArrayBuffer(0);
  /** Handle of the slot arenaFor() took last. */
  private arenaHandle = 0;
  private slabOff = SLAB_BYTES; // full: the first frame takes a fresh slab

  constructor(opts: MemoryWireOptions = {}) {
    this.mtu = opts.mtu ?? 1500;
    if (!(this.mtu >= 1)) throw new RangeError(`MemoryWire: bad mtu ${opts.mtu}`);
    this.name = opts.name ?? 'wire';
    this.clock = opts.clock ?? null;
    const rng = new Rng(opts.seed ?? 1);
    const common = pickImpairments(opts);
    this.dirs = [
      new Direction({ ...common, ...(opts.aToB ?? {}) }, rng.fork()),
      new Direction({ ...common, ...(opts.bToA ?? {}) }, rng.fork()),
    ];
    const a = new WireEnd(this, 0, `${this.name}.a`);
    const b = new WireEnd(this, 1, `${this.name}.b`);
    this.dirs[0].rx = b;
    this.dirs[1].rx = a;
    this.a = a;
    this.b = b;
  }

  /** Called by World.add(): use the world's clock unless one was given. */
  attachClock(clock: Clock): void {
    if (this.clock === null) this.clock = clock;
  }

  /** Counters of the a→b direction. */
  get statsAToB(): WireStats {
    return this.dirs[0].stats;
  }

  /** Counters of the b→a direction. */
  get statsBToA(): WireStats {
    return this.dirs[1].stats;
  }

  /** Frames in flight (both directions). */
  get inFlight(): number {
    return this.rings[0].size + this.rings[1].size + this.heap.size;
  }

  /**
   * Change impairments at run time (merged over the current ones of the
   * direction(s)); frames already in flight keep their schedule.
   */
  setImpairments(dir: WireDirection, imp: Impairments): void {
    for (const i of dir === 'both' ? [0, 1] : dir === 'aToB' ? [0] : [1]) {
      const d = this.dirs[i];
      d.raw = { ...d.raw, ...imp };
      d.cfg = resolve(d.raw);
    }
  }

  nextDeadline(): number {
    const r0 = this.rings[0];
    const r1 = this.rings[1];
    const h = this.heap;
    let t = Infinity;
    if (r0.size > 0) t = r0.time[r0.head];
    if (r1.size > 0 && r1.time[r1.head] < t) t = r1.time[r1.head];
    if (h.size > 0 && h.time[0] < t) t = h.time[0];
    return t;
  }

  advance(now: number): void {
    if (now > this.lastNow) this.lastNow = now;
    const end = this.seq; // frames queued from here on wait for the next advance()
    const r0 = this.rings[0];
    const r1 = this.rings[1];
    const h = this.heap;
    for (;;) {
      // The earliest of the two ring heads and the heap top, by (time, seq):
      // src 0/1 = that ring, 2 = the heap, -1 = nothing in flight.
      let src = -1;
      let t = Infinity;
      let q = Infinity;
      if (r0.size > 0) {
        src = 0;
        t = r0.time[r0.head];
        q = r0.seq[r0.head];
      }
      if (r1.size > 0) {
        const t1 = r1.time[r1.head];
        const q1 = r1.seq[r1.head];
        if (t1 < t || (t1 === t && q1 < q)) {
          src = 1;
          t = t1;
          q = q1;
        }
      }
      if (h.size > 0) {
        const t2 = h.time[0];
        const q2 = h.seq[0];
        if (t2 < t || (t2 === t && q2 < q)) {
          src = 2;
          t = t2;
          q = q2;
        }
      }
      if (src < 0 || t > now || q >= end) break;
      let dir: number;
      let frame: Uint8Array;
      let arena: FrameArena | null = null;
      let arenaEnd = 0;
      if (src === 2) {
        dir = h.dir[0];
        frame = h.pop();
      } else {
        dir = src;
        const r = src === 0 ? r0 : r1;
        arena = r.arena[r.head];
        if (arena !== null) {
          r.arena[r.head] = null;
          arenaEnd = r.end[r.head];
        }
        frame = r.shift();
      }
      const d = this.dirs[dir];
      const rx = d.rx.onReceive;
      if (rx === null) {
        d.stats.dropped.noReceiver++;
        if (arena !== null) arena.release(arenaEnd);
        continue;
      }
      d.stats.delivered++;
      d.stats.deliveredBytes += frame.length;
      if (arena === null) rx(frame);
      else {
        // The receiver borrows the frame: its memory is reused once onReceive returns.
        try {
          rx(frame);
        } finally {
          arena.release(arenaEnd);
        }
      }
    }
  }

  /** A copy of `frame`, carved from the current slab (see SLAB_BYTES). */
  private copyOf(frame: Uint8Array): Uint8Array {
    const len = frame.length;
    let off = this.slabOff;
    if (off + len > SLAB_BYTES) {
      if (len > SLAB_BYTES >>> 3) return frame.slice();
      this.slab = new ArrayBuffer(SLAB_BYTES);
      off = 0;
    }
    const copy = new Uint8Array(this.slab, off, len);
    this.slabOff = off + ((len + FRAME_ALIGN - 1) & -FRAME_ALIGN);
    copy.set(frame);
    return copy;
  }

  /**
   * @internal Called by the ends (Link.txBuffer): lend `len` bytes of the
   * direction's arena for the sender to build its next frame in, so that
   * transmitting it copies nothing. Only toward a borrowing receiver.
   */
  txBuffer(dirIdx: number, len: number): Uint8Array | null {
    const d = this.dirs[dirIdx];
    if (d.lent !== null) this.unlend(d);
    if (!d.rx.rxBorrow || len > this.mtu || len <= 0) return null;
    const a = this.arenaFor(d, len);
    if (a === null) return null;
    const v = a.lastView;
    d.lent = v;
    d.lentArena = a;
    d.lentEnd = this.arenaHandle;
    return v;
  }

  /** The lent buffer was not transmitted (or was dropped): give its place back. */
  private unlend(d: Direction): void {
    (d.lentArena as FrameArena).untake();
    d.lent = null;
    d.lentArena = null;
  }

  /** @internal Called by the ends. */
  send(dirIdx: number, frame: Uint8Array): void {
    const d = this.dirs[dirIdx];
    if (d.lent !== null) {
      if (frame === d.lent) {
        // The sender built the frame in place: it stays there unless dropped or overtaking.
        const a = d.lentArena as FrameArena;
        d.lent = null;
        d.lentArena = null;
        if (this.sendFrame(dirIdx, frame, a, d.lentEnd)) d.stats.zeroCopy++;
        else a.untake();
        return;
      }
      this.unlend(d);
    }
    this.sendFrame(dirIdx, frame, null, 0);
  }

  /**
   * Queue (a copy of) `frame` with the direction's impairments. `lentArena`:
   * the frame already sits in that arena (ending at `lentEnd`). Returns true
   * when the frame itself was queued there (false: dropped or copied).
   */
  private sendFrame(
    dirIdx: number,
    frame: Uint8Array,
    lentArena: FrameArena | null,
    lentEnd: number,
  ): boolean {
    const d = this.dirs[dirIdx];
    const c = d.cfg;
    const st = d.stats;
    const len = frame.length;
    st.sent++;
    st.sentBytes += len;
    let now = this.lastNow;
    if (this.clock !== null) {
      const t = this.clock.now();
      if (t > now) now = t;
    }
    if (len > this.mtu) {
      st.dropped.mtu++;
      return false;
    }
    let depart = now;
    let markCe = false;
    if (c.rateBps > 0) {
      // Frames whose serialization has finished have left the queue.
      while (d.qHead < d.qFinish.length && d.qFinish[d.qHead] <= now) {
        d.queuedBytes -= d.qBytes[d.qHead];
        d.qHead++;
      }
      if (d.qHead > 1024 && d.qHead * 2 > d.qFinish.length) {
        d.qFinish = d.qFinish.slice(d.qHead);
        d.qBytes = d.qBytes.slice(d.qHead);
        d.qHead = 0;
      }
      if (d.queuedBytes + len > c.queueLimit) {
        st.dropped.queue++;
        return false;
      }
      markCe = d.queuedBytes > c.ecnMarkBytes && isEct(frame);
      const start = Math.max(d.busyUntil, now);
      depart = start + (len * 8000) / c.rateBps;
      d.busyUntil = depart;
      d.qFinish.push(depart);
      d.qBytes.push(len);
      d.queuedBytes += len;
    }
    const rng = d.rng;
    if (c.loss > 0 && rng.float() < c.loss) {
      st.dropped.loss++;
      return false;
    }
    if (c.burst) {
      const p = d.geBad ? c.geLossBad : c.geLossGood;
      const lost = p > 0 && rng.float() < p;
      if (d.geBad) {
        if (rng.float() < c.geR) d.geBad = false;
      } else if (rng.float() < c.geP) d.geBad = true;
      if (lost) {
        st.dropped.burst++;
        return false;
      }
    }
    // (The generator is drawn in the same order whichever memory the copy takes.)
    const dup = c.duplicate > 0 && rng.float() < c.duplicate;
    let flip = -1;
    if (c.corrupt > 0 && len > 0 && rng.float() < c.corrupt) {
      flip = rng.below(len * 8);
      st.corrupted++;
    }
    let arrival = depart + c.delay;
    if (c.jitter > 0) arrival += rng.float() * c.jitter;
    if (c.reorder > 0 && rng.float() < c.reorder) {
      // Held back and exempt from FIFO ordering: frames sent after it overtake it.
      arrival += c.reorderDelay;
      st.reordered++;
    } else if (!c.jitterReorders) {
      if (arrival < d.lastArrival) arrival = d.lastArrival;
      d.lastArrival = arrival;
    }
    const ring = this.rings[dirIdx];
    // In order within its direction (times equal: the later seq goes after);
    // frames that overtake others go to the heap.
    const inOrder = ring.size === 0 || arrival >= ring.tail;
    let copy: Uint8Array | null = null;
    let arena: FrameArena | null = null;
    let arenaEnd = 0;
    if (lentArena !== null && inOrder) {
      copy = frame;
      arena = lentArena;
      arenaEnd = lentEnd;
    } else if (inOrder && d.rx.rxBorrow) {
      // Delivered in the order sent, to a receiver that keeps nothing: the
      // copy goes into the direction's arena and is released after delivery.
      arena = this.arenaFor(d, len);
      if (arena !== null) {
        arenaEnd = this.arenaHandle;
        copy = arena.lastView;
        copy.set(frame);
      }
    }
    if (copy === null) copy = this.copyOf(frame);
    // A duplicate is a frame of its own (the receiver owns it), uncorrupted.
    const twin = dup ? this.copyOf(frame) : null;
    if (flip >= 0) copy[flip >>> 3] ^= 1 << (flip & 7);
    if (markCe) {
      markCongestion(copy);
      st.ceMarked++;
    }
    if (inOrder) ring.push(arrival, this.seq++, copy, arena, arenaEnd);
    else this.heap.push(arrival, this.seq++, dirIdx, copy);
    if (twin !== null) {
      st.duplicated++;
      if (inOrder) ring.push(arrival, this.seq++, twin, null, 0);
      else this.heap.push(arrival, this.seq++, dirIdx, twin);
    }
    return copy === frame;
  }

  /**
   * The arena of direction `d` with a slot for a frame of `len` bytes taken
   * (its handle in arenaHandle, its view in the arena's lastView), or null
   * when the arena is at its size limit (the frame is then copied as for
   * any receiver).
   */
  private arenaFor(d: Direction, len: number): FrameArena | null {
    let a = d.arena;
    if (a === null) a = d.arena = new FrameArena(this.mtu, ARENA_MAX);
    const h = a.take(len);
    if (h < 0) return null;
    this.arenaHandle = h;
    return a;
  }
}
