/**
 * Reporting duplicate segments with D-SACK (RFC 2883), as Linux does with
 * net.ipv4.tcp_dsack = 1 on connections that negotiated SACK.
 *
 * The receiver remembers one duplicate range (`t.dsack`, `dsackStart`,
 * `dsackEnd`); the next segment that carries SACK blocks reports it as its
 * first block, ahead of the out-of-order blocks (RFC 2883 §4; output.ts),
 * and the ACK goes at once (observed on Linux 6.18 even in interactive,
 * delayed-ACK mode). What counts as a duplicate, checked against the kernel
 * (test/drill/dsack-*.pkt):
 *   - a segment wholly below rcv_nxt (its FIN included): the whole segment,
 *     also when it fails the window check or PAWS (Linux tcp_send_dupack);
 *   - a segment starting below rcv_nxt: the part below rcv_nxt;
 *   - data already held out of order: the part of the segment inside the
 *     lowest range it overlaps (Linux keeps the first duplicate and extends
 *     it only by ranges touching it, which ranges merged in place never do).
 * Counters: TcpExtTCPDSACKOldSent when the range starts below rcv_nxt
 * (taken after an in-order segment advanced it), TcpExtTCPDSACKOfoSent
 * otherwise.
 */
import { seqGt, seqLt, seqSub } from '../wire/seq.js';
import { enterQuickAck, MAX_QUICKACKS, sendAck } from './output.js';
import { DSACK_NONE, DSACK_OLD, dsackKind, dsackSegs } from './recovery/dsack.js';
import { DSACK_NO_UNDO, DSACK_OLD_IGNORED } from './recovery/types.js';
import type { Tcb } from './tcb.js';
import type { TcpLayer } from './tcp.js';

/** Remember [seq, end) as the duplicate to report (Linux tcp_dsack_set). */
export function dsackSet(L: TcpLayer, t: Tcb, seq: number, end: number): void {
  if (!t.sackOk || !L.sysctl.v['net.ipv4.tcp_dsack'] || !seqLt(seq, end)) return;
  L.inc(seqLt(seq, t.rcvNxt) ? L.c.TcpExtTCPDSACKOldSent : L.c.TcpExtTCPDSACKOfoSent);
  t.dsack = true;
  t.dsackStart = seq >>> 0;
  t.dsackEnd = end >>> 0;
}

/**
 * Report [seq, end) too: set it when nothing is pending, else widen the
 * pending range when the two overlap or touch (Linux tcp_dsack_extend).
 */
export function dsackExtend(L: TcpLayer, t: Tcb, seq: number, end: number): void {
  if (!t.dsack) {
    dsackSet(L, t, seq, end);
    return;
  }
  if (seqGt(seq, t.dsackEnd) || seqGt(t.dsackStart, end)) return;
  if (seqLt(seq, t.dsackStart)) t.dsackStart = seq >>> 0;
  if (seqGt(end, t.dsackEnd)) t.dsackEnd = end >>> 0;
}

/**
 * A segment of `segLen` sequence numbers (data and FIN) at `seq` that is
 * dropped as unacceptable (sequence check, PAWS) is answered at once, never
 * rate-limited (Linux tcp_oow_rate_limited spares segments with data);
 * when it starts below rcv_nxt it is a retransmission we already have:
 * quick-ACK mode, TcpExtDelayedACKLost, and a D-SACK for the part below
 * rcv_nxt (Linux tcp_send_dupack).
 */
export function sendDupAck(L: TcpLayer, t: Tcb, seq: number, segLen: number): void {
  if (segLen > 0 && seqLt(seq, t.rcvNxt)) {
    L.inc(L.c.TcpExtDelayedACKLost);
    enterQuickAck(t, MAX_QUICKACKS);
    const end = (seq + segLen) >>> 0;
    dsackSet(L, t, seq, seqGt(end, t.rcvNxt) ? t.rcvNxt : end);
  }
  sendAck(L, t);
}

/** The duplicate part found by `oooDuplicate` (offsets past rcv_nxt); reused, no allocation. */
export const oooDup = { start: 0, end: 0 };

/**
 * Whether [at, end) (offsets past rcv_nxt) duplicates data held out of
 * order; if so `oooDup` holds its intersection with the lowest range it
 * overlaps. Call before storing the segment (storing merges the ranges).
 */
export function oooDuplicate(t: Tcb, at: number, end: number): boolean {
  const r = t.rcv;
  const st = r.oooStart;
  const en = r.oooEnd;
  for (let i = 0; i < r.oooCount; i++) {
    if (en[i] <= at) continue;
    if (st[i] >= end) return false;
    oooDup.start = Math.max(st[i], at);
    oooDup.end = Math.min(en[i], end);
    return true;
  }
  return false;
}

// ------------------------------------------------------------------ the sender side

/** `dsackReceived` result bits. */
export const DSACK_SEEN = 1;
/** The D-SACK reports the tail-loss probe's segment (Linux FLAG_DSACK_TLP). */
export const DSACK_TLP = 2;

/**
 * An ACK with SACK blocks arrived: if its first block is a D-SACK (RFC
 * 2883 §4, src/tcp/recovery/dsack.ts), count it as Linux's
 * tcp_check_dsack does (TcpExtTCPDSACKRecv below the ACK,
 * TcpExtTCPDSACKOfoRecv inside the second block; then
 * TcpExtTCPDSACKIgnoredDubious, or TcpExtTCPDSACKRecvSegs with the
 * segments it covers) and say whether it was believed and whether it
 * reports the loss probe. A believed one goes to the recovery module
 * (`onDsack`, for undo), which leaves the block out of its scoreboard
 * itself. `priorUna`: snd_una before this ACK.
 */
export function dsackReceived(
  L: TcpLayer,
  t: Tcb,
  blocks: Uint32Array,
  count: number,
  ack: number,
  priorUna: number,
): number {
  const kind = dsackKind(blocks, count, ack);
  if (kind === DSACK_NONE) return 0;
  const c = L.c;
  L.inc(kind === DSACK_OLD ? c.TcpExtTCPDSACKRecv : c.TcpExtTCPDSACKOfoRecv);
  const start = blocks[0];
  const end = blocks[1];
  const segs = dsackSegs(start, end, t.mss, t.maxWindow);
  if (segs === 0) {
    L.inc(c.TcpExtTCPDSACKIgnoredDubious);
    // Linux then takes it as an ordinary block, which below the ACK is invalid.
    if (kind === DSACK_OLD) L.inc(c.TcpExtTCPSACKDiscard);
    return 0;
  }
  let flags = 0;
  // One segment ending where the probe left snd_nxt: the probe arrived twice.
  if (seqSub(end, start) <= t.mss && t.tlpHighSeq >= 0 && end === t.tlpHighSeq) flags |= DSACK_TLP;
  t.dsackDups += segs;
  // More duplicates than we ever retransmitted: not to be believed.
  if (t.dsackDups > t.totalRetrans) {
    L.inc(c.TcpExtTCPDSACKIgnoredDubious);
    if (kind === DSACK_OLD) L.inc(c.TcpExtTCPSACKDiscard);
    return flags;
  }
  L.inc(c.TcpExtTCPDSACKRecvSegs, segs);
  if (t.rec !== null) {
    const v = t.rec.onDsack(start, end, segs, priorUna, ack);
    // Linux judges the block only with data outstanding (tcp_sacktag_write_queue).
    if (seqGt(t.sndNxt, priorUna)) {
      if (v === DSACK_NO_UNDO) L.inc(c.TcpExtTCPDSACKIgnoredNoUndo);
      else if (v === DSACK_OLD_IGNORED) L.inc(c.TcpExtTCPDSACKIgnoredOld);
    }
  }
  return flags | DSACK_SEEN;
}
