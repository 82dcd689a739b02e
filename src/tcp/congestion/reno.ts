/**
 * Reno congestion control (RFC 5681) counted in segments as Linux counts
 * them, with:
 *   - initial window 10 segments (RFC 6928, Linux TCP_INIT_CWND);
 *   - slow start with Appropriate Byte Counting (RFC 3465): cwnd grows by the
 *     number of segments an ACK newly acknowledges, never past ssthresh.
 *     Linux (3.8+, tcp_slow_start) has no per-ACK limit: a stretch ACK of the
 *     whole initial window takes cwnd from 10 to 20 (checked on 6.18:
 *     test/drill/slow-start-stretch-ack.pkt); `abcLimit` can set RFC 3465's
 *     L = 2 instead. ACKed segments left over when ssthresh is reached count
 *     towards congestion avoidance, so an ACK that crosses ssthresh is not
 *     partly lost;
 *   - congestion avoidance: +1 segment per cwnd segments ACKed (RFC 5681
 *     eq. 3 done with byte-counting, RFC 3465 §2.1), with the count kept in
 *     `cwndCnt` like Linux's snd_cwnd_cnt;
 *   - cwnd grows only while the sender is cwnd-limited (Linux
 *     tcp_is_cwnd_limited; RFC 7661's idea that an unused window is not
 *     validated);
 *   - on loss, ssthresh = max(cwnd / 2, 2) segments. Note: RFC 5681 eq. 4
 *     halves FlightSize; Linux's Reno halves snd_cwnd (observable with
 *     `ss -ti` after a loss on an application-limited flow), and usnet
 *     follows Linux.
 */
import {
  type AckEvent,
  type CongestionControl,
  currentSsthresh,
  TCP_INFINITE_SSTHRESH,
  TCP_INIT_CWND,
} from './types.js';

export class Reno implements CongestionControl {
  readonly name: string = 'reno';
  cwnd = TCP_INIT_CWND;
  ssthresh = TCP_INFINITE_SSTHRESH;
  cwndCnt = 0;
  cwndClamp = 0xffff_ffff;
  /**
   * RFC 3465 L: the most segments one ACK may add in slow start. Linux 3.8+
   * has no limit (it adds every ACKed segment): `Infinity`, the default.
   * RFC 3465 recommends 2.
   */
  abcLimit: number;
  /** The initial window (segments); Linux's route `initcwnd` can change it. */
  initCwnd: number;

  constructor(initCwnd = TCP_INIT_CWND, abcLimit = Number.POSITIVE_INFINITY) {
    this.initCwnd = initCwnd;
    this.abcLimit = abcLimit;
    this.cwnd = initCwnd;
  }

  init(_now: number): void {
    this.cwnd = Math.min(this.initCwnd, this.cwndClamp);
    this.ssthresh = TCP_INFINITE_SSTHRESH;
    this.cwndCnt = 0;
  }

  onAck(ev: AckEvent): void {
    if (!ev.cwndLimited) return;
    let acked = ev.ackedSegs;
    if (acked <= 0) return;
    if (this.cwnd < this.ssthresh) {
      // Slow start (RFC 5681 §3.1, ABC RFC 3465 §2.2).
      const grow = Math.min(acked, this.abcLimit);
      const next = Math.min(this.cwnd + grow, this.ssthresh);
      acked -= next - this.cwnd;
      this.cwnd = Math.min(next, this.cwndClamp);
      if (acked <= 0 || this.cwnd < this.ssthresh) return;
    }
    this.congestionAvoidance(acked);
  }

  /** +1 segment per `cwnd` segments ACKed (RFC 5681 eq. 3 with byte counting). */
  protected congestionAvoidance(acked: number): void {
    const w = this.cwnd;
    // Credit gathered while cwnd was larger (before a reduction) is applied
    // gently: at most one segment now.
    if (this.cwndCnt >= w) {
      this.cwndCnt = 0;
      this.cwnd++;
    }
    this.cwndCnt += acked;
    if (this.cwndCnt >= w) {
      const delta = Math.floor(this.cwndCnt / w);
      this.cwndCnt -= delta * w;
      this.cwnd += delta;
    }
    if (this.cwnd > this.cwndClamp) this.cwnd = this.cwndClamp;
  }

  ssthreshOnLoss(_inFlightSegs: number): number {
    return Math.max(this.cwnd >> 1, 2);
  }

  onEnterRecovery(_now: number): void {
    this.cwndCnt = 0;
  }

  onExitRecovery(_now: number): void {
    this.cwndCnt = 0;
  }

  onRto(inFlightSegs: number, firstExpiry: boolean, _now: number): void {
    if (firstExpiry) this.ssthresh = this.ssthreshOnLoss(inFlightSegs);
    // RFC 5681 §3.1: LW = 1 segment.
    this.cwnd = 1;
    this.cwndCnt = 0;
  }

  onIdleRestart(idleMs: number, rtoMs: number, _now: number): void {
    // RFC 2861 §3 / RFC 5681 §4.1 as Linux does it: remember 3/4 of the
    // old window in ssthresh, then halve cwnd once per RTO that the
    // connection sat idle, but not below min(cwnd, IW).
    const restart = Math.min(this.initCwnd, this.cwnd);
    this.ssthresh = currentSsthresh(this);
    let delta = idleMs;
    let cwnd = this.cwnd;
    if (rtoMs > 0) {
      while ((delta -= rtoMs) > 0 && cwnd > restart) cwnd >>= 1;
    }
    this.cwnd = Math.max(cwnd, restart);
    this.cwndCnt = 0;
  }
}
