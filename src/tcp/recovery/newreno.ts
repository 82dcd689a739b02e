/**
 * NewReno loss recovery (RFC 6582) over RFC 5681 fast retransmit / fast
 * recovery, as a pure decision module (see ./types.ts for how the core
 * drives it).
 *
 *   - `dupThresh` duplicate ACKs (net.ipv4.tcp_reordering, 3) start fast
 *     retransmit, but only when the cumulative ACK covers more than
 *     `recover` (RFC 6582 §3.2 step 2, the "careful" variant Linux uses:
 *     duplicate ACKs left over from a previous recovery or RTO do not start
 *     a second reduction);
 *   - the first and second duplicate ACKs allow one new segment each
 *     (Limited Transmit, RFC 3042, as Linux does in the Disorder state);
 *   - entering: ssthresh from the congestion control, cwnd = ssthresh + 3,
 *     retransmit snd_una (RFC 5681 §3.2 steps 2-3);
 *   - each further duplicate ACK inflates cwnd by one (step 4);
 *   - a partial ACK retransmits the next hole (the new snd_una), deflates
 *     cwnd by the segments it acknowledged and adds one back if it
 *     acknowledged at least one MSS (RFC 6582 §3.2 step 5);
 *   - a full ACK (covering `recover`) leaves recovery with cwnd = ssthresh
 *     (step 3, option 2, which is what Linux does at the end of any window
 *     reduction); the ACK then counts for congestion avoidance with the
 *     segments it newly delivered (those not already counted as duplicate
 *     ACKs), as Linux's Reno SACK emulation counts them;
 *   - an RTO enters Loss: cwnd = 1, recover = snd_nxt (step 6), everything
 *     outstanding counts as lost and is retransmitted from snd_una within
 *     cwnd through `nextRetransmit`; the ACK that covers `recover` returns
 *     to Open. Duplicate ACKs in Loss start no fast retransmit.
 *
 * The retransmission timer is re-armed whenever the head of the queue is
 * retransmitted (fast retransmit and every partial ACK), as Linux does when
 * it retransmits the first unacknowledged segment (RFC 6582 §4
 * "Slow-but-Steady").
 *
 * Known difference from Linux: Linux runs fast recovery with Proportional
 * Rate Reduction (RFC 6937) instead of RFC 5681 window inflation; the
 * amount sent per RTT during recovery is similar, its spacing differs.
 */
import { seqAdd, seqGeq, seqGt, seqLt, seqSub } from '../../wire/seq.js';
import { type AckEvent, CaState, type CongestionControl } from '../congestion/types.js';
import { probeReduction, rtoStartsNewEpisode } from './loss-episode.js';
import { DSACK_VALID, type LossRecovery, type RecoveryAction } from './types.js';

export class NewReno implements LossRecovery {
  readonly name = 'newreno';
  readonly cc: CongestionControl;
  caState: CaState = CaState.Open;
  dupAcks = 0;
  recover = 0;
  /** Duplicate ACKs that start fast retransmit (net.ipv4.tcp_reordering). */
  dupThresh: number;
  /** After an RTO: retransmitted up to here (RFC 6675's HighRxt). */
  private highRxt = 0;

  constructor(cc: CongestionControl, dupThresh = 3) {
    this.cc = cc;
    this.dupThresh = dupThresh > 0 ? dupThresh : 3;
  }

  init(sndUna: number, _now: number): void {
    // RFC 6582 §3.2 step 1 sets recover to the ISS. `recover` here is one
    // past the highest sequence sent (Linux high_seq), so that a loss of
    // the very first data segment can still be fast-retransmitted, start
    // one below snd_una.
    this.recover = seqAdd(sndUna, -1);
    this.highRxt = sndUna;
    this.caState = CaState.Open;
    this.dupAcks = 0;
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
    if (ev.rttMs >= 0 && cc.onRttSample) cc.onRttSample(ev.rttMs, ev);

    if (ev.ackedBytes > 0) {
      switch (this.caState) {
        case CaState.Recovery:
          if (seqGeq(ev.ack, this.recover)) this.exitRecovery(ev, out);
          else this.partialAck(ev, out);
          return;
        case CaState.Loss:
          if (seqGt(ev.ack, this.highRxt)) this.highRxt = ev.ack;
          // Slow start continues while the lost window is resent.
          cc.onAck(ev);
          if (seqGeq(ev.ack, this.recover)) {
            this.caState = CaState.Open;
            this.dupAcks = 0;
            out.exited = true;
          }
          return;
        default:
          this.caState = CaState.Open;
          this.dupAcks = 0;
          cc.onAck(ev);
          return;
      }
    }
    if (!ev.isDup) return;

    this.dupAcks++;
    switch (this.caState) {
      case CaState.Recovery:
        // RFC 5681 §3.2 step 4: a segment has left the network.
        cc.cwnd++;
        return;
      case CaState.Loss:
        return;
      default:
        if (this.dupAcks < this.dupThresh) {
          this.caState = CaState.Disorder;
          return;
        }
        if (!seqGt(ev.ack, this.recover)) {
          // RFC 6582 §3.2 step 2: this ACK does not cover `recover`; the
          // duplicates belong to a loss already handled.
          this.caState = CaState.Disorder;
          return;
        }
        this.enterRecovery(ev, out);
    }
  }

  private enterRecovery(ev: AckEvent, out: RecoveryAction): void {
    const cc = this.cc;
    this.recover = ev.sndNxt;
    cc.ssthresh = cc.ssthreshOnLoss(ev.inFlightSegs);
    cc.cwnd = Math.min(cc.ssthresh + this.dupThresh, cc.cwndClamp);
    this.caState = CaState.Recovery;
    cc.onEnterRecovery(ev.now);
    out.retransmitSeq = ev.ack;
    out.restartRto = true;
    out.entered = true;
  }

  private partialAck(ev: AckEvent, out: RecoveryAction): void {
    const cc = this.cc;
    // RFC 6582 §3.2 step 5.
    let cwnd = cc.cwnd - ev.ackedSegs;
    if (ev.ackedBytes >= ev.mss) cwnd++;
    cc.cwnd = Math.max(cwnd, 1);
    out.retransmitSeq = ev.ack;
    out.restartRto = true;
  }

  private exitRecovery(ev: AckEvent, out: RecoveryAction): void {
    const cc = this.cc;
    cc.cwnd = Math.max(1, Math.min(cc.ssthresh, cc.cwndClamp));
    const delivered = Math.max(0, ev.ackedSegs - this.dupAcks);
    this.caState = CaState.Open;
    this.dupAcks = 0;
    cc.onExitRecovery(ev.now);
    out.exited = true;
    if (delivered > 0) {
      const segs = ev.ackedSegs;
      ev.ackedSegs = delivered;
      cc.onAck(ev);
      ev.ackedSegs = segs;
    }
  }

  onRto(sndUna: number, sndNxt: number, inFlightSegs: number, firstExpiry: boolean, now: number): void {
    const recompute = rtoStartsNewEpisode(this.caState, this.recover, sndUna, firstExpiry);
    this.caState = CaState.Loss;
    this.recover = sndNxt;
    this.highRxt = sndUna;
    this.dupAcks = 0;
    this.cc.onRto(inFlightSegs, recompute, now);
  }

  /** Without SACK there is no D-SACK: nothing to undo with. */
  onDsack(_start: number, _end: number, _segs: number, _priorUna: number, _ack: number): number {
    return DSACK_VALID;
  }

  onProbeRepairedLoss(inFlightSegs: number, _now: number): void {
    probeReduction(this.cc, inFlightSegs);
  }

  onRetransmit(seq: number, len: number): void {
    const end = seqAdd(seq, len);
    if (seqGt(end, this.highRxt)) this.highRxt = end;
  }

  sendWindowSegs(): number {
    const cwnd = this.cc.cwnd;
    if (this.caState === CaState.Disorder) return cwnd + Math.min(this.dupAcks, 2);
    return cwnd;
  }

  inFlightBytes(sndUna: number, sndNxt: number): number {
    const out = seqSub(sndNxt, sndUna);
    if (this.caState !== CaState.Loss) return out;
    // After an RTO everything below `recover` not yet resent is lost.
    const from = seqGt(this.highRxt, sndUna) ? this.highRxt : sndUna;
    const lost = seqLt(from, this.recover) ? seqSub(this.recover, from) : 0;
    return out - lost;
  }

  // Linux's Reno emulates SACK with duplicate ACKs: sacked_out counts them
  // (at most the segments out but one); fast recovery marks the head lost;
  // an RTO marks everything sent before it.
  sackedSegs(_mss: number): number {
    return this.caState === CaState.Disorder || this.caState === CaState.Recovery ? this.dupAcks : 0;
  }

  lostSegs(sndUna: number, _sndNxt: number, mss: number): number {
    if (this.caState === CaState.Recovery) return 1;
    if (this.caState !== CaState.Loss || !seqGt(this.recover, sndUna)) return 0;
    return Math.ceil(seqSub(this.recover, sndUna) / mss);
  }

  retransSegs(sndUna: number, _sndNxt: number, mss: number): number {
    if (this.caState !== CaState.Recovery && this.caState !== CaState.Loss) return 0;
    return seqGt(this.highRxt, sndUna) ? Math.ceil(seqSub(this.highRxt, sndUna) / mss) : 0;
  }

  nextRetransmit(sndUna: number, sndNxt: number): number {
    if (this.caState !== CaState.Loss) return -1;
    const from = seqGt(this.highRxt, sndUna) ? this.highRxt : sndUna;
    return seqLt(from, this.recover) && seqLt(from, sndNxt) ? from : -1;
  }
}
