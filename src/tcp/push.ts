/**
 * Where the PSH flag goes, as Linux 6.18 sets it (measured with the drill
 * kernel target, test/drill/data-psh-*.pkt):
 *
 * - A write() ends with tcp_push, which marks the skb at the tail of the
 *   write queue (tcp_mark_push). A write that has queued more than half the
 *   peer's largest window since the last mark also marks the skb it just
 *   filled (forced_push). A write that appends to an unsent tail skb with
 *   room left clears that skb's mark (the skb grows; tcp_sendmsg_locked).
 *   Write-queue skbs hold at most `size_goal` bytes (tcp_xmit_size_goal:
 *   half the peer's largest window, at most a GSO packet, in whole MSS).
 * - tcp_write_xmit sends one skb, or its front (tso_fragment, which leaves
 *   the mark on the rest), as one GSO packet of up to tcp_tso_autosize
 *   segments. Every GSO packet of more than one segment carries PSH on its
 *   last segment (__tcp_transmit_skb sets it "to expedite GRO flush"); a
 *   one-segment packet carries PSH only when it ends a marked skb.
 * - A retransmission keeps the flags of what it resends: PSH when a sent
 *   packet that carried PSH ended inside the resent range (a partial
 *   resend of the front of a packet loses it, as tcp_fragment moves PSH to
 *   the second part; collapsing small packets ORs their flags).
 *
 * usnet keeps no skbs, only sequence numbers: the ends of the unsent skbs
 * with their mark, and the ends of sent packets that carried PSH.
 */
import { seqGt, seqLeq, seqLt } from '../wire/seq.js';

/**
 * A growable ring of ascending sequence numbers with a flag each, kept
 * interleaved in one array (entry i: seq at 2i, flag at 2i + 1) so that a
 * connection's first write allocates one typed array per ring, not two.
 */
class SeqRing {
  private buf: Uint32Array = EMPTY;
  /** Capacity in entries - 1 (a power of two minus one; -1 while empty). */
  private mask = -1;
  head = 0;
  len = 0;

  at(i: number): number {
    return this.buf[((this.head + i) & this.mask) << 1];
  }

  flagAt(i: number): number {
    return this.buf[(((this.head + i) & this.mask) << 1) | 1];
  }

  push(s: number, f: number): void {
    if (this.len === this.mask + 1) this.grow();
    const i = ((this.head + this.len) & this.mask) << 1;
    this.buf[i] = s >>> 0;
    this.buf[i | 1] = f;
    this.len++;
  }

  pop(): void {
    if (this.len > 0) this.len--;
  }

  shift(): void {
    if (this.len === 0) return;
    this.head = (this.head + 1) & this.mask;
    this.len--;
  }

  /** Drop entries at or before `s`. */
  dropThrough(s: number): void {
    while (this.len > 0 && seqLeq(this.at(0), s)) this.shift();
  }

  clear(): void {
    this.head = 0;
    this.len = 0;
  }

  private grow(): void {
    const n = this.mask < 0 ? 8 : (this.mask + 1) * 2;
    const buf = new Uint32Array(2 * n);
    for (let i = 0; i < this.len; i++) {
      buf[2 * i] = this.at(i);
      buf[2 * i + 1] = this.flagAt(i);
    }
    this.buf = buf;
    this.mask = n - 1;
    this.head = 0;
  }
}

const EMPTY = new Uint32Array(0);

/** send() flags that change marking (Linux values). */
export const MSG_EOR = 0x80;
export const MSG_MORE = 0x8000;

/** Unsent-skb flags: marked PSH; ends a record (MSG_EOR: later writes never join it). */
const F_PSH = 1;
const F_EOR = 2;

/** Linux sk_gso_max_size for a device with the default 64 KiB GSO limit, less MAX_TCP_HEADER + 1. */
export const GSO_MAX_SIZE = 65536 - 321;

export class PushMarks {
  /** Ends of the unsent (write-queue) skbs, ascending; flag 1 = marked PSH. */
  private readonly unsent = new SeqRing();
  /** Ends of sent packets that carried PSH, ascending. */
  private readonly sent = new SeqRing();
  /** Data end when writes were last taken in (-1: not yet). */
  private writeEnd = -1;
  /** Linux pushed_seq: write_seq at the last mark. */
  private pushedSeq = 0;
  /** MSG_MORE / MSG_EOR of the send() whose bytes the next noteWrite() takes in (set by the socket). */
  sendFlags = 0;

  /**
   * Take in what the application wrote since the last call (`dataStart`:
   * sequence of the first data byte ever, used once; `end`: the data end now).
   * Every call that finds new bytes ends a write (tcp_push). Returns true
   * when that write asked for MSG_MORE: this push then holds a partial
   * segment as TCP_CORK would (Linux TCP_NAGLE_CORK for that call only).
   */
  noteWrite(dataStart: number, end: number, sndNxt: number, sizeGoal: number, maxWindow: number): boolean {
    if (this.writeEnd < 0 || seqLt(this.writeEnd, dataStart) || seqGt(this.writeEnd, end)) {
      // First use, or a new connection on the same control block (connect() again).
      this.unsent.clear();
      this.sent.clear();
      this.writeEnd = dataStart >>> 0;
      this.pushedSeq = dataStart >>> 0;
    }
    const old = this.writeEnd;
    const flags = this.sendFlags;
    this.sendFlags = 0;
    if (end === old) return false;
    this.writeEnd = end >>> 0;
    const more = (flags & MSG_MORE) !== 0;
    const u = this.unsent;
    u.dropThrough(sndNxt);
    let s = old;
    if (u.len > 0 && u.at(u.len - 1) === old && seqGt(old, sndNxt) && !(u.flagAt(u.len - 1) & F_EOR)) {
      // The unsent tail skb grows if it has room; its mark goes (the write's own mark replaces it).
      const start = u.len > 1 ? u.at(u.len - 2) : sndNxt;
      if (((old - start) | 0) < sizeGoal) {
        u.pop();
        s = start;
      }
    }
    const half = maxWindow >>> 1;
    while (((end - s) | 0) > sizeGoal) {
      s = (s + sizeGoal) >>> 0;
      const forced = seqGt(s, (this.pushedSeq + half) >>> 0);
      u.push(s, forced ? F_PSH : 0);
      if (forced) this.pushedSeq = s;
    }
    // tcp_push: the tail is marked unless MSG_MORE (then only a forced push marks it).
    const mark = !more || seqGt(end, (this.pushedSeq + half) >>> 0);
    u.push(end, (mark ? F_PSH : 0) | (flags & MSG_EOR ? F_EOR : 0));
    if (mark) this.pushedSeq = end >>> 0;
    return more;
  }

  /** End of the unsent skb that `seq` (snd_nxt) is in, and whether it is marked: returns the end; `lastMarked` tells. */
  skbEnd(seq: number, dataEnd: number): number {
    const u = this.unsent;
    u.dropThrough(seq);
    if (u.len === 0) {
      this.lastMarked = false;
      return dataEnd >>> 0;
    }
    this.lastMarked = (u.flagAt(0) & F_PSH) !== 0;
    return u.at(0);
  }

  /** Whether the skb end last returned by skbEnd() carries a PSH mark. */
  lastMarked = false;

  /** A packet of new data ending at `end` left with PSH (`una`: snd_una; older records are dropped). */
  sentPsh(end: number, una: number): void {
    const r = this.sent;
    r.dropThrough(una);
    if (r.len > 0 && seqLeq(end, r.at(r.len - 1))) return;
    r.push(end, 1);
  }

  /** Whether a resend of [seq, end) carries PSH; `una`: snd_una (older records are dropped). */
  resendPsh(seq: number, end: number, una: number): boolean {
    const r = this.sent;
    r.dropThrough(una);
    for (let i = 0; i < r.len; i++) {
      const e = r.at(i);
      if (seqLeq(e, seq)) continue;
      return !seqGt(e, end);
    }
    return false;
  }

  /** The connection starts over (a reused control block). */
  reset(): void {
    this.unsent.clear();
    this.sent.clear();
    this.writeEnd = -1;
    this.pushedSeq = 0;
    this.sendFlags = 0;
  }
}

/**
 * Linux tcp_xmit_size_goal: a write-queue skb holds up to half the peer's
 * largest window (tcp_bound_to_half_wnd), at most a GSO packet, in whole
 * segments, and at least one segment.
 */
export function sizeGoal(mss: number, maxWindow: number): number {
  let goal = GSO_MAX_SIZE;
  if (maxWindow > 0) {
    const cutoff = maxWindow > 536 ? maxWindow >>> 1 : maxWindow;
    // Below one MSS Linux bounds the MSS itself to half the window
    // (tcp_sync_mss), which usnet does not: cutting skbs at one MSS would
    // leave fragments Linux never makes, so the skb is not cut then.
    if (goal > cutoff && cutoff >= mss) goal = cutoff;
  }
  const segs = Math.floor(goal / mss);
  return segs > 1 ? segs * mss : mss;
}

/**
 * Linux tcp_tso_autosize for congestion controls that leave pacing to TCP
 * (reno, cubic): about 1 ms worth of the pacing rate (sk_pacing_rate >>
 * sk_pacing_shift 10), plus a GSO packet shifted down by min_rtt / 512 µs
 * (tcp_tso_rtt_log 9), at most a GSO packet, at least tcp_min_tso_segs.
 * The pacing rate (tcp_update_pacing_rate) is cwnd·mss/srtt times 2 in slow
 * start (below half ssthresh) or 1.2 after, unlimited without an RTT sample.
 */
export function tsoSegs(
  mss: number,
  cwnd: number,
  ssthresh: number,
  srttMs: number,
  minRttMs: number,
  minTsoSegs: number,
  tsoRttLog: number,
): number {
  let bytes: number;
  if (srttMs > 0) {
    const ratio = cwnd < ssthresh / 2 ? 2 : 1.2;
    const rate = (ratio * mss * cwnd * 1000) / srttMs; // bytes per second
    bytes = Math.floor(rate / 1024);
  } else bytes = GSO_MAX_SIZE;
  if (Number.isFinite(minRttMs)) {
    const r = Math.floor((minRttMs * 1000) / 2 ** tsoRttLog);
    if (r < 32) bytes += Math.floor(GSO_MAX_SIZE / 2 ** r);
  }
  if (bytes > GSO_MAX_SIZE) bytes = GSO_MAX_SIZE;
  const segs = Math.floor(bytes / mss);
  return Math.max(segs, minTsoSegs);
}
