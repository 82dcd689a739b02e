import { Rng } from '../rng.js';
import type { Clock } from '../time/clock.js';
import type { Steppable } from '../time/steppable.js';
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
}

export type WireDirection = 'aToB' | 'bToA' | 'both';

interface Resolved {
  delay: number;
  jitter: number;
  jitterReorders: boolean;
  rateBps: number;
  queueLimit: number;
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

  constructor(raw: Impairments, rng: Rng) {
    this.raw = raw;
    this.cfg = resolve(raw);
    this.rng = rng;
  }
}

/** One end of a MemoryWire: what a stack attaches to an interface. */
class WireEnd implements Link {
  onReceive: ((frame: Uint8Array) => void) | null = null;

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
}

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
  // Binary min-heap of in-flight frames keyed by (arrival time, seq).
  private hTime: number[] = [];
  private hSeq: number[] = [];
  private hDir: number[] = [];
  private hFrame: Uint8Array[] = [];

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
    return this.hTime.length;
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
    return this.hTime.length > 0 ? this.hTime[0] : Infinity;
  }

  advance(now: number): void {
    if (now > this.lastNow) this.lastNow = now;
    const end = this.seq; // frames queued from here on wait for the next advance()
    while (this.hTime.length > 0 && this.hTime[0] <= now && this.hSeq[0] < end) {
      const dir = this.hDir[0];
      const frame = this.hFrame[0];
      this.pop();
      const d = this.dirs[dir];
      const rx = d.rx.onReceive;
      if (rx === null) {
        d.stats.dropped.noReceiver++;
        continue;
      }
      d.stats.delivered++;
      d.stats.deliveredBytes += frame.length;
      rx(frame);
    }
  }

  /** @internal Called by the ends. */
  send(dirIdx: number, frame: Uint8Array): void {
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
      return;
    }
    let depart = now;
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
        return;
      }
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
      return;
    }
    if (c.burst) {
      const p = d.geBad ? c.geLossBad : c.geLossGood;
      const lost = p > 0 && rng.float() < p;
      if (d.geBad) {
        if (rng.float() < c.geR) d.geBad = false;
      } else if (rng.float() < c.geP) d.geBad = true;
      if (lost) {
        st.dropped.burst++;
        return;
      }
    }
    const copy = frame.slice();
    const dup = c.duplicate > 0 && rng.float() < c.duplicate ? frame.slice() : null;
    if (c.corrupt > 0 && len > 0 && rng.float() < c.corrupt) {
      const bit = rng.below(len * 8);
      copy[bit >>> 3] ^= 1 << (bit & 7);
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
    this.push(arrival, dirIdx, copy);
    if (dup !== null) {
      st.duplicated++;
      this.push(arrival, dirIdx, dup);
    }
  }

  // ---- heap ----

  private less(i: number, j: number): boolean {
    const ti = this.hTime[i];
    const tj = this.hTime[j];
    return ti < tj || (ti === tj && this.hSeq[i] < this.hSeq[j]);
  }

  private swap(i: number, j: number): void {
    const t = this.hTime[i];
    this.hTime[i] = this.hTime[j];
    this.hTime[j] = t;
    const s = this.hSeq[i];
    this.hSeq[i] = this.hSeq[j];
    this.hSeq[j] = s;
    const d = this.hDir[i];
    this.hDir[i] = this.hDir[j];
    this.hDir[j] = d;
    const f = this.hFrame[i];
    this.hFrame[i] = this.hFrame[j];
    this.hFrame[j] = f;
  }

  private push(time: number, dir: number, frame: Uint8Array): void {
    let i = this.hTime.length;
    this.hTime.push(time);
    this.hSeq.push(this.seq++);
    this.hDir.push(dir);
    this.hFrame.push(frame);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  private pop(): void {
    const last = this.hTime.length - 1;
    this.swap(0, last);
    this.hTime.pop();
    this.hSeq.pop();
    this.hDir.pop();
    this.hFrame.pop();
    const n = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const m = r < n && this.less(r, l) ? r : l;
      if (!this.less(m, i)) break;
      this.swap(i, m);
      i = m;
    }
  }
}
