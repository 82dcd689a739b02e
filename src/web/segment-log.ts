/**
 * tcpdump-style text for the packets passing a link, for pages and logs:
 * a `PacketSink` (src/wire/pcap.ts) that a PcapTap feeds, so the same tap
 * that records a pcap can also print. Lines look like `tcpdump -n` with
 * times relative to the start:
 *
 *   0.025310 IP 198.18.0.1.40312 > 198.18.0.2.80: Flags [S], seq 3312948811, win 64240,
 *            options [mss 1460,sackOK,TS val 2181957470 ecr 0,nop,wscale 7], length 0
 *
 * As tcpdump does, sequence numbers are absolute on SYNs and relative to the
 * ISN of their direction afterwards (ack: relative to the other direction).
 * Not a packet path: strings and a Map per connection are fine here.
 */
import { formatAddr } from '../wire/addr.js';
import { newIpv4Header, parseIpv4 } from '../wire/ipv4.js';
import { newIpv6Header, parseIpv6 } from '../wire/ipv6.js';
import type { PacketSink } from '../wire/pcap.js';
import { DIR_IN } from '../wire/pcap.js';
import { newTcpHeader, parseTcp, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../wire/tcp.js';
import { parseTcpOptionList } from '../wire/tcp-options.js';
import { tcpFlagsText, tcpOptionsText } from '../wire/tcpdump.js';

export interface SegmentLine {
  /** Seconds since the first packet (or `origin`). */
  time: number;
  /** DIR_IN / DIR_OUT as seen by the tapped interface. */
  dir: number;
  text: string;
  /** TCP flags byte, or -1 for a packet that is not TCP. */
  flags: number;
}

/** tcpdump's flag letters (F S R P . U E W): SYN-ACK is "S.", FIN-PSH-ACK "FP.". */
export const tcpFlagString = tcpFlagsText;

export class SegmentLog implements PacketSink {
  /** Called for every packet, in order. */
  onLine: ((line: SegmentLine) => void) | null = null;
  /** Lines kept (the newest `keep`); the page renders these. */
  readonly lines: SegmentLine[] = [];
  count = 0;
  private origin: number;
  private readonly keep: number;
  private readonly isn = new Map<string, number>();
  private readonly ip4 = newIpv4Header();
  private readonly ip6 = newIpv6Header();
  private readonly th = newTcpHeader();

  /** `origin`: the time (ms) that prints as 0; default: the first packet's. */
  constructor(opts: { keep?: number; origin?: number } = {}) {
    this.keep = opts.keep ?? 10_000;
    this.origin = opts.origin ?? Number.NaN;
  }

  addInterface(): number {
    return 0;
  }

  writePacket(timeMs: number, data: Uint8Array, _iface?: number, dir = 0): void {
    if (Number.isNaN(this.origin)) this.origin = timeMs;
    const line: SegmentLine = { time: (timeMs - this.origin) / 1000, dir, text: '', flags: -1 };
    line.text = `${line.time.toFixed(6)} ${this.describe(data, line)}`;
    this.count++;
    this.lines.push(line);
    if (this.lines.length > this.keep) this.lines.splice(0, this.lines.length - this.keep);
    if (this.onLine !== null) this.onLine(line);
  }

  /** The text after the timestamp for one raw IP packet. */
  describe(pkt: Uint8Array, line?: SegmentLine): string {
    const v = pkt.length > 0 ? pkt[0] >> 4 : 0;
    let src: string;
    let dst: string;
    let proto: number;
    let off: number;
    let len: number;
    let tag: string;
    if (v === 4) {
      if (parseIpv4(pkt, this.ip4, 0, pkt.length, false) !== null)
        return `IP truncated-ip, length ${pkt.length}`;
      src = formatAddr(this.ip4.src);
      dst = formatAddr(this.ip4.dst);
      proto = this.ip4.proto;
      off = this.ip4.headerLen;
      len = this.ip4.totalLen - off;
      tag = 'IP';
      if (this.ip4.fragOffset !== 0 || this.ip4.mf)
        return `IP ${src} > ${dst}: ip-proto-${proto} (frag ${this.ip4.id}:${len}@${this.ip4.fragOffset}${this.ip4.mf ? '+' : ''})`;
    } else if (v === 6) {
      if (parseIpv6(pkt, this.ip6, 0, pkt.length) !== null) return `IP6 truncated-ip6, length ${pkt.length}`;
      src = formatAddr(this.ip6.src);
      dst = formatAddr(this.ip6.dst);
      proto = this.ip6.proto;
      off = this.ip6.headerLen;
      len = 40 + this.ip6.payloadLen - off;
      tag = 'IP6';
    } else return `unknown packet, length ${pkt.length}`;
    if (proto === 17) return `${tag} ${src} > ${dst}: UDP, length ${Math.max(0, len - 8)}`;
    if (proto === 1 || proto === 58)
      return `${tag} ${src} > ${dst}: ICMP${proto === 58 ? '6' : ''}, length ${len}`;
    if (proto !== 6) return `${tag} ${src} > ${dst}: ip-proto-${proto} ${len}`;
    const h = this.th;
    const err = parseTcp(pkt, h, off, len);
    if (err !== null && err !== 'bad-option') return `${tag} ${src} > ${dst}: tcp ${err}`;
    if (line !== undefined) line.flags = h.flags & 0xff;
    const key = `${src}.${h.srcPort}>${dst}.${h.dstPort}`;
    const rkey = `${dst}.${h.dstPort}>${src}.${h.srcPort}`;
    const syn = (h.flags & TCP_SYN) !== 0;
    if (syn) this.isn.set(key, h.seq);
    const mine = this.isn.get(key);
    const theirs = this.isn.get(rkey);
    const relSeq = (n: number) => (syn || mine === undefined ? n : (n - mine) >>> 0);
    const relAck = (n: number) => (syn || theirs === undefined ? n : (n - theirs) >>> 0);
    let s = `${tag} ${src}.${h.srcPort} > ${dst}.${h.dstPort}: Flags [${tcpFlagsText(h.flags)}]`;
    const plen = h.payloadLen;
    if (plen > 0) s += `, seq ${relSeq(h.seq)}:${relSeq((h.seq + plen) >>> 0)}`;
    else if (h.flags & (TCP_SYN | TCP_FIN | TCP_RST)) s += `, seq ${relSeq(h.seq)}`;
    if (h.flags & TCP_ACK) s += `, ack ${relAck(h.ack)}`;
    s += `, win ${h.window}`;
    if (h.dataOffset > 20) {
      const opts = parseTcpOptionList(pkt, off + 20, h.dataOffset - 20);
      if (typeof opts === 'string') s += ', options [bad opts]';
      else s += `, options [${tcpOptionsText(opts, relAck)}]`;
    }
    s += `, length ${plen}`;
    return s;
  }
}

/** Direction mark for a line, as seen by the tapped host: '<' received, '>' sent. */
export function dirMark(dir: number): string {
  return dir === DIR_IN ? '<' : '>';
}
