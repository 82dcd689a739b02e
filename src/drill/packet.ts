/**
 * Building the packets the simulated remote host sends and decoding the ones
 * the local host sends, with the src/wire codecs; printing them the way
 * packetdrill does (`S. 0:0(0) ack 1 win 65535 <mss 1460,...>`).
 */

import type { IpAddr } from '../wire/addr.js';
import { pseudoSum } from '../wire/checksum.js';
import { finishIcmp4, finishIcmp6 } from '../wire/icmp.js';
import { emitIpv4, newIpv4Header, parseIpv4 } from '../wire/ipv4.js';
import { emitIpv6, newIpv6Header, parseIpv6 } from '../wire/ipv6.js';
import { emitTcp, newTcpHeader, parseTcp, TCP_HEADER_LEN, tcpFillChecksum } from '../wire/tcp.js';
import { parseTcpOptionList, type TcpOption } from '../wire/tcp-options.js';
import { tcpOptionText } from '../wire/tcpdump.js';
import { emitUdp, newUdpHeader, parseUdp, udpFillChecksum } from '../wire/udp.js';

export const F_FIN = 0x01;
export const F_SYN = 0x02;
export const F_RST = 0x04;
export const F_PSH = 0x08;
export const F_ACK = 0x10;
export const F_URG = 0x20;
export const F_ECE = 0x40;
export const F_CWR = 0x80;
export const F_AE = 0x100;

const FLAG_CHARS: Array<[string, number]> = [
  ['F', F_FIN],
  ['S', F_SYN],
  ['R', F_RST],
  ['P', F_PSH],
  ['.', F_ACK],
  ['U', F_URG],
  ['E', F_ECE],
  ['W', F_CWR],
  ['A', F_AE],
];

/** Script flag text (`S.`, `P.`, `SEW`) to header bits. */
export function parseFlags(text: string): number {
  let f = 0;
  // AccECN (RFC 9768-draft): a digit after the ACK dot is the 3-bit ACE
  // counter carried in AE, CWR and ECE.
  const ace = /\.([0-7])$/.exec(text);
  if (ace) {
    const d = Number(ace[1]);
    f |= (d & 4 ? F_AE : 0) | (d & 2 ? F_CWR : 0) | (d & 1 ? F_ECE : 0);
    text = text.slice(0, -1);
  }
  for (const ch of text) {
    if (ch === 'N') {
      f |= F_AE;
      continue;
    }
    const e = FLAG_CHARS.find(([c]) => c === ch);
    if (!e) throw new Error(`unknown TCP flag '${ch}'`);
    f |= e[1];
  }
  return f;
}

/** Header bits to packetdrill's flag text, in its order (F S R P . U E W). */
export function flagsString(flags: number): string {
  let s = '';
  for (const [c, bit] of FLAG_CHARS) if (flags & bit) s += c;
  return s === '' ? '-' : s;
}

export interface IpFields {
  family: 4 | 6;
  src: IpAddr;
  dst: IpAddr;
  /** whole TOS / traffic class byte (DSCP + ECN) */
  tos: number;
  ttl: number;
  flowLabel: number;
}

export interface TcpFields {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgent: number;
  options: TcpOption[];
  payloadLen: number;
}

/** An IP packet carrying a TCP segment, ready to inject. Payload bytes are zero (packetdrill's too). */
export function buildTcpPacket(ip: IpFields, tcp: TcpFields): Uint8Array {
  const hdr = newTcpHeader();
  hdr.srcPort = tcp.srcPort;
  hdr.dstPort = tcp.dstPort;
  hdr.seq = tcp.seq >>> 0;
  hdr.ack = tcp.ack >>> 0;
  hdr.flags = tcp.flags;
  hdr.window = tcp.window;
  hdr.urgent = tcp.urgent;
  const iphl = ip.family === 4 ? 20 : 40;
  const scratch = new Uint8Array(TCP_HEADER_LEN + 40);
  const thl = emitTcp(hdr, scratch, 0, tcp.options);
  const segLen = thl + tcp.payloadLen;
  const buf = new Uint8Array(iphl + segLen);
  buf.set(scratch.subarray(0, thl), iphl);
  writeIp(ip, buf, 6, segLen);
  tcpFillChecksum(buf, iphl, segLen, pseudoSum(ip.src, ip.dst, 6, segLen));
  return buf;
}

export function buildUdpPacket(
  ip: IpFields,
  srcPort: number,
  dstPort: number,
  payloadLen: number,
): Uint8Array {
  const iphl = ip.family === 4 ? 20 : 40;
  const len = 8 + payloadLen;
  const buf = new Uint8Array(iphl + len);
  const u = newUdpHeader();
  u.srcPort = srcPort;
  u.dstPort = dstPort;
  u.length = len;
  emitUdp(u, buf, iphl);
  writeIp(ip, buf, 17, len);
  udpFillChecksum(buf, iphl, len, pseudoSum(ip.src, ip.dst, 17, len));
  return buf;
}

/**
 * An ICMP error from the remote side quoting `quoted` (an IP packet the local
 * host sent, or one the runner makes up for it): IPv4 quotes the IP header
 * and the first 8 bytes (RFC 792), IPv6 as much as fits (RFC 4443).
 */
export function buildIcmpError(
  ip: IpFields,
  type: number,
  code: number,
  rest: number,
  quoted: Uint8Array,
): Uint8Array {
  const iphl = ip.family === 4 ? 20 : 40;
  const q = ip.family === 4 ? quoted.subarray(0, Math.min(quoted.length, 28)) : quoted.subarray(0, 1232);
  const len = 8 + q.length;
  const buf = new Uint8Array(iphl + len);
  const o = iphl;
  buf[o] = type;
  buf[o + 1] = code;
  buf[o + 4] = rest >>> 24;
  buf[o + 5] = rest >>> 16;
  buf[o + 6] = rest >>> 8;
  buf[o + 7] = rest;
  buf.set(q, o + 8);
  writeIp(ip, buf, ip.family === 4 ? 1 : 58, len);
  if (ip.family === 4) finishIcmp4(buf, o, len);
  else finishIcmp6(buf, o, len, ip.src, ip.dst);
  return buf;
}

function writeIp(ip: IpFields, buf: Uint8Array, proto: number, payloadLen: number): void {
  if (ip.family === 4) {
    const h = newIpv4Header();
    h.tos = ip.tos;
    h.totalLen = 20 + payloadLen;
    h.ttl = ip.ttl;
    h.proto = proto;
    h.df = true;
    h.src.set(ip.src);
    h.dst.set(ip.dst);
    emitIpv4(h, buf, 0);
  } else {
    const h = newIpv6Header();
    h.trafficClass = ip.tos;
    h.flowLabel = ip.flowLabel;
    h.payloadLen = payloadLen;
    h.nextHeader = proto;
    h.hopLimit = ip.ttl;
    h.src.set(ip.src);
    h.dst.set(ip.dst);
    emitIpv6(h, buf, 0);
  }
}

/** An outbound packet, decoded for comparison and printing. */
export interface Decoded {
  ip: IpFields;
  proto: number;
  tcp: TcpFields | null;
  udp: { srcPort: number; dstPort: number; payloadLen: number } | null;
  icmp: { type: number; code: number; rest: number; quoted: Uint8Array } | null;
  /** why it could not be decoded, when it could not */
  error: string | null;
}

export function decodePacket(bytes: Uint8Array): Decoded {
  const out: Decoded = {
    ip: { family: 4, src: new Uint8Array(4), dst: new Uint8Array(4), tos: 0, ttl: 0, flowLabel: 0 },
    proto: 0,
    tcp: null,
    udp: null,
    icmp: null,
    error: null,
  };
  if (bytes.length < 1) {
    out.error = 'empty packet';
    return out;
  }
  let off: number;
  let end: number;
  const v = bytes[0] >> 4;
  if (v === 4) {
    const h = newIpv4Header();
    const e = parseIpv4(bytes, h);
    if (e) {
      out.error = `bad IPv4 header: ${e}`;
      return out;
    }
    out.ip = { family: 4, src: h.src.slice(), dst: h.dst.slice(), tos: h.tos, ttl: h.ttl, flowLabel: 0 };
    out.proto = h.proto;
    off = h.headerLen;
    end = h.totalLen;
  } else if (v === 6) {
    const h = newIpv6Header();
    const e = parseIpv6(bytes, h);
    if (e) {
      out.error = `bad IPv6 header: ${e}`;
      return out;
    }
    out.ip = {
      family: 6,
      src: h.src.slice(),
      dst: h.dst.slice(),
      tos: h.trafficClass,
      ttl: h.hopLimit,
      flowLabel: h.flowLabel,
    };
    out.proto = h.proto;
    off = h.headerLen;
    end = 40 + h.payloadLen;
  } else {
    out.error = `IP version ${v}`;
    return out;
  }
  if (out.proto === 6) {
    const t = newTcpHeader();
    const e = parseTcp(bytes, t, off, end - off);
    if (e) {
      out.error = `bad TCP header: ${e}`;
      return out;
    }
    const opts = parseTcpOptionList(bytes, off + TCP_HEADER_LEN, t.dataOffset - TCP_HEADER_LEN);
    out.tcp = {
      srcPort: t.srcPort,
      dstPort: t.dstPort,
      seq: t.seq,
      ack: t.ack,
      flags: t.flags,
      window: t.window,
      urgent: t.urgent,
      options: typeof opts === 'string' ? [] : opts,
      payloadLen: t.payloadLen,
    };
    if (typeof opts === 'string') out.error = `bad TCP options: ${opts}`;
  } else if (out.proto === 17) {
    const u = newUdpHeader();
    const e = parseUdp(bytes, u, off, end - off);
    if (e) out.error = `bad UDP header: ${e}`;
    else out.udp = { srcPort: u.srcPort, dstPort: u.dstPort, payloadLen: u.payloadLen };
  } else if (out.proto === 1 || out.proto === 58) {
    if (end - off < 8) out.error = 'truncated ICMP';
    else
      out.icmp = {
        type: bytes[off],
        code: bytes[off + 1],
        rest:
          ((bytes[off + 4] << 24) | (bytes[off + 5] << 16) | (bytes[off + 6] << 8) | bytes[off + 7]) >>> 0,
        quoted: bytes.slice(off + 8, end),
      };
  }
  return out;
}

/**
 * Options in packetdrill's notation: `mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7`.
 * The same words as tcpdump's but for SACK (`sack 1:2 5:9`, edges made
 * relative to `sackBase`) and unknown kinds (`opt<kind>(<body length>)`).
 */
export function formatOptions(opts: readonly TcpOption[], sackBase = 0): string {
  return opts
    .map((o) => {
      if (o.kind === 'sack') {
        const parts: string[] = [];
        for (let i = 0; i + 1 < o.blocks.length; i += 2)
          parts.push(`${(o.blocks[i] - sackBase) >>> 0}:${(o.blocks[i + 1] - sackBase) >>> 0}`);
        return `sack ${parts.join(' ')}`;
      }
      if (o.kind === 'unknown') return `opt${o.code}(${o.data.length})`;
      return tcpOptionText(o, identity);
    })
    .join(',');
}

function identity(x: number): number {
  return x;
}

const ECN_NAMES = ['noecn', 'ect1', 'ect0', 'ce'];

/**
 * One TCP segment as packetdrill prints it, with sequence numbers made
 * relative: `seqBase` is subtracted from seq (the sender's ISN), `ackBase`
 * from ack (the receiver's ISN).
 */
export function formatTcp(t: TcpFields, seqBase: number, ackBase: number, tos = 0): string {
  const seq = (t.seq - seqBase) >>> 0;
  const ecn = tos & 3 ? `[${ECN_NAMES[tos & 3]}] ` : '';
  let s = `${ecn}${flagsString(t.flags)} ${seq}:${(seq + t.payloadLen) >>> 0}(${t.payloadLen})`;
  if (t.flags & F_ACK) s += ` ack ${(t.ack - ackBase) >>> 0}`;
  s += ` win ${t.window}`;
  if (t.flags & F_URG) s += ` urg ${t.urgent}`;
  if (t.options.length > 0) s += ` <${formatOptions(t.options, ackBase)}>`;
  return s;
}
