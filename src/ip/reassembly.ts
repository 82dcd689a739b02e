/**
 * Fragment reassembly for IPv4 (RFC 791 §3.2, RFC 815) and IPv6 (RFC 8200
 * §4.5), with the limits Linux applies:
 *
 * - Memory: every queued fragment is charged what Linux charges for it when
 *   it arrives over a TUN device (the skb's truesize: the frame plus
 *   headroom and shared info rounded up to the kmalloc bucket, plus the
 *   sk_buff), and every queue its own size; measured against the kernel
 *   (test/ip/kernel-compare.test.ts). While
 *   the total is above `ipfrag_high_thresh`, every arriving fragment is
 *   dropped and counted as a reassembly failure, as Linux's inet_frag_find
 *   refuses lookups above the threshold (since 4.17 there is no eviction
 *   down to low_thresh).
 * - Time: a queue lives `ipfrag_time` seconds (IPv6: `ip6frag_time`) from
 *   its first fragment. On expiry it is dropped (ReasmTimeout, ReasmFails)
 *   and, if the first fragment had arrived, ICMP Time Exceeded "fragment
 *   reassembly time exceeded" is sent (RFC 792, RFC 8200 §4.5).
 * - Overlaps: a fragment entirely inside data already queued is a duplicate
 *   and is dropped alone; any other overlap discards the whole queue
 *   (RFC 5722 for IPv6; Linux does the same for IPv4), counted as
 *   ReasmOverlaps and ReasmFails.
 * - A length that contradicts the last fragment's end discards the queue.
 *
 * The reassembled datagram is a fresh buffer holding the first fragment's
 * header (length and fragment fields fixed up; for IPv6 the Fragment header
 * removed) followed by the data, so the input path re-parses it as if it had
 * arrived whole.
 */
import type { Counters } from '../counters.js';
import type { TimerHandler, TimerWheel } from '../time/timer-wheel.js';
import { checksum } from '../wire/checksum.js';
import type { Ipv4Header } from '../wire/ipv4.js';
import type { Ipv6Header } from '../wire/ipv6.js';

/** Charged per queue (struct ipq / frag_queue), as measured on Linux 6.x. */
export const QUEUE_OVERHEAD = 256;

/**
 * The truesize Linux gives a received frame of `len` bytes: NET_SKB_PAD (64)
 * + data + skb_shared_info (320), rounded up to the kmalloc bucket, plus the
 * sk_buff itself (256).
 */
export function frameTruesize(len: number): number {
  const n = 64 + len + 320;
  let bucket = 512;
  while (bucket < n) bucket *= 2;
  return bucket + 256;
}

interface Frag {
  off: number;
  end: number;
  data: Uint8Array;
}

class FragQueue {
  family: 4 | 6 = 4;
  readonly src = new Uint8Array(16);
  readonly dst = new Uint8Array(16);
  id = 0;
  proto = 0;
  hash = 0;
  frags: Frag[] = [];
  /** Datagram payload length once the last fragment arrived, else -1. */
  total = -1;
  received = 0;
  mem = 0;
  /** Copy of the first fragment's header part (IPv4 header, or IPv6
   *  unfragmentable part), or null until offset 0 arrives. */
  head: Uint8Array | null = null;
  /** IPv6: offset in `head` of the byte that holds Next Header = 44. */
  nhField = 0;
  /** First fragment's packet (header + its data) for quoting in ICMP. */
  firstPkt: Uint8Array | null = null;
  ifname = '';
  timer = -1;
  slot = -1;
  next: FragQueue | null = null;
  live = false;
}

/** Called when a queue times out with its first fragment present. */
export type FragTimeoutSink = (family: 4 | 6, firstPkt: Uint8Array, ifname: string) => void;

export interface ReassemblyLimits {
  highThresh(family: 4 | 6): number;
  timeoutMs(family: 4 | 6): number;
}

export class Reassembler implements TimerHandler {
  private readonly buckets = new Map<number, FragQueue>();
  private readonly slots: (FragQueue | null)[] = [];
  private readonly freeSlots: number[] = [];
  /** Bytes charged, per family (Linux keeps one fqdir per family). */
  private readonly memUsed = [0, 0];
  private count = 0;
  private readonly c: Record<string, number>;
  private readonly counters: Counters;

  constructor(
    counters: Counters,
    private readonly timers: TimerWheel,
    private readonly limits: ReassemblyLimits,
    private readonly onTimeout: FragTimeoutSink,
  ) {
    this.counters = counters;
    const ids: Record<string, number> = {};
    for (const p of ['Ip', 'Ip6']) {
      for (const n of ['ReasmReqds', 'ReasmOKs', 'ReasmFails', 'ReasmTimeout'])
        ids[p + n] = counters.id(p + n);
    }
    ids.IpExtReasmOverlaps = counters.id('IpExtReasmOverlaps');
    this.c = ids;
  }

  /** Queues in progress. */
  get queues(): number {
    return this.count;
  }

  /** Bytes charged for `family`'s queued fragments. */
  memory(family: 4 | 6): number {
    return this.memUsed[family === 4 ? 0 : 1];
  }

  /**
   * Add an IPv4 fragment. `pkt[off .. off+h.totalLen)` is the whole packet
   * (validated by parseIpv4). Returns the reassembled datagram when this
   * fragment completes it, else null.
   */
  addV4(h: Ipv4Header, pkt: Uint8Array, off: number, ifname: string): Uint8Array | null {
    this.counters.inc(this.c.IpReasmReqds);
    const hl = h.headerLen;
    let len = h.totalLen - hl;
    // Linux trims a non-last fragment to a multiple of 8 (ip_frag_queue).
    if (h.mf) len &= ~7;
    const q = this.find(4, h.src, h.dst, h.id, h.proto);
    if (q === null) return null;
    const foff = h.fragOffset;
    const data = pkt.subarray(off + hl, off + hl + len);
    const verdict = this.insert(q, foff, foff + len, !h.mf, data, h.totalLen);
    if (verdict !== 0) return null;
    if (foff === 0 && q.head === null) {
      q.head = pkt.slice(off, off + hl);
      q.firstPkt = pkt.slice(off, off + h.totalLen);
      q.ifname = ifname;
    }
    if (!this.complete(q)) return null;
    const head = q.head!;
    const out = new Uint8Array(head.length + q.total);
    out.set(head, 0);
    this.gather(q, out, head.length);
    const tot = out.length;
    out[2] = tot >> 8;
    out[3] = tot;
    out[6] = head[6] & 0xc0; // MF and offset cleared; DF/RF kept from the first fragment
    out[7] = 0;
    out[10] = 0;
    out[11] = 0;
    const c = checksum(out, 0, head.length);
    out[10] = c >> 8;
    out[11] = c;
    this.counters.inc(this.c.IpReasmOKs);
    this.destroy(q);
    return tot > 65535 ? null : out;
  }

  /**
   * Add an IPv6 fragment (h.hasFragment). `pkt[off .. off+40+h.payloadLen)`
   * is the whole packet. `nhField` is the offset (from the packet start) of
   * the Next Header byte that announced the Fragment header. Returns the
   * reassembled packet or null. Returns 'bad-length' when a non-last
   * fragment's length is not a multiple of 8 (the caller answers with a
   * Parameter Problem, RFC 8200 §4.5).
   */
  addV6(
    h: Ipv6Header,
    pkt: Uint8Array,
    off: number,
    nhField: number,
    ifname: string,
  ): Uint8Array | null | 'bad-length' {
    this.counters.inc(this.c.Ip6ReasmReqds);
    const end0 = 40 + h.payloadLen;
    const len = end0 - h.fragPayloadOff;
    if (h.mf && (len & 7) !== 0) {
      this.counters.inc(this.c.Ip6ReasmFails);
      return 'bad-length';
    }
    const q = this.find(6, h.src, h.dst, h.fragId, 0);
    if (q === null) return null;
    const foff = h.fragOffset;
    const data = pkt.subarray(off + h.fragPayloadOff, off + end0);
    const verdict = this.insert(q, foff, foff + len, !h.mf, data, end0);
    if (verdict !== 0) return null;
    if (foff === 0 && q.head === null) {
      q.head = pkt.slice(off, off + h.fragHeaderOff);
      q.head[nhField] = h.proto;
      q.nhField = nhField;
      q.firstPkt = pkt.slice(off, off + end0);
      q.ifname = ifname;
    }
    if (!this.complete(q)) return null;
    const head = q.head!;
    const out = new Uint8Array(head.length + q.total);
    out.set(head, 0);
    this.gather(q, out, head.length);
    const plen = out.length - 40;
    this.counters.inc(this.c.Ip6ReasmOKs);
    this.destroy(q);
    if (plen > 65535) return null;
    out[4] = plen >> 8;
    out[5] = plen;
    return out;
  }

  /** Find or create the queue; null (counted) when over the memory limit. */
  private find(family: 4 | 6, src: Uint8Array, dst: Uint8Array, id: number, proto: number): FragQueue | null {
    const fi = family === 4 ? 0 : 1;
    if (this.memUsed[fi] > this.limits.highThresh(family)) {
      this.counters.inc(family === 4 ? this.c.IpReasmFails : this.c.Ip6ReasmFails);
      return null;
    }
    const alen = family === 4 ? 4 : 16;
    let hsh = (id ^ (proto << 24) ^ family) >>> 0;
    for (let i = 0; i < alen; i++) hsh = (Math.imul(hsh ^ src[i], 0x01000193) ^ dst[i]) >>> 0;
    hsh = Math.imul(hsh, 0x9e3779b1) >>> 0;
    for (let q = this.buckets.get(hsh) ?? null; q !== null; q = q.next) {
      if (q.family !== family || q.id !== id || q.proto !== proto) continue;
      let same = true;
      for (let i = 0; i < alen && same; i++) same = q.src[i] === src[i] && q.dst[i] === dst[i];
      if (same) return q;
    }
    const q = new FragQueue();
    q.family = family;
    q.src.set(src.subarray(0, alen));
    q.dst.set(dst.subarray(0, alen));
    q.id = id;
    q.proto = proto;
    q.hash = hsh;
    q.live = true;
    q.next = this.buckets.get(hsh) ?? null;
    this.buckets.set(hsh, q);
    q.slot = this.freeSlots.length > 0 ? this.freeSlots.pop()! : this.slots.length;
    this.slots[q.slot] = q;
    q.timer = this.timers.alloc(this, q.slot);
    this.timers.arm(q.timer, this.timers.now + this.limits.timeoutMs(family));
    q.mem = QUEUE_OVERHEAD;
    this.memUsed[fi] += QUEUE_OVERHEAD;
    this.count++;
    return q;
  }

  /** 0 = queued; 1 = dropped (duplicate); 2 = queue discarded. */
  private insert(
    q: FragQueue,
    off: number,
    end: number,
    last: boolean,
    data: Uint8Array,
    frameLen: number,
  ): number {
    const v4 = q.family === 4;
    const fails = v4 ? this.c.IpReasmFails : this.c.Ip6ReasmFails;
    // RFC 791 / Linux ip_frag_queue: the end must agree with the last fragment.
    if (last) {
      if ((q.total >= 0 && end !== q.total) || this.maxEnd(q) > end) {
        this.counters.inc(fails);
        this.destroy(q);
        return 2;
      }
      q.total = end;
    } else if (q.total >= 0 && end > q.total) {
      this.counters.inc(fails);
      this.destroy(q);
      return 2;
    }
    if (end <= off) {
      // An empty non-last fragment carries nothing; Linux discards it.
      this.counters.inc(fails);
      return 1;
    }
    const fs = q.frags;
    let i = 0;
    while (i < fs.length && fs[i].end <= off) i++;
    if (i < fs.length && fs[i].off < end) {
      // Overlaps fragment i. A duplicate lies within a contiguous run of queued data.
      let runStart = fs[i].off;
      let runEnd = fs[i].end;
      let j = i + 1;
      while (j < fs.length && fs[j].off === runEnd) runEnd = fs[j++].end;
      for (let k = i; k > 0 && fs[k - 1].end === fs[k].off; k--) runStart = fs[k - 1].off;
      if (off >= runStart && end <= runEnd) return 1;
      if (v4) this.counters.inc(this.c.IpExtReasmOverlaps);
      this.counters.inc(fails);
      this.destroy(q);
      return 2;
    }
    fs.splice(i, 0, { off, end, data: data.slice() });
    q.received += end - off;
    const cost = frameTruesize(frameLen);
    q.mem += cost;
    this.memUsed[v4 ? 0 : 1] += cost;
    return 0;
  }

  private maxEnd(q: FragQueue): number {
    const fs = q.frags;
    return fs.length === 0 ? 0 : fs[fs.length - 1].end;
  }

  private complete(q: FragQueue): boolean {
    return q.total >= 0 && q.head !== null && q.received === q.total;
  }

  private gather(q: FragQueue, out: Uint8Array, at: number): void {
    for (const f of q.frags) out.set(f.data, at + f.off);
  }

  private destroy(q: FragQueue): void {
    if (!q.live) return;
    q.live = false;
    let p = this.buckets.get(q.hash) ?? null;
    if (p === q) {
      if (q.next === null) this.buckets.delete(q.hash);
      else this.buckets.set(q.hash, q.next);
    } else {
      while (p !== null && p.next !== q) p = p.next;
      if (p !== null) p.next = q.next;
    }
    this.timers.free(q.timer);
    this.slots[q.slot] = null;
    this.freeSlots.push(q.slot);
    this.memUsed[q.family === 4 ? 0 : 1] -= q.mem;
    q.frags = [];
    this.count--;
  }

  onTimer(data: number): void {
    const q = this.slots[data];
    if (!q) return;
    const v4 = q.family === 4;
    this.counters.inc(v4 ? this.c.IpReasmTimeout : this.c.Ip6ReasmTimeout);
    this.counters.inc(v4 ? this.c.IpReasmFails : this.c.Ip6ReasmFails);
    const first = q.firstPkt;
    const ifname = q.ifname;
    this.destroy(q);
    if (first !== null) this.onTimeout(q.family, first, ifname);
  }
}
