/**
 * Recognising a D-SACK (RFC 2883) in an arriving ACK, as the sender does.
 *
 * RFC 2883 §4: only the first SACK block can report a duplicate, and the
 * sender tells it apart from ordinary SACK information by where it lies:
 *   - below the cumulative ACK (`start < SEG.ACK`): the receiver got data it
 *     already had (Linux counts TcpExtTCPDSACKRecv);
 *   - otherwise inside the second block (`start >= start1 && end <= end1`):
 *     a duplicate of out-of-order data still held (TcpExtTCPDSACKOfoRecv).
 * Anything else is an ordinary SACK block. A D-SACK never describes data
 * newly received, so it must not be added to the scoreboard (an ofo D-SACK
 * lies inside the second block, which carries that information anyway).
 *
 * Like Linux (tcp_dsack_seen), a D-SACK is believed only when it is
 * plausible: a non-empty range no longer than the largest window the peer
 * ever offered, and no more duplicates reported over the connection than
 * segments we retransmitted (a receiver cannot see a duplicate we never
 * sent). Otherwise it is "dubious" (TcpExtTCPDSACKIgnoredDubious) and used
 * for nothing.
 */
import { seqGt, seqLt, seqSub } from '../../wire/seq.js';

export const DSACK_NONE = 0;
/** The first block lies (starts) below the cumulative ACK. */
export const DSACK_OLD = 1;
/** The first block lies inside the second one (duplicate of out-of-order data). */
export const DSACK_OFO = 2;

/** RFC 2883 §4: which kind of D-SACK the first of `count` blocks is (DSACK_NONE: an ordinary SACK). */
export function dsackKind(blocks: Uint32Array, count: number, ack: number): number {
  if (count <= 0) return DSACK_NONE;
  const s0 = blocks[0];
  const e0 = blocks[1];
  if (seqLt(s0, ack)) return DSACK_OLD;
  if (count > 1) {
    const s1 = blocks[2];
    const e1 = blocks[3];
    if (!seqGt(e0, e1) && !seqLt(s0, s1)) return DSACK_OFO;
  }
  return DSACK_NONE;
}

/**
 * Segments a D-SACK block reports (Linux tcp_dsack_seen): 0 when dubious
 * (empty or reversed range, or longer than `maxWindow`), else the block's
 * length in MSS-sized segments, at least 1.
 */
export function dsackSegs(start: number, end: number, mss: number, maxWindow: number): number {
  if (!seqLt(start, end)) return 0;
  const len = seqSub(end, start);
  if (len > maxWindow) return 0;
  return len > mss ? Math.ceil(len / mss) : 1;
}
