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
import { freeSpace, tsNow } from './output.js';
import { spaceFromWinRatio, winFromSpaceRatio } from './rcv-mem.js';
import type { Tcb } from './tcb.js';
import type { TcpLayer } from './tcp.js';

/**
 * Called at establishment (Linux tcp_init_buffer_space): the window clamp
 * is the buffer's full window less one segment held in reserve
 * (tcp_app_win 31), and rcv_ssthresh starts no higher.
 */
export function rcvSpaceInit(t: Tcb, now: number): void {
  // A control block may carry a second connection (connect() again): receive memory starts empty.
  t.rmem.clear();
  const maxwin = winFromSpaceRatio(t.rcvBuf, t.scalingRatio);
  let clamp = t.windowClamp > 0 ? t.windowClamp : 0x7fffffff;
  if (clamp >= maxwin) {
    clamp = maxwin;
    if (maxwin > 4 * t.advMss) clamp = Math.max(maxwin, 4 * t.advMss);
  }
  if (clamp > 2 * t.advMss && clamp + t.advMss > maxwin) clamp = Math.max(2 * t.advMss, maxwin - t.advMss);
  t.windowClamp = clamp;
  if (t.rcvSsthresh > clamp) t.rcvSsthresh = clamp;
  t.rcvqSpace = Math.min(t.rcvSsthresh, t.rcvWnd, 10 * t.advMss);
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
      const rcvbuf = Math.min(spaceFromWinRatio(rcvwin, t.scalingRatio), v['net.ipv4.tcp_rmem'][2]);
      if (rcvbuf > t.rcvBuf) {
        t.rcvBuf = rcvbuf;
        // The window clamp follows (Linux tcp_rcvbuf_grow).
        t.windowClamp = winFromSpaceRatio(rcvbuf, t.scalingRatio);
      }
    }
    t.rcvqSpace = copied;
  }
  t.rcvqRead = t.bytesRead;
  t.rcvqTime = now;
}

/** Linux tcp_set_window_clamp: a lower clamp pulls rcv_ssthresh down, a higher one lets it up to the window offered. */
function setWindowClamp(t: Tcb, val: number): void {
  const old = t.windowClamp;
  const clamp = Math.max(2304, val); // SOCK_MIN_RCVBUF / 2
  t.windowClamp = clamp;
  if (old > 0 && clamp < old) {
    if (t.rcvSsthresh > clamp) t.rcvSsthresh = clamp;
  } else {
    const s = Math.min(t.rcvWnd, clamp);
    if (s > t.rcvSsthresh) t.rcvSsthresh = s;
  }
}

/**
 * An in-order segment of `len` payload bytes and `truesize` bytes of memory
 * arrived, before rcv_mss is updated (Linux tcp_measure_rcv_mss): a full
 * segment of a new size re-measures scaling_ratio (payload per 256 bytes of
 * memory), and the window clamp follows the buffer at the new ratio.
 */
export function measureScalingRatio(t: Tcb, len: number, truesize: number): void {
  if (len < t.rcvMss || len === t.rcvMss || truesize <= 0) return;
  const ratio = Math.max(1, Math.min(255, Math.floor((len * 256) / truesize)));
  if (ratio === t.scalingRatio) return;
  t.scalingRatio = ratio;
  setWindowClamp(t, winFromSpaceRatio(t.rcvBuf, ratio));
  if (t.windowClamp < t.rcvSsthresh) t.rcvSsthresh = t.windowClamp;
}

/**
 * Linux tcp_grow_window (segments of 128 bytes or more): rcv_ssthresh, the
 * cap on the offered window, grows by two segments while the free memory
 * and the clamp allow, when segments of this size use memory well enough.
 */
export function growWindow(L: TcpLayer, t: Tcb, len: number, truesize: number): void {
  if (len < 128) return;
  const room = Math.min(t.windowClamp > 0 ? t.windowClamp : 0x7fffffff, freeSpace(t)) - t.rcvSsthresh;
  if (room <= 0) return;
  const ratio = t.scalingRatio;
  let incr: number;
  if (winFromSpaceRatio(truesize, ratio) <= len) incr = 2 * t.advMss;
  else {
    // __tcp_grow_window: worse ratios grow only while rcv_ssthresh is small.
    incr = 0;
    let ts = winFromSpaceRatio(truesize, ratio) >> 1;
    let window = winFromSpaceRatio(L.sysctl.v['net.ipv4.tcp_rmem'][2], ratio) >> 1;
    while (t.rcvSsthresh <= window) {
      if (ts <= len) {
        incr = 2 * t.rcvMss;
        break;
      }
      ts >>= 1;
      window >>= 1;
    }
  }
  if (incr > 0) {
    incr = Math.max(incr, 2 * len);
    t.rcvSsthresh += Math.min(room, incr);
    t.quick |= 1;
  }
}

/**
 * Linux tcp_prune_queue, when a segment arrives with receive memory over
 * SO_RCVBUF: tcp_clamp_window first (quick ACKs stop; an unlocked buffer
 * grows to what is in use, up to tcp_rmem[2]; still over, rcv_ssthresh
 * drops to two segments), then the receive queue is collapsed into compact
 * skbs. Returns false when memory stays over SO_RCVBUF: the caller drops.
 * (Linux would also collapse and then prune the out-of-order queue; usnet
 * keeps it.)
 */
export function rcvPrune(L: TcpLayer, t: Tcb): boolean {
  const used = t.rmem.total;
  if (used >= t.rcvBuf) {
    t.quick = 0;
    const rmem2 = L.sysctl.v['net.ipv4.tcp_rmem'][2];
    if (t.rcvBuf < rmem2 && !t.rcvBufLocked) t.rcvBuf = Math.min(used, rmem2);
    if (used > t.rcvBuf)
      t.rcvSsthresh = Math.min(t.windowClamp > 0 ? t.windowClamp : t.rcvSsthresh, 2 * t.advMss);
  }
  if (used <= t.rcvBuf) return true;
  t.rmem.collapse((t.rcvNxt - t.rcv.readable - (t.finRcvd ? 1 : 0)) >>> 0, t.scalingRatio);
  return t.rmem.total <= t.rcvBuf;
}
