/**
 * Receive memory as Linux charges it (sk_rmem_alloc): every received
 * segment is an skb whose truesize — not its payload — counts against
 * SO_RCVBUF, and the window offered is what the free memory would hold at
 * the connection's payload/truesize ratio (tcp_win_from_space with
 * scaling_ratio, Linux 6.x). Measured with the drill kernel target
 * (`ss -tm` after each segment, test/drill/window-*.pkt):
 *
 * - a segment arriving through a TUN device is one skb: a head of
 *   NET_SKB_PAD (64) + the IP packet + skb_shared_info (320) bytes, taken
 *   from the 576-byte small-head cache or the next power-of-two kmalloc
 *   size, plus 256 for the sk_buff: 832 for 100 bytes of payload, 1280 for
 *   500, 2304 for 1000..1460, 4352 for 3000; a packet too big for a one-page
 *   head (over 3712 bytes) fills a page head and carries the rest in whole
 *   pages: 8448 for 5000, 16640 for 12000, 41216 for 39000, 61696 for 60000;
 * - a segment that fits the tail room of the previous skb of the same queue
 *   is copied into it and charges nothing (tcp_try_coalesce);
 * - an skb is freed when the application has read all of it (a partial
 *   read frees nothing); out-of-order skbs already covered when the hole
 *   fills are freed at once.
 */
import { seqGt, seqLeq, seqLt } from '../wire/seq.js';

const NET_SKB_PAD = 64;
const SHINFO = 320;
const SKB_STRUCT = 256;
const SMALL_HEAD = 576;
/** Linux SKB_MAX_ORDER(0, 0): the payload of one collapsed skb. */
const COLLAPSE_MAX = 4096 - 320;

/** Linux TCP_RMEM_TO_WIN_SCALE: scaling_ratio is a fraction of 256. */
export const RMEM_TO_WIN_SCALE = 8;
/** TCP_DEFAULT_SCALING_RATIO: one half until a segment says better. */
export const DEFAULT_SCALING_RATIO = 1 << (RMEM_TO_WIN_SCALE - 1);

const PAGE = 4096;
/** Linux SKB_MAX_HEAD: the most a one-page head holds (tun's good_linear). */
const MAX_LINEAR = PAGE - NET_SKB_PAD - SHINFO;

/** The buffer a received IP packet of `pktLen` bytes takes (kmalloc'ed skb head, then whole pages). */
function allocOf(pktLen: number): number {
  if (pktLen > MAX_LINEAR) return PAGE + Math.ceil((pktLen - MAX_LINEAR) / PAGE) * PAGE;
  const need = NET_SKB_PAD + pktLen + SHINFO;
  if (need <= SMALL_HEAD) return SMALL_HEAD;
  let a = 1024;
  while (a < need) a *= 2;
  return a;
}

/** skb->truesize of a received IP packet of `pktLen` bytes. */
export function truesizeOf(pktLen: number): number {
  return allocOf(pktLen) + SKB_STRUCT;
}

/** Room left behind the packet in its skb head (what a later segment may be copied into); none with pages. */
function tailroomOf(pktLen: number): number {
  return pktLen > MAX_LINEAR ? 0 : allocOf(pktLen) - NET_SKB_PAD - pktLen - SHINFO;
}

/** Linux __tcp_win_from_space: the window `space` bytes of memory hold at `ratio`/256 payload. */
export function winFromSpaceRatio(space: number, ratio: number): number {
  return space > 0 ? Math.floor((space * ratio) / 256) : 0;
}

/** Linux tcp_space_from_win: the memory a window of `win` bytes needs at `ratio`. */
export function spaceFromWinRatio(win: number, ratio: number): number {
  return ratio > 0 ? Math.floor((win * 256) / ratio) : win * 2;
}

const NO_SKBS = new Uint32Array(0);

export class RcvMem {
  /** Bytes charged (Linux sk_rmem_alloc). */
  total = 0;
  // In-order skbs not yet read to their end: a ring of (end seq, truesize).
  // Shared empty arrays until the first skb (push() replaces them; nothing
  // reads or writes them while len is 0): two fewer allocations per
  // control block, ~3% of a connections-per-second run.
  private end = NO_SKBS;
  private size = NO_SKBS;
  private head = 0;
  private len = 0;
  /** Where the first in-order skb starts (it may be partly read). */
  private headStart = 0;
  /** Tail room of the last in-order skb, and the sequence number it ends at. */
  private tailRoom = 0;
  private tailEnd = 0;
  // Out-of-order skbs: start, end, truesize, tail room (a short unsorted list).
  private readonly oStart: number[] = [];
  private readonly oEnd: number[] = [];
  private readonly oSize: number[] = [];
  private readonly oRoom: number[] = [];

  /** In-order data [seq, end) arrived in a packet of `pktLen` bytes; returns the truesize charged. */
  inOrder(seq: number, end: number, pktLen: number): number {
    const n = (end - seq) | 0;
    if (this.len > 0 && this.tailEnd === seq >>> 0 && n <= this.tailRoom) {
      this.tailRoom -= n;
      this.tailEnd = end >>> 0;
      this.end[(this.head + this.len - 1) & (this.end.length - 1)] = end >>> 0;
      return 0;
    }
    const ts = truesizeOf(pktLen);
    this.push(seq, end, ts);
    this.tailRoom = tailroomOf(pktLen);
    this.tailEnd = end >>> 0;
    return ts;
  }

  /** Out-of-order data [seq, end) arrived in a packet of `pktLen` bytes. */
  outOfOrder(seq: number, end: number, pktLen: number): void {
    const n = (end - seq) | 0;
    for (let i = 0; i < this.oStart.length; i++) {
      if (this.oEnd[i] === seq >>> 0 && n <= this.oRoom[i]) {
        this.oRoom[i] -= n;
        this.oEnd[i] = end >>> 0;
        return;
      }
    }
    const ts = truesizeOf(pktLen);
    this.oStart.push(seq >>> 0);
    this.oEnd.push(end >>> 0);
    this.oSize.push(ts);
    this.oRoom.push(tailroomOf(pktLen));
    this.total += ts;
  }

  /**
   * rcv_nxt moved to `rcvNxt` after in-order data ending at `inEnd`:
   * out-of-order skbs below it join the receive queue in order (Linux
   * tcp_ofo_queue), those the new data already covered are freed.
   */
  advance(inEnd: number, rcvNxt: number): void {
    for (;;) {
      let best = -1;
      for (let i = 0; i < this.oStart.length; i++) {
        if (seqLt(this.oStart[i], rcvNxt) && (best < 0 || seqLt(this.oStart[i], this.oStart[best]))) best = i;
      }
      if (best < 0) return;
      const s = this.oStart[best];
      const e = this.oEnd[best];
      const ts = this.oSize[best];
      const room = this.oRoom[best];
      this.removeOoo(best);
      if (seqLeq(e, inEnd)) {
        this.total -= ts;
        continue;
      }
      const from = seqGt(s, this.tailEnd) || this.len === 0 ? s : this.tailEnd;
      const n = (e - from) | 0;
      if (this.len > 0 && seqLeq(s, this.tailEnd) && n <= this.tailRoom) {
        this.tailRoom -= n;
        this.tailEnd = e;
        this.end[(this.head + this.len - 1) & (this.end.length - 1)] = e;
        this.total -= ts;
        continue;
      }
      this.total -= ts;
      this.push(from, e, ts);
      this.tailRoom = room;
      this.tailEnd = e;
    }
  }

  /** The application has read everything before `readSeq`: free the skbs it finished. */
  release(readSeq: number): void {
    while (this.len > 0) {
      const i = this.head & (this.end.length - 1);
      if (!seqLeq(this.end[i], readSeq)) break;
      this.total -= this.size[i];
      this.headStart = this.end[i];
      this.head = (this.head + 1) & (this.end.length - 1);
      this.len--;
    }
  }

  /** Everything is gone (abort, or data discarded on SHUT_RD). */
  clear(): void {
    this.total = 0;
    this.head = 0;
    this.len = 0;
    this.tailRoom = 0;
    this.oStart.length = 0;
    this.oEnd.length = 0;
    this.oSize.length = 0;
    this.oRoom.length = 0;
  }

  private removeOoo(i: number): void {
    const last = this.oStart.length - 1;
    this.oStart[i] = this.oStart[last];
    this.oEnd[i] = this.oEnd[last];
    this.oSize[i] = this.oSize[last];
    this.oRoom[i] = this.oRoom[last];
    this.oStart.pop();
    this.oEnd.pop();
    this.oSize.pop();
    this.oRoom.pop();
  }

  /**
   * Linux tcp_collapse of the receive queue (from tcp_prune_queue, memory
   * over SO_RCVBUF): from the first skb that is partly read or wastes memory
   * (its truesize would hold a bigger window than its payload at `ratio`)
   * to the end, the unread bytes are copied into compact skbs of at most
   * SKB_MAX_ORDER(0, 0) = 3776 bytes. Returns the bytes of memory freed.
   */
  collapse(readSeq: number, ratio: number): number {
    const before = this.total;
    const mask = this.end.length - 1;
    let start = this.headStart;
    let from = -1;
    for (let k = 0; k < this.len; k++) {
      const j = (this.head + k) & mask;
      const e = this.end[j];
      const bytes = (e - start) | 0;
      if (winFromSpaceRatio(this.size[j], ratio) > bytes || seqLt(start, readSeq)) {
        from = k;
        break;
      }
      start = e;
    }
    if (from < 0) return 0;
    const last = this.end[(this.head + this.len - 1) & mask];
    for (let k = from; k < this.len; k++) this.total -= this.size[(this.head + k) & mask];
    this.len = from;
    let s = seqLt(start, readSeq) ? readSeq >>> 0 : start;
    while (seqLt(s, last)) {
      const copy = Math.min(COLLAPSE_MAX, (last - s) | 0);
      const need = copy + SHINFO;
      let alloc = SMALL_HEAD;
      if (need > SMALL_HEAD) {
        alloc = 1024;
        while (alloc < need) alloc *= 2;
      }
      this.push(s, (s + copy) >>> 0, alloc + SKB_STRUCT);
      s = (s + copy) >>> 0;
      this.tailRoom = alloc - SHINFO - copy;
      this.tailEnd = s;
    }
    return before - this.total;
  }

  private push(start: number, end: number, ts: number): void {
    if (this.len === this.end.length) {
      const n = this.end.length === 0 ? 8 : this.end.length * 2;
      const e = new Uint32Array(n);
      const s = new Uint32Array(n);
      for (let k = 0; k < this.len; k++) {
        const j = (this.head + k) & (this.end.length - 1);
        e[k] = this.end[j];
        s[k] = this.size[j];
      }
      this.end = e;
      this.size = s;
      this.head = 0;
    }
    if (this.len === 0) this.headStart = start >>> 0;
    const j = (this.head + this.len) & (this.end.length - 1);
    this.end[j] = end >>> 0;
    this.size[j] = ts;
    this.len++;
    this.total += ts;
  }
}
