/**
 * Receive-buffer autotuning (Linux tcp_rcv_space_adjust, "dynamic right
 * sizing", net.ipv4.tcp_moderate_rcvbuf): once per receiver-measured RTT,
 * if the application read more than last time, grow SO_RCVBUF (up to
 * tcp_rmem[2]) so the window can cover twice what one RTT delivered plus
 * room for the sender's slow-start growth. SO_RCVBUF set by the user turns
 * it off, as in Linux.
 *
 * The receiver's RTT (Linux rcv_rtt_est) comes from timestamps (now −
 * TSecr on full-sized segments) or, without them, from how long one window
 * of data takes to arrive.
 */
import { seqGeq } from '../wire/seq.js';
import { tsNow } from './output.js';
import type { Tcb } from './tcb.js';
import type { TcpLayer } from './tcp.js';

/** Called at establishment (Linux tcp_init_buffer_space). */
export function rcvSpaceInit(t: Tcb, now: number): void {
  t.rcvqSpace = Math.min(t.rcvWnd, 10 * t.advMss);
  t.rcvqRead = t.bytesRead;
  t.rcvqTime = now;
}

/** An in-order data segment of `len` bytes arrived (Linux tcp_rcv_rtt_measure(_ts)). */
export function rcvRttMeasure(L: TcpLayer, t: Tcb, len: number, hasTs: boolean, tsEcr: number): void {
  const now = L.now;
  if (t.tsOk && hasTs) {
    if (tsEcr === 0 || tsEcr === t.rcvRttLastTsecr) return;
    t.rcvRttLastTsecr = tsEcr;
    if (len < t.rcvMss) return;
    const d = (tsNow(L, t) - tsEcr) | 0;
    if (d >= 0) rcvRttUpdate(t, d, false);
    return;
  }
  if (t.rcvRttTime < 0) {
    t.rcvRttSeq = (t.rcvNxt + t.rcvWnd) >>> 0;
    t.rcvRttTime = now;
    return;
  }
  if (!seqGeq(t.rcvNxt, t.rcvRttSeq)) return;
  rcvRttUpdate(t, now - t.rcvRttTime, true);
  t.rcvRttSeq = (t.rcvNxt + t.rcvWnd) >>> 0;
  t.rcvRttTime = now;
}

/** Linux tcp_rcv_rtt_update: a 1/8 moving average; window-based samples only ever lower it. */
function rcvRttUpdate(t: Tcb, sample: number, winDep: boolean): void {
  const m = sample > 0 ? sample : 0.001;
  if (t.rcvRtt === 0) t.rcvRtt = m;
  else if (!winDep) t.rcvRtt += (m - t.rcvRtt) / 8;
  else if (m < t.rcvRtt) t.rcvRtt = m;
}

/** The application read data: maybe grow the receive buffer (Linux tcp_rcv_space_adjust). */
export function rcvSpaceAdjust(L: TcpLayer, t: Tcb): void {
  const now = L.now;
  const rtt = t.rcvRtt;
  if (rtt === 0 || now - t.rcvqTime < rtt) return;
  const copied = t.bytesRead - t.rcvqRead;
  if (copied > t.rcvqSpace) {
    const space = t.rcvqSpace > 0 ? t.rcvqSpace : 1;
    let rcvwin = 2 * copied + 16 * t.advMss;
    const grow = (rcvwin * (copied - space)) / space;
    rcvwin += 2 * grow;
    const v = L.sysctl.v;
    if (v['net.ipv4.tcp_moderate_rcvbuf'] && !t.rcvBufLocked) {
      // tcp_space_from_win with the default ratio of one half.
      const rcvbuf = Math.min(Math.floor(rcvwin * 2), v['net.ipv4.tcp_rmem'][2]);
      if (rcvbuf > t.rcvBuf) t.rcvBuf = rcvbuf;
    }
    t.rcvqSpace = copied;
  }
  t.rcvqRead = t.bytesRead;
  t.rcvqTime = now;
}
