/**
 * ICMP errors about a connection's segments (RFC 9293 §3.9 "soft errors",
 * RFC 5927 checks, Linux tcp_v4_err): the quoted sequence number must be in
 * [snd_una, snd_nxt); frag-needed / packet-too-big lowers the MSS; a hard
 * error aborts a connection still in SYN_SENT, otherwise it is remembered
 * as the soft error reported on timeout.
 */

import { errnoCode } from '../errno.js';
import type { IcmpErr } from '../ip/types.js';
import { seqGeq, seqLt } from '../wire/seq.js';
import { advMssFor, syncMss, tcpDone } from './conn.js';
import { retransmitAt, tcpWrite } from './output.js';
import { TcpState } from './state.js';
import type { Tcb } from './tcb.js';
import type { TcpLayer } from './tcp.js';

export function handleIcmp(L: TcpLayer, t: Tcb, err: IcmpErr): void {
  if (err.len < 8) return;
  const b = err.buf;
  const o = err.off;
  const seq = ((b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7]) >>> 0;
  if (t.state !== TcpState.SYN_SENT && !(seqGeq(seq, t.sndUna) && seqLt(seq, t.sndMax))) {
    L.inc(L.c.TcpExtOutOfWindowIcmps);
    return;
  }
  if (err.mtu > 0) {
    // the wire family (err.family): IPv4 for a v4-mapped connection of an AF_INET6 socket
    const m = advMssFor(err.mtu, err.family, 0);
    if (m < t.peerMss || m < t.advMss) {
      t.peerMss = Math.min(t.peerMss, m);
      syncMss(t);
      // Linux tcp_simple_retransmit: resend the head at the new size at once rather than wait for the RTO.
      if (t.flight > 0 && t.state !== TcpState.SYN_SENT) retransmitAt(L, t, t.sndUna);
      tcpWrite(L, t);
    }
    return;
  }
  const code = errnoCode(err.errno) ?? 'EHOSTUNREACH';
  if (t.state === TcpState.SYN_SENT && err.fatal) {
    tcpDone(L, t, code);
    return;
  }
  t.softError = code;
}
