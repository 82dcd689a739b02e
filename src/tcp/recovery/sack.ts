/**
 * SACK-based loss recovery (RFC 6675, "conservative" recovery), for
 * connections that negotiated SACK-permitted (RFC 2018). A pure decision
 * module behind the same interface as NewReno (see ./types.ts).
 *
 *   - A scoreboard keeps the SACKed ranges above snd_una (sorted, merged,
 *     at most MAX_RANGES of them: bounded whatever a peer sends). Blocks
 *     not within (snd_una, snd_nxt] are discarded whole (Linux
 *     tcp_is_sackblock_valid; the core counts TcpExtTCPSACKDiscard), and a
 *     first block that reports a duplicate (D-SACK, RFC 2883 §4: see
 *     ./dsack.ts) is no SACK information at all.
 *   - IsLost (RFC 6675 §4): an unSACKed byte is lost once `dupThresh`
 *     discontiguous SACKed ranges, or more than (dupThresh − 1)·SMSS SACKed
 *     bytes, lie above it. `lossEdge` is the lowest SACKed range start for
 *     which that holds; every hole below it is lost.
 *   - Recovery starts when the first hole is lost or `dupThresh` duplicate
 *     ACKs arrived (§5): ssthresh from the congestion control,
 *     RecoveryPoint = snd_nxt, the first hole is retransmitted at once (§5
 *     step 4.3); then the core's send loop sends while pipe < cwnd: lost
 *     holes first (NextSeg rule 1), else new data.
 *   - During recovery cwnd follows Proportional Rate Reduction (RFC 6937,
 *     the slow-start reduction bound, as Linux does): on each ACK
 *     cwnd = pipe + sndcnt, where sndcnt lets out data in proportion to
 *     what was delivered (ssthresh / prior cwnd) while pipe is above
 *     ssthresh, and grows pipe back towards ssthresh (by at most what was
 *     delivered + 1 MSS) once below; at the end cwnd = ssthresh.
 *   - pipe (SetPipe, §4) = bytes outstanding − SACKed − lost + lost bytes
 *     already retransmitted.
 *   - Recovery ends when the cumulative ACK covers RecoveryPoint. A new
 *     episode may start as soon as the ACK reaches RecoveryPoint (RFC 6675
 *     §5 asks for HighACK > RecoveryPoint; SACK information about data sent
 *     after it is exact, and Linux does not wait either).
 *   - After an RTO everything unSACKed below snd_nxt is lost and resent in
 *     slow start (Linux keeps SACK marks across an RTO too); a second RTO
 *     without progress drops the scoreboard in case the receiver reneged
 *     (RFC 2018 §8: SACKed data may be discarded by the receiver).
 *
 * Known difference from Linux: Linux detects lost retransmissions with
 * RACK (RFC 8985) where this relies on the RTO.
 */
import { seqAdd, seqGeq, seqGt, seqLeq, seqLt, seqSub } from '../../wire/seq.js';
import { type AckEvent, CaState, type CongestionControl, currentSsthresh } from '../congestion/types.js';
import { DSACK_NONE, dsackKind } from './dsack.js';
import { probeReduction, rtoStartsNewEpisode } from './loss-episode.js';
import {
  DSACK_NO_UNDO,
  DSACK_OLD_IGNORED,
  DSACK_VALID,
  type LossRecovery,
  type RecoveryAction,
  UNDO_DSACK,
  UNDO_FULL,
} from './types.js';

/** Most SACKed ranges remembered (a peer can send at most 4 blocks per ACK; holes beyond this are rare). */
export const MAX_RANGES = 64;
const NO_RANGES = new Uint32Array(0);

export class SackRecovery implements LossRecovery {
  readonly name = 'sack';
  readonly cc: CongestionControl;
  caState: CaState = CaState.Open;
  dupAcks = 0;
  /** RecoveryPoint (RFC 6675) / Linux high_seq. */
  recover = 0;
  dupThresh: number;
  /** Scoreboard: SACKed [start, end) ranges above snd_una, sorted. */
  // Allocated on the first SACK block: most connections never see one, and
  // connection set-up is a hot path (connections per second).
  sStart: Uint32Array = NO_RANGES;
  sEnd: Uint32Array = NO_RANGES;
  count = 0;
  /** HighRxt: retransmitted up to here. */
  highRxt = 0;
  /** Sender MSS seen on the last ACK (for IsLost's byte rule). */
  private mss = 536;
  /** snd_una at the last RTO, to spot a second RTO without progress. */
  private rtoUna = -1;
  // PRR state (RFC 6937): bytes delivered since recovery started, bytes in
  // flight when it started, snd_nxt then, bytes retransmitted since.
  private prrDelivered = 0;
  private recoverFS = 0;
  private nxtAtEntry = 0;
  private rtxSinceEntry = 0;
  // Undo (RFC 2883 §5, as Linux): where the episode began (undo_marker),
  // its retransmissions not yet reported as duplicates (undo_retrans; -1:
  // none yet, 0: all were, so the reduction was needless), and the window
  // before it.
  private undoSet = false;
  private undoMarker = 0;
  private undoRetrans = -1;
  private priorCwnd = 0;
  private priorSsthresh = 0;
  /** Segments the coming ACK's D-SACK reported (Linux counts them as delivered). */
  private dsackSegs = 0;

  constructor(cc: CongestionControl, dupThresh = 3) {
    this.cc = cc;
    this.dupThresh = dupThresh > 0 ? dupThresh : 3;
  }

  init(sndUna: number, _now: number): void {
    this.recover = seqAdd(sndUna, -1);
    this.highRxt = sndUna;
    this.caState = CaState.Open;
    this.dupAcks = 0;
    this.count = 0;
    this.rtoUna = -1;
    this.undoSet = false;
  }

  /** Bytes SACKed in all. */
  sackedBytes(): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) n += seqSub(this.sEnd[i], this.sStart[i]);
    return n;
  }

  /** SACKed bytes below `seq`. */
  private sackedBelow(seq: number): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) {
      const s = this.sStart[i];
      if (!seqLt(s, seq)) break;
      const e = this.sEnd[i];
      n += seqSub(seqLt(e, seq) ? e : seq, s);
    }
    return n;
  }

  /**
   * Every unSACKed byte below this is lost (RFC 6675 IsLost); snd_una when
   * nothing is. After an RTO, `recover` (everything sent before it).
   */
  lossEdge(sndUna: number): number {
    if (this.caState === CaState.Loss) return this.recover;
    let bytes = 0;
    let n = 0;
    const limit = (this.dupThresh - 1) * this.mss;
    for (let i = this.count - 1; i >= 0; i--) {
      n++;
      bytes += seqSub(this.sEnd[i], this.sStart[i]);
      if (n >= this.dupThresh || bytes > limit) return this.sStart[i];
    }
    return sndUna;
  }

  /** Add a SACK block, keeping the list sorted and merged. */
  private addRange(l: number, r: number): void {
    if (this.sStart.length === 0) {
      this.sStart = new Uint32Array(MAX_RANGES);
      this.sEnd = new Uint32Array(MAX_RANGES);
    }
    const st = this.sStart;
    const en = this.sEnd;
    let n = this.count;
    // First range that ends at or after l.
    let i = 0;
    while (i < n && seqLt(en[i], l)) i++;
    // Merge every range that overlaps or touches [l, r).
    let j = i;
    while (j < n && seqLeq(st[j], r)) {
      if (seqLt(st[j], l)) l = st[j];
      if (seqGt(en[j], r)) r = en[j];
      j++;
    }
    const removed = j - i;
    if (removed === 0) {
      if (n === MAX_RANGES) {
        // Full: forget the highest range (or this one, if it would be it).
        if (i === n) return;
        n--;
      }
      for (let k = n; k > i; k--) {
        st[k] = st[k - 1];
        en[k] = en[k - 1];
      }
      n++;
    } else if (removed > 1) {
      for (let k = j; k < n; k++) {
        st[k - removed + 1] = st[k];
        en[k - removed + 1] = en[k];
      }
      n -= removed - 1;
    }
    st[i] = l >>> 0;
    en[i] = r >>> 0;
    this.count = n;
  }

  /** Forget what the cumulative ACK now covers. */
  private prune(una: number): void {
    const st = this.sStart;
    const en = this.sEnd;
    let k = 0;
    while (k < this.count && seqLeq(en[k], una)) k++;
    if (k > 0) {
      for (let i = k; i < this.count; i++) {
        st[i - k] = st[i];
        en[i - k] = en[i];
      }
      this.count -= k;
    }
    if (this.count > 0 && seqLt(st[0], una)) st[0] = una;
  }

  onAck(ev: AckEvent, out: RecoveryAction): void {
    out.retransmitSeq = -1;
    out.restartRto = false;
    out.entered = false;
    out.exited = false;
    out.newlySacked = 0;
    out.sackDiscarded = 0;
    out.undo = 0;
    const cc = this.cc;
    if (ev.mss > 0) this.mss = ev.mss;
    if (ev.rttMs >= 0 && cc.onRttSample) cc.onRttSample(ev.rttMs, ev);
    const una = ev.ack;
    const sackedPrior = this.sackedBytes();
    if (ev.ackedBytes > 0) this.prune(una);
    const before = this.sackedBytes();
    const blocks = ev.sackBlocks;
    // RFC 2883 §4: a first block reporting a duplicate is no SACK information.
    const dsack = blocks !== null && dsackKind(blocks, ev.sackCount, una) !== DSACK_NONE;
    if (blocks !== null) {
      for (let b = dsack ? 1 : 0; b < ev.sackCount; b++) {
        const l = blocks[2 * b];
        const r = blocks[2 * b + 1];
        // Linux tcp_is_sackblock_valid: only blocks within (snd_una, snd_nxt];
        // one reaching down to the ACK is discarded whole, not clipped.
        if (!seqLt(l, r) || !seqGt(l, una) || seqGt(r, ev.sndNxt)) {
          out.sackDiscarded++;
          continue;
        }
        this.addRange(l, r);
      }
    }
    const newlySacked = this.sackedBytes() - before;
    out.newlySacked = newlySacked;
    // RFC 6937 DeliveredData: what this ACK newly told us arrived. Data
    // SACKed earlier and now covered by the cumulative ACK counts once, when
    // it was SACKed (Linux's acked_sacked, which also feeds cwnd growth).
    // A D-SACK reports a spurious retransmission delivered (Linux tcp_dsack_seen).
    const delivered = ev.ackedBytes - (sackedPrior - before) + newlySacked + this.dsackSegs * this.mss;
    this.dsackSegs = 0;

    if (ev.ackedBytes > 0) {
      this.rtoUna = -1;
      switch (this.caState) {
        case CaState.Recovery:
          if (seqGeq(una, this.recover)) {
            // RFC 6937: the reduction ends at ssthresh; then, as Linux, the
            // ACK that ends recovery counts for congestion avoidance.
            cc.cwnd = Math.max(1, Math.min(cc.ssthresh, cc.cwndClamp));
            this.caState = CaState.Open;
            this.dupAcks = 0;
            cc.onExitRecovery(ev.now);
            out.exited = true;
            // Every retransmission came back as a duplicate: undo the whole reduction.
            if (this.undoSet && this.undoRetrans === 0) this.undo(out, UNDO_FULL);
            this.grow(ev, delivered);
          } else {
            this.prr(ev, delivered);
            // Undone, recovery is over: the ACK counts for growth as in Open (Linux tcp_cong_control).
            if (this.tryUndoDsack(out)) this.grow(ev, delivered);
          }
          return;
        case CaState.Loss:
          this.grow(ev, delivered);
          if (seqGeq(una, this.recover)) {
            this.caState = CaState.Open;
            this.dupAcks = 0;
            out.exited = true;
          }
          return;
        default:
          this.dupAcks = 0;
          this.caState = this.count > 0 ? CaState.Disorder : CaState.Open;
          // A late D-SACK may still show the last reduction was needless.
          this.tryUndoDsack(out);
          this.grow(ev, delivered);
          // New data ACKed, yet the next hole may already be lost.
          if (this.count > 0 && seqGt(this.lossEdge(una), una) && seqGeq(una, this.recover))
            this.enter(ev, out, delivered);
          return;
      }
    }
    // Only newly SACKed data counts towards the duplicate threshold: Linux
    // counts SACKed segments (sacked_out), so neither a D-SACK (RFC 2883 §4)
    // nor a duplicate ACK without SACK blocks says anything about loss
    // (checked on 6.18: test/drill/dupack-without-sack-blocks.pkt).
    if (newlySacked > 0) this.dupAcks++;
    if (this.caState === CaState.Recovery) {
      this.prr(ev, newlySacked);
      this.tryUndoDsack(out);
      return;
    }
    if (this.caState === CaState.Loss) return;
    this.tryUndoDsack(out);
    if (this.count === 0) return;
    this.caState = CaState.Disorder;
    const lost = this.count > 0 && seqGt(this.lossEdge(una), una);
    if ((lost || this.dupAcks >= this.dupThresh) && seqGeq(una, this.recover))
      this.enter(ev, out, newlySacked);
  }

  private enter(ev: AckEvent, out: RecoveryAction, delivered: number): void {
    const cc = this.cc;
    this.initUndo(ev.ack);
    this.recover = ev.sndNxt;
    cc.ssthresh = cc.ssthreshOnLoss(ev.inFlightSegs);
    this.caState = CaState.Recovery;
    this.highRxt = ev.ack;
    this.prrDelivered = 0;
    // RFC 6937 takes RecoverFS = snd_nxt − snd_una; Linux divides by the
    // cwnd before the reduction (prior_cwnd), which is what the kernel's
    // sending pattern shows when data was sent by Limited Transmit just
    // before recovery (test/tcp/congestion/kernel-compare.test.ts).
    this.recoverFS = Math.max(1, cc.cwnd * this.mss);
    this.nxtAtEntry = ev.sndNxt;
    this.rtxSinceEntry = 0;
    cc.onEnterRecovery(ev.now);
    this.prr(ev, delivered);
    out.retransmitSeq = ev.ack;
    out.restartRto = true;
    out.entered = true;
  }

  /** cwnd growth for `delivered` bytes (segments newly delivered, as Linux counts them for cong_avoid). */
  private grow(ev: AckEvent, delivered: number): void {
    const segs = ev.ackedSegs;
    ev.ackedSegs = delivered > 0 ? Math.ceil(delivered / this.mss) : 0;
    this.cc.onAck(ev);
    ev.ackedSegs = segs;
  }

  /** RFC 6937 §3 on an ACK during recovery that delivered `delivered` bytes: set cwnd = pipe + sndcnt. */
  private prr(ev: AckEvent, delivered: number): void {
    const cc = this.cc;
    const mss = this.mss;
    this.prrDelivered += delivered;
    const pipe = this.inFlightBytes(ev.ack, ev.sndNxt);
    const prrOut = seqSub(ev.sndNxt, this.nxtAtEntry) + this.rtxSinceEntry;
    const ssthresh = cc.ssthresh * mss;
    let sndcnt: number;
    if (pipe > ssthresh) {
      sndcnt = Math.ceil((this.prrDelivered * ssthresh) / this.recoverFS) - prrOut;
    } else {
      // Slow-start reduction bound, as Linux 6.x tcp_cwnd_reduction: one
      // segment more only on an ACK that moved snd_una (PRR-SSRB), else
      // what was delivered (PRR-CRB).
      let limit = Math.max(this.prrDelivered - prrOut, delivered);
      if (ev.ackedBytes > 0) limit += mss;
      sndcnt = Math.min(ssthresh - pipe, limit);
    }
    if (sndcnt < 0) sndcnt = 0;
    // The fast retransmit always goes (Linux: at least one segment while nothing was sent).
    if (prrOut === 0 && sndcnt < mss) sndcnt = mss;
    cc.cwnd = Math.max(1, Math.min(Math.ceil((pipe + sndcnt) / mss), cc.cwndClamp));
  }

  onRto(sndUna: number, sndNxt: number, inFlightSegs: number, firstExpiry: boolean, now: number): void {
    const recompute = rtoStartsNewEpisode(this.caState, this.recover, sndUna, firstExpiry);
    // A second RTO with snd_una where it was: the receiver may have
    // reneged on what it SACKed; resend everything.
    if (this.rtoUna === sndUna) this.count = 0;
    this.rtoUna = sndUna;
    if (recompute) this.initUndo(sndUna);
    this.caState = CaState.Loss;
    this.recover = sndNxt;
    this.highRxt = sndUna;
    this.dupAcks = 0;
    this.cc.onRto(inFlightSegs, recompute, now);
  }

  onProbeRepairedLoss(inFlightSegs: number, _now: number): void {
    probeReduction(this.cc, inFlightSegs);
  }

  /** Linux tcp_init_undo with the window to go back to (prior_cwnd, tcp_current_ssthresh). */
  private initUndo(sndUna: number): void {
    this.undoSet = true;
    this.undoMarker = sndUna;
    this.undoRetrans = -1;
    this.priorCwnd = this.cc.cwnd;
    this.priorSsthresh = currentSsthresh(this.cc);
  }

  /** Linux tcp_try_undo_dsack: in Recovery, Disorder or Open, once every retransmission was a duplicate. */
  private tryUndoDsack(out: RecoveryAction): boolean {
    if (!this.undoSet || this.undoRetrans !== 0) return false;
    this.undo(out, UNDO_DSACK);
    // Linux tcp_try_to_open: leave recovery; Disorder while SACKed data remains.
    if (this.caState === CaState.Recovery) {
      this.caState = this.count > 0 ? CaState.Disorder : CaState.Open;
      this.dupAcks = 0;
      out.exited = true;
    }
    return true;
  }

  /** Linux tcp_undo_cwnd_reduction: back to the window before the episode (Reno's undo_cwnd: the larger cwnd). */
  private undo(out: RecoveryAction, kind: number): void {
    const cc = this.cc;
    cc.cwnd = Math.min(Math.max(cc.cwnd, this.priorCwnd), cc.cwndClamp);
    if (this.priorSsthresh > cc.ssthresh) cc.ssthresh = this.priorSsthresh;
    this.undoSet = false;
    out.undo = kind;
  }

  onDsack(start: number, end: number, segs: number, priorUna: number, ack: number): number {
    this.dsackSegs += segs;
    // Each duplicate of a segment retransmitted in the episode takes one
    // off the count (Linux: below the old snd_una by range, above it per
    // retransmitted segment; here, data below HighRxt was retransmitted).
    if (this.undoSet && this.undoRetrans > 0 && seqGt(end, this.undoMarker)) {
      if (!seqGt(end, priorUna) || !seqGt(end, this.highRxt)) {
        this.undoRetrans = Math.max(0, this.undoRetrans - segs);
      }
    }
    // Linux tcp_is_sackblock_valid for a D-SACK (for its Ignored counters).
    if (seqGt(start, ack)) return DSACK_VALID;
    if (!this.undoSet) return DSACK_NO_UNDO;
    if (seqGt(end, ack) || !seqGt(end, this.undoMarker)) return DSACK_OLD_IGNORED;
    return DSACK_VALID;
  }

  onRetransmit(seq: number, len: number): void {
    const end = seqAdd(seq, len);
    // A retransmission in the episode may come back as a duplicate later.
    if (this.undoSet) this.undoRetrans = Math.max(this.undoRetrans, 0) + Math.ceil(len / this.mss);
    if (seqGt(end, this.highRxt)) this.highRxt = end;
    if (this.caState === CaState.Recovery) this.rtxSinceEntry += len;
  }

  sendWindowSegs(): number {
    const cwnd = this.cc.cwnd;
    // Limited Transmit (RFC 3042) before recovery starts. With SACK
    // information pipe already leaves out the SACKed segments, which is
    // how Linux lets new data out in Disorder; only bare duplicate ACKs
    // need the explicit allowance.
    if (this.caState === CaState.Disorder && this.count === 0) return cwnd + Math.min(this.dupAcks, 2);
    return cwnd;
  }

  inFlightBytes(sndUna: number, sndNxt: number): number {
    const out = seqSub(sndNxt, sndUna);
    if (this.count === 0 && this.caState !== CaState.Loss) return out;
    const sacked = this.sackedBytes();
    const edge = this.lossEdge(sndUna);
    let lost = 0;
    let resent = 0;
    if (seqGt(edge, sndUna)) {
      lost = seqSub(edge, sndUna) - this.sackedBelow(edge);
      if (seqGt(this.highRxt, sndUna)) {
        const top = seqLt(this.highRxt, edge) ? this.highRxt : edge;
        resent = seqSub(top, sndUna) - this.sackedBelow(top);
      }
    }
    const pipe = out - sacked - lost + resent;
    return Math.max(pipe, 0);
  }

  sackedSegs(mss: number): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) n += Math.ceil(seqSub(this.sEnd[i], this.sStart[i]) / mss);
    return n;
  }

  lostSegs(sndUna: number, _sndNxt: number, mss: number): number {
    const edge = this.lossEdge(sndUna);
    if (!seqGt(edge, sndUna)) return 0;
    return Math.ceil((seqSub(edge, sndUna) - this.sackedBelow(edge)) / mss);
  }

  retransSegs(sndUna: number, _sndNxt: number, mss: number): number {
    if (this.caState !== CaState.Recovery && this.caState !== CaState.Loss) return 0;
    if (!seqGt(this.highRxt, sndUna)) return 0;
    return Math.ceil((seqSub(this.highRxt, sndUna) - this.sackedBelow(this.highRxt)) / mss);
  }

  nextRetransmit(sndUna: number, sndNxt: number): number {
    if (this.caState !== CaState.Recovery && this.caState !== CaState.Loss) return -1;
    let s = seqGt(this.highRxt, sndUna) ? this.highRxt : sndUna;
    // Step over SACKed data (NextSeg rule 1: the first lost, unSACKed byte above HighRxt).
    for (let i = 0; i < this.count; i++) {
      if (seqLeq(this.sStart[i], s) && seqGt(this.sEnd[i], s)) s = this.sEnd[i];
    }
    const edge = this.lossEdge(sndUna);
    return seqLt(s, edge) && seqLt(s, sndNxt) ? s : -1;
  }
}
