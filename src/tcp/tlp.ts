/**
 * The end of a tail-loss-probe episode (RFC 8985 §7.4, as Linux 6.18's
 * tcp_process_tlp_ack; checked with the kernel target): once the
 * cumulative ACK reaches what was outstanding when the probe went
 * (`tlpHighSeq`),
 *   - a probe of new data needs no more thought;
 *   - a retransmitted probe that the peer reports as a duplicate (a D-SACK
 *     ending at `tlpHighSeq`) means the original arrived: no loss;
 *   - an ACK beyond `tlpHighSeq` without that D-SACK means the probe
 *     repaired a loss: the window is reduced once, as Linux's CWR
 *     (ssthresh from the congestion control, cwnd = ssthresh), and
 *     TcpExtTCPLossProbeRecovery is counted;
 *   - an ACK exactly at `tlpHighSeq` waits for one of those, unless it is
 *     a pure duplicate (nothing acknowledged, no data, no window change, no
 *     new SACK information): then both copies arrived, no loss.
 * The episode also ends when recovery starts or the RTO fires.
 */
import { seqGt, seqLt } from '../wire/seq.js';
import { ecnQueueCwr } from './ecn.js';
import type { Tcb } from './tcb.js';
import type { TcpLayer } from './tcp.js';

/**
 * An acceptable ACK arrived while a probe is outstanding. `advanced`: it
 * moved snd_una; `notDup`: it acknowledged data, carried data or changed
 * the window; `newSack`: it SACKed data not SACKed before; `dsackTlp`: its
 * D-SACK reports the probe's segment.
 */
export function tlpAck(
  L: TcpLayer,
  t: Tcb,
  ack: number,
  advanced: boolean,
  notDup: boolean,
  newSack: boolean,
  dsackTlp: boolean,
): void {
  const high = t.tlpHighSeq;
  if (high < 0 || seqLt(ack, high)) return;
  if (!t.tlpRetrans || dsackTlp) {
    t.tlpHighSeq = -1;
    return;
  }
  if (seqGt(ack, high)) {
    t.tlpHighSeq = -1;
    L.inc(L.c.TcpExtTCPLossProbeRecovery);
    const inFlightSegs = Math.ceil(t.flight / Math.max(1, t.mss));
    t.rec?.onProbeRepairedLoss(inFlightSegs, L.now);
    // A window reduction: with ECN the next new data carries CWR (Linux
    // tcp_init_cwnd_reduction queues it; seen on 6.18, ecn-tlp-repaired-loss.pkt).
    ecnQueueCwr(t);
    return;
  }
  if (!advanced && !notDup && !newSack) t.tlpHighSeq = -1;
}
