import type { Link } from '../../src/link/link.js';
import { Stack, type StackOptions } from '../../src/stack.js';
import { pseudoSum } from '../../src/wire/checksum.js';
import { finishIcmp4, finishIcmp6 } from '../../src/wire/icmp.js';
import { emitIpv4Fast } from '../../src/wire/ipv4.js';
import { emitIpv6Fast, emitIpv6Fragment } from '../../src/wire/ipv6.js';
import { emitUdp, newUdpHeader, udpFillChecksum } from '../../src/wire/udp.js';

/** A link that records what the stack transmits. */
export class CaptureLink implements Link {
  readonly sent: Uint8Array[] = [];
  onReceive: ((frame: Uint8Array) => void) | null = null;
  constructor(readonly mtu = 1500) {}
  transmit(frame: Uint8Array): void {
    this.sent.push(frame.slice());
  }
}

export const A4 = Uint8Array.from([198, 18, 0, 1]);
export const B4 = Uint8Array.from([198, 18, 0, 2]);
export const A6 = Uint8Array.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
export const B6 = Uint8Array.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);

/** A stack "a" (198.18.0.1, fd00::1) whose eth0 is a CaptureLink; the peer is "b" (.2, ::2). */
export function harness(opts: StackOptions = {}, mtu = 1500) {
  const link = new CaptureLink(mtu);
  const stack = new Stack({ seed: 7, name: 'a', ...opts });
  stack.addInterface('eth0', link, { addrs: ['198.18.0.1/24', 'fd00::1/64'] });
  return { stack, link };
}

export interface V4Opts {
  src?: Uint8Array;
  dst?: Uint8Array;
  proto?: number;
  id?: number;
  ttl?: number;
  tos?: number;
  /** flags (0x4000 DF, 0x2000 MF) | offset/8 */
  ff?: number;
}

/** An IPv4 packet with `payload` (checksum of the IP header filled). */
export function v4(payload: Uint8Array, o: V4Opts = {}): Uint8Array {
  const b = new Uint8Array(20 + payload.length);
  b.set(payload, 20);
  emitIpv4Fast(
    b,
    0,
    b.length,
    o.id ?? 1,
    o.ff ?? 0,
    o.ttl ?? 64,
    o.proto ?? 17,
    o.tos ?? 0,
    o.src ?? B4,
    o.dst ?? A4,
  );
  return b;
}

export function v6(payload: Uint8Array, proto = 17, src = B6, dst = A6): Uint8Array {
  const b = new Uint8Array(40 + payload.length);
  b.set(payload, 40);
  emitIpv6Fast(b, 0, payload.length, proto, 64, 0, 0, src, dst);
  return b;
}

/** An IPv6 fragment: fixed header + Fragment header + `data`. */
export function v6frag(data: Uint8Array, offset: number, mf: boolean, id: number, proto = 17): Uint8Array {
  const b = new Uint8Array(48 + data.length);
  emitIpv6Fast(b, 0, 8 + data.length, 44, 64, 0, 0, B6, A6);
  emitIpv6Fragment(b, 40, proto, offset, mf, id);
  b.set(data, 48);
  return b;
}

/** A UDP datagram with a valid checksum for the given addresses. */
export function udp(
  sport: number,
  dport: number,
  data: Uint8Array,
  src: Uint8Array,
  dst: Uint8Array,
): Uint8Array {
  const len = 8 + data.length;
  const b = new Uint8Array(len);
  const h = newUdpHeader();
  h.srcPort = sport;
  h.dstPort = dport;
  h.length = len;
  emitUdp(h, b, 0);
  b.set(data, 8);
  udpFillChecksum(b, 0, len, pseudoSum(src, dst, 17, len));
  return b;
}

/** An ICMP message: type, code, the 4 "rest of header" bytes, body (checksum not yet filled). */
function icmp(type: number, code: number, rest: number, body: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + body.length);
  b[0] = type;
  b[1] = code;
  b[4] = rest >>> 24;
  b[5] = rest >>> 16;
  b[6] = rest >>> 8;
  b[7] = rest;
  b.set(body, 8);
  return b;
}

/** An ICMPv4 message (checksum filled). */
export function icmp4(type: number, code: number, rest: number, body: Uint8Array): Uint8Array {
  const b = icmp(type, code, rest, body);
  finishIcmp4(b, 0, b.length);
  return b;
}

/** An ICMPv6 message from `src` to `dst` (checksum filled, pseudo-header included). */
export function icmp6(
  type: number,
  code: number,
  rest: number,
  body: Uint8Array,
  src = B6,
  dst = A6,
): Uint8Array {
  const b = icmp(type, code, rest, body);
  finishIcmp6(b, 0, b.length, src, dst);
  return b;
}

export const bytes = (n: number, seed = 1) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
};
