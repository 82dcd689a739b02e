/**
 * The congestion-control interface between the TCP core and an algorithm
 * (Reno now; CUBIC and BBR later), and the loss-recovery interface that sits
 * between them.
 *
 * UNITS. Like Linux, the congestion window and slow-start threshold are
 * counted in SEGMENTS (Linux's `snd_cwnd` / `snd_ssthresh` are packet
 * counts and `TCP_INFO` reports them as such: `tcpi_snd_cwnd` = 10 on a fresh
 * connection). The TCP core works in bytes (sequence numbers), so:
 *
 *   - the core may have `cwnd * mss` bytes in flight, where in-flight is
 *     `snd_nxt - snd_una` (Reno/NewReno: fast-recovery inflation of `cwnd`
 *     accounts for segments that have left the network, RFC 5681 §3.2);
 *   - events carry both `ackedBytes` and `ackedSegs` (segments fully
 *     acknowledged, counted from the core's retransmission queue; a core
 *     that cannot count them may pass `ceil(ackedBytes / mss)`). Linux grows
 *     cwnd by acked *packets*, so a 100-byte segment counts as one.
 *
 * WHO CALLS WHAT. The core owns the retransmission queue and the timers. On
 * every acceptable ACK it fills an `AckEvent` (one reused object per
 * connection) and calls `recovery.onAck(ev)`; the recovery module (NewReno
 * now, SACK/RFC 6675 and RACK-TLP later) decides whether to enter or leave
 * fast recovery, calls the congestion-control hooks below, and fills its
 * `RecoveryAction` (what to retransmit). On RTO expiry the core calls
 * `recovery.onRto(...)`, which calls `cc.onRto(...)`. When sending after an
 * idle period the core calls `cc.onIdleRestart(...)` (if
 * `net.ipv4.tcp_slow_start_after_idle` is set). The core never changes
 * `cwnd`/`ssthresh` itself.
 *
 * All times are milliseconds (fractions allowed), passed in; no clock reads.
 */

/** Linux's "infinite" slow-start threshold (TCP_INFINITE_SSTHRESH). */
export const TCP_INFINITE_SSTHRESH = 0x7fffffff;

/** RFC 6928 / Linux TCP_INIT_CWND: the initial window, in segments. */
export const TCP_INIT_CWND = 10;

/**
 * Linux's congestion-avoidance states (`tcpi_ca_state` in TCP_INFO):
 * Open (normal), Disorder (dupacks/SACKs seen, not yet recovering), CWR
 * (window reduced by ECN/local congestion), Recovery (fast recovery), Loss
 * (after an RTO).
 */
export const CaState = { Open: 0, Disorder: 1, CWR: 2, Recovery: 3, Loss: 4 } as const;
export type CaState = (typeof CaState)[keyof typeof CaState];

/**
 * One ACK as the core saw it, after validating it (RFC 9293 §3.10.7.4:
 * `snd_una <= ack <= snd_nxt`). The core fills the same object on every ACK.
 */
export interface AckEvent {
  /** Time of arrival (ms). */
  now: number;
  /** SEG.ACK. */
  ack: number;
  /** snd_una BEFORE this ACK was applied. */
  sndUna: number;
  /** snd_nxt (highest sequence number sent + 1) at this ACK. */
  sndNxt: number;
  /** Bytes newly acknowledged (`ack - sndUna`, modulo 2^32); 0 for a duplicate. */
  ackedBytes: number;
  /** Segments fully acknowledged by this ACK (Linux counts packets). */
  ackedSegs: number;
  /**
   * RFC 5681 §2 duplicate ACK: ack == snd_una, outstanding data, no payload,
   * no SYN/FIN, unchanged window (and, with SACK, Linux also counts an ACK
   * that SACKs new data). The core decides.
   */
  isDup: boolean;
  /** Segments newly SACKed by this ACK (0 without SACK). */
  sackedSegs: number;
  /**
   * The ACK's SACK blocks (RFC 2018): left edge at [2i], right edge at
   * [2i+1], for i < sackCount; the parsed header's array, valid during the
   * call only. null / 0 when the segment carried none or SACK is off.
   */
  sackBlocks: Uint32Array | null;
  sackCount: number;
  /** RTT sample (ms) taken from this ACK, or -1 (Karn: none from retransmitted data). */
  rttMs: number;
  /**
   * Segments in flight BEFORE this ACK was applied (Linux's
   * packets_in_flight, i.e. `snd_nxt - snd_una` in segments for Reno).
   */
  inFlightSegs: number;
  /**
   * Whether sending was limited by cwnd during the last window (Linux's
   * `tcp_is_cwnd_limited`): cwnd only grows when the sender is using it
   * (RFC 7661 spirit). A core that does not track this passes true.
   */
  cwndLimited: boolean;
  /** Current sender MSS (bytes), for algorithms that work in bytes. */
  mss: number;
}

/** A new, zeroed AckEvent (allocate one per connection and reuse it). */
export function newAckEvent(): AckEvent {
  return {
    now: 0,
    ack: 0,
    sndUna: 0,
    sndNxt: 0,
    ackedBytes: 0,
    ackedSegs: 0,
    isDup: false,
    sackedSegs: 0,
    sackBlocks: null,
    sackCount: 0,
    rttMs: -1,
    inFlightSegs: 0,
    cwndLimited: true,
    mss: 536,
  };
}

/**
 * Per-connection congestion-control state plus the algorithm's hooks.
 * One object per connection (created by the registry's factory). Hooks are
 * called by the recovery module (and `onIdleRestart` by the core).
 */
export interface CongestionControl {
  /** Algorithm name as TCP_CONGESTION reports it ('reno'). */
  readonly name: string;
  /** Congestion window in segments (Linux snd_cwnd). */
  cwnd: number;
  /** Slow-start threshold in segments (Linux snd_ssthresh); TCP_INFINITE_SSTHRESH at start. */
  ssthresh: number;
  /** Linux's `snd_cwnd_cnt`: ACKed segments counted towards the next +1 in congestion avoidance. */
  cwndCnt: number;
  /** Upper clamp on cwnd (Linux snd_cwnd_clamp; TCP_WINDOW_CLAMP / route metric). */
  cwndClamp: number;

  /** Connection established (or cwnd reset by the core): cwnd = IW, ssthresh = infinite. */
  init(now: number): void;
  /**
   * New data was ACKed while NOT in fast recovery or loss recovery with
   * outstanding holes: grow cwnd (slow start / congestion avoidance).
   * Linux's `cong_avoid` hook.
   */
  onAck(ev: AckEvent): void;
  /**
   * Loss detected (fast retransmit, or RTO): the new ssthresh in segments
   * given the segments in flight. Reno: max(flight / 2, 2) (RFC 5681 eq. 4).
   * Pure: does not change state. Linux's `ssthresh` hook.
   */
  ssthreshOnLoss(inFlightSegs: number): number;
  /** Entering fast recovery (the recovery module has set ssthresh and cwnd). */
  onEnterRecovery(now: number): void;
  /** Leaving fast recovery with a full ACK (cwnd already deflated). */
  onExitRecovery(now: number): void;
  /**
   * Retransmission timeout: ssthresh = ssthreshOnLoss(flight) (on the first
   * expiry only; later expiries of the same loss keep it), cwnd = 1
   * (RFC 5681 §3.1 eq. 4 and LW = 1 SMSS).
   */
  onRto(inFlightSegs: number, firstExpiry: boolean, now: number): void;
  /**
   * Sending after an idle period of `idleMs` longer than the RTO `rtoMs`
   * (RFC 5681 §4.1, `tcp_slow_start_after_idle`): Linux halves cwnd once
   * per RTO of idleness, down to min(cwnd, IW), after remembering 3/4 of the
   * old cwnd in ssthresh.
   */
  onIdleRestart(idleMs: number, rtoMs: number, now: number): void;
  /** Optional: every ACK with an RTT sample (Linux `pkts_acked`; CUBIC's HyStart, BBR). */
  onRttSample?(rttMs: number, ev: AckEvent): void;
  /** Optional: a segment was sent (BBR pacing, CUBIC epoch after idle). */
  onSend?(bytes: number, now: number): void;
}

/** Factory registered under an algorithm's name. */
export type CongestionControlFactory = () => CongestionControl;

/**
 * Linux's tcp_current_ssthresh() outside CWR/Recovery: the larger of
 * ssthresh and 3/4 of cwnd, so that a window reduction (idle restart) can
 * slow-start back to where it was.
 */
export function currentSsthresh(cc: CongestionControl): number {
  return Math.max(cc.ssthresh, (cc.cwnd >> 1) + (cc.cwnd >> 2));
}
