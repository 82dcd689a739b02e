/**
 * The loss-recovery interface: a pure decision module between the TCP core
 * and the congestion control. NewReno (RFC 6582) now; SACK-based recovery
 * (RFC 6675) and RACK-TLP (RFC 8985) later behind the same interface.
 *
 * The core owns the retransmission queue, the timers and the segments; the
 * module owns `caState`, the recover point, the duplicate-ACK count and
 * calls the congestion control (`cc`). It never sends: it tells the core
 * what to retransmit.
 *
 * The core's send loop (RFC 6675 §5 style, which also fits NewReno):
 *
 *   on each ACK:   fill ev; rec.onAck(ev, act);
 *                  if (act.retransmitSeq >= 0) retransmit one segment (≤ MSS)
 *                  at act.retransmitSeq NOW, whatever the window says
 *                  (fast retransmit / partial-ACK retransmit), then call
 *                  rec.onRetransmit(seq, len);
 *                  if (act.restartRto) re-arm the RTO timer.
 *   on RTO:        rec.onRto(sndUna, sndNxt, inFlightSegs, firstExpiry, now);
 *                  then run the send loop (it retransmits sndUna first).
 *   send loop:     while (rec.inFlightBytes(sndUna, sndNxt) < rec.sendWindowSegs() * mss) {
 *                    const s = rec.nextRetransmit(sndUna, sndNxt);
 *                    if (s >= 0) { retransmit ≤ MSS at s; rec.onRetransmit(s, len); }
 *                    else if new data allowed by rwnd/Nagle: send it; else break;
 *                  }
 */
import type { AckEvent, CaState, CongestionControl } from '../congestion/types.js';

/** Filled by `onAck`; one reused object per connection. */
export interface RecoveryAction {
  /** Sequence number to retransmit now (one segment, ignoring cwnd), or -1. */
  retransmitSeq: number;
  /** Re-arm the retransmission timer (RFC 6582 §3.2 step 5: first partial ACK). */
  restartRto: boolean;
  /** Fast recovery was entered by this ACK (count TcpExtTCPRenoRecovery / TCPSackRecovery). */
  entered: boolean;
  /** Recovery (fast or after RTO) ended with this ACK. */
  exited: boolean;
  /** Bytes this ACK SACKed that were not SACKed before (RFC 6675 "new SACK information"). */
  newlySacked: number;
  /** SACK blocks of this ACK discarded as invalid (TcpExtTCPSACKDiscard). */
  sackDiscarded: number;
  /** The window reduction was undone: UNDO_DSACK (TcpExtTCPDSACKUndo) or UNDO_FULL (TcpExtTCPFullUndo); else 0. */
  undo: number;
}

/** `RecoveryAction.undo`: every retransmission of the episode was reported as a duplicate (RFC 2883 §5). */
export const UNDO_DSACK = 1;
/** `RecoveryAction.undo`: the same, found when recovery ended (Linux tcp_try_undo_recovery). */
export const UNDO_FULL = 2;

/** `LossRecovery.onDsack` verdicts on the block (Linux tcp_is_sackblock_valid for a D-SACK). */
export const DSACK_VALID = 0;
/** Below snd_una with no episode to undo (TcpExtTCPDSACKIgnoredNoUndo). */
export const DSACK_NO_UNDO = 1;
/** Older than the episode, or reaching above snd_una (TcpExtTCPDSACKIgnoredOld). */
export const DSACK_OLD_IGNORED = 2;

export function newRecoveryAction(): RecoveryAction {
  return {
    retransmitSeq: -1,
    restartRto: false,
    entered: false,
    exited: false,
    newlySacked: 0,
    sackDiscarded: 0,
    undo: 0,
  };
}

export interface LossRecovery {
  /** 'newreno', later 'sack' / 'rack'. */
  readonly name: string;
  /** The congestion control this module drives. */
  readonly cc: CongestionControl;
  /** Linux's ca_state (TCP_INFO tcpi_ca_state). */
  readonly caState: CaState;
  /** Duplicate ACKs counted since the last advance of snd_una. */
  readonly dupAcks: number;
  /** RFC 6582 `recover` (Linux high_seq): highest sequence sent when recovery started. */
  readonly recover: number;

  /** Connection established: `iss`/snd_una is the initial recover point (RFC 6582 §3.2 step 1). */
  init(sndUna: number, now: number): void;
  /** Every acceptable ACK (ack within [snd_una, snd_nxt]), new data or duplicate. */
  onAck(ev: AckEvent, out: RecoveryAction): void;
  /**
   * The retransmission timer expired (RFC 6298 §5.4–5.6, RFC 5681 §3.1):
   * enters Loss, cc.onRto, recover = snd_nxt (RFC 6582 §3.2 step 6). All
   * outstanding data is then considered lost and is retransmitted through
   * `nextRetransmit`, within cwnd.
   */
  onRto(sndUna: number, sndNxt: number, inFlightSegs: number, firstExpiry: boolean, now: number): void;
  /**
   * A tail-loss probe repaired a loss (RFC 8985 §7.4.2): reduce the window
   * once, as Linux's CWR episode: ssthresh from the congestion control,
   * cwnd = ssthresh, without entering recovery.
   */
  onProbeRepairedLoss(inFlightSegs: number, now: number): void;
  /**
   * The ACK about to be passed to `onAck` carries a believable D-SACK
   * [start, end) of `segs` segments (RFC 2883; the core checked it, see
   * src/tcp/dsack.ts). `priorUna`: snd_una before this ACK. The module may
   * use it to undo a needless window reduction; returns DSACK_VALID, or why
   * Linux would ignore the block.
   */
  onDsack(start: number, end: number, segs: number, priorUna: number, ack: number): number;
  /** The core retransmitted `len` bytes at `seq`. */
  onRetransmit(seq: number, len: number): void;
  /** Segments that may be in flight now: cwnd plus any limited-transmit allowance (RFC 3042). */
  sendWindowSegs(): number;
  /**
   * Bytes the network is believed to hold ("pipe"): snd_nxt - snd_una,
   * minus data marked lost and not yet retransmitted (after an RTO).
   */
  inFlightBytes(sndUna: number, sndNxt: number): number;
  /** Next sequence number to retransmit within the window, or -1 (send new data). */
  nextRetransmit(sndUna: number, sndNxt: number): number;
  /**
   * The scoreboard in segments of `mss`, as TCP_INFO reports Linux's
   * counters: tcpi_sacked (sacked_out: segments SACKed, or for a
   * connection without SACK the duplicate ACKs standing in for them),
   * tcpi_lost (lost_out: segments marked lost, resent or not) and
   * tcpi_retrans (retrans_out: retransmitted and not yet acknowledged).
   */
  sackedSegs(mss: number): number;
  lostSegs(sndUna: number, sndNxt: number, mss: number): number;
  retransSegs(sndUna: number, sndNxt: number, mss: number): number;
}

/** Factory under a name, given the connection's congestion control. */
export type LossRecoveryFactory = (cc: CongestionControl, dupThresh: number) => LossRecovery;
