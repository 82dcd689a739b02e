import { seqGt } from '../../wire/seq.js';
import { CaState, type CongestionControl } from '../congestion/types.js';

/**
 * Whether an RTO starts a new loss episode, so that ssthresh is computed
 * again: not when the RTO hits during fast recovery (ssthresh was already
 * reduced for this loss) nor on a repeated expiry while the same window is
 * being resent; yes from Open/Disorder, once `recover` is behind snd_una,
 * or on the first expiry in Loss. Shared by NewReno and SACK recovery.
 */
export function rtoStartsNewEpisode(
  state: CaState,
  recover: number,
  sndUna: number,
  firstExpiry: boolean,
): boolean {
  return (
    state === CaState.Open ||
    state === CaState.Disorder ||
    !seqGt(recover, sndUna) ||
    (state === CaState.Loss && firstExpiry)
  );
}

/**
 * The window reduction after a tail-loss probe repaired a loss (Linux
 * tcp_init_cwnd_reduction + tcp_end_cwnd_reduction in CWR): ssthresh from
 * the congestion control, cwnd down to it at once. Shared by NewReno and
 * SACK recovery.
 */
export function probeReduction(cc: CongestionControl, inFlightSegs: number): void {
  cc.ssthresh = cc.ssthreshOnLoss(inFlightSegs);
  cc.cwnd = Math.max(1, Math.min(cc.ssthresh, cc.cwndClamp));
}
