/**
 * One line per IPv4 TCP segment, as `tcpdump -nn -ttttt` prints it: time
 * since the first packet, addresses and ports, flags ([S.], [P.], [F.] ...),
 * seq/ack relative to each direction's initial sequence number (absolute
 * on SYNs, as tcpdump does), window, options
 * `[mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7]`, length, and the first
 * line of an HTTP request or response. Browser-clean; a display tool, so
 * it allocates freely (it is not on the stack's packet path).
 */
import { formatAddr } from '../../wire/addr.js';
import { newIpv4Header, parseIpv4 } from '../../wire/ipv4.js';
import { IPPROTO_TCP, newTcpHeader, parseTcp, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../wire/tcp.js';
import { parseTcpOptionList } from '../../wire/tcp-options.js';
import { tcpFlagsText, tcpOptionsText } from '../../wire/tcpdump.js';

// The flag and option words are shared with the web segment log.
export { tcpFlagsText, tcpOptionsText };

/** HH:MM:SS.uuuuuu of a duration in ms (tcpdump -ttttt). */
export function tcpdumpTime(ms: number): string {
  const us = Math.max(0, Math.round(ms * 1000));
  const h = Math.floor(us / 3_600_000_000);
  const m = Math.floor(us / 60_000_000) % 60;
  const s = Math.floor(us / 1_000_000) % 60;
  const frac = us % 1_000_000;
  const p = (n: number, w: number) => String(n).padStart(w, '0');
  return `${p(h, 2)}:${p(m, 2)}:${p(s, 2)}.${p(frac, 6)}`;
}

const HTTP_START = /^(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH|HTTP\/1\.[01]) /;

export class TcpdumpFormatter {
  private readonly ip = newIpv4Header();
  private readonly tcp = newTcpHeader();
  /** Initial sequence number per direction ("src>dst" key), learned from SYNs. */
  private readonly isn = new Map<string, number>();
  private t0 = Number.NaN;

  /** The line for one raw IPv4 frame, or null when it is not a TCP segment this formatter decodes. */
  format(timeMs: number, frame: Uint8Array): string | null {
    if (Number.isNaN(this.t0)) this.t0 = timeMs;
    if (parseIpv4(frame, this.ip, 0, frame.length) !== null) return null;
    if (this.ip.proto !== IPPROTO_TCP || this.ip.fragOffset !== 0) return null;
    const ipEnd = Math.min(frame.length, this.ip.totalLen);
    const h = this.tcp;
    const err = parseTcp(frame, h, this.ip.headerLen, ipEnd - this.ip.headerLen);
    if (err === 'truncated' || err === 'bad-header-length') return null;
    const src = `${formatAddr(this.ip.src)}.${h.srcPort}`;
    const dst = `${formatAddr(this.ip.dst)}.${h.dstPort}`;
    const fwd = `${src}>${dst}`;
    const rev = `${dst}>${src}`;
    const syn = (h.flags & TCP_SYN) !== 0;
    if (syn) this.isn.set(fwd, h.seq);
    const mine = this.isn.get(fwd);
    const theirs = this.isn.get(rev);
    const rel = (x: number, base: number | undefined) => (syn || base === undefined ? x : (x - base) >>> 0);
    let line = `${tcpdumpTime(timeMs - this.t0)} IP ${src} > ${dst}: Flags [${tcpFlagsText(h.flags)}]`;
    const len = h.payloadLen;
    if (len > 0 || h.flags & (TCP_SYN | TCP_FIN | TCP_RST)) {
      const s = rel(h.seq, mine);
      line += len > 0 ? `, seq ${s}:${(s + len) >>> 0}` : `, seq ${s}`;
    }
    if (h.flags & TCP_ACK) line += `, ack ${rel(h.ack, theirs)}`;
    line += `, win ${h.window}`;
    if (h.dataOffset > 20) {
      const list = parseTcpOptionList(frame, this.ip.headerLen + 20, h.dataOffset - 20);
      if (typeof list !== 'string') line += `, options [${tcpOptionsText(list, (x) => rel(x, theirs))}]`;
    }
    line += `, length ${len}`;
    if (len > 0) {
      const head = String.fromCharCode(...h.payload.subarray(0, Math.min(len, 100)));
      if (HTTP_START.test(head)) line += `: HTTP: ${head.split('\r\n')[0]}`;
    }
    return line;
  }
}
