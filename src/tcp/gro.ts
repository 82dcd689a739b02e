/**
 * Acknowledging a receive burst as Linux acknowledges a GRO packet.
 *
 * A Linux NIC driver hands the frames of one NAPI poll to GRO, which merges
 * the in-order data segments of a flow into one packet until a segment with
 * PSH (or FIN, URG, SYN, RST) ends it, the merged packet reaches 64 KiB
 * (gro_max_size), or the poll ends; TCP then processes that packet once and
 * makes one ACK decision for it (__tcp_ack_snd_check: more than one full
 * frame received -> ACK now). The effect on the wire is one ACK per merged
 * packet instead of one per two segments.
 *
 * usnet processes every segment on its own but defers the ACK decision the
 * same way: while a link delivers a burst (Stack.beginBurst/endBurst, called
 * by World around link deliveries and by the stack around its own run), an
 * in-order data segment without those flags leaves its ACK decision to the
 * segment that ends the merge or to the end of the burst. A frame delivered
 * on its own (the drill targets inject one at a time) is acknowledged as
 * before. `new Stack({ gro: false })` turns this off, like `ethtool -K dev gro off`.
 */
import { ackSndCheck } from './output.js';
import { FIN, PSH, RST, SYN, TcpState, URG } from './state.js';
import type { Tcb } from './tcb.js';
import type { TcpLayer } from './tcp.js';

/** Linux GRO_LEGACY_MAX_SIZE: a merged packet holds at most 64 KiB. */
const GRO_MAX_BYTES = 65536;

const ENDS_MERGE = PSH | FIN | URG | SYN | RST;

/**
 * During a burst: may the ACK decision for this data segment (`flags`, `len`
 * payload bytes, already queued) wait for the end of the merge? If so `t` is
 * remembered in `L.groAcks` and true is returned.
 */
export function groDefers(L: TcpLayer, t: Tcb, flags: number, len: number): boolean {
  if (len === 0 || flags & ENDS_MERGE) return false;
  // Out-of-order data, a D-SACK or a filled hole are ACKed at once (GRO would
  // not have merged such a segment with the ones before it either).
  if (!t.ackPending || t.ackNow || t.dsack || t.rcv.oooCount > 0) return false;
  if (((t.rcvNxt - t.rcvWup) | 0) >= GRO_MAX_BYTES) return false;
  if (!t.groPending) {
    t.groPending = true;
    L.groAcks.push(t);
  }
  return true;
}

/** End of a burst: the ACK decisions left waiting are made now. */
export function groFlush(L: TcpLayer): void {
  const q = L.groAcks;
  for (let i = 0; i < q.length; i++) {
    const t = q[i];
    if (!t.groPending) continue;
    t.groPending = false;
    if (t.state !== TcpState.CLOSED) ackSndCheck(L, t, false);
  }
  q.length = 0;
}
