/**
 * SYN cookies (RFC 4987 §3.6, the scheme Linux uses): when the SYN queue is
 * full the SYN-ACK's ISN encodes a keyed hash of the 4-tuple, a minute
 * counter and the peer's MSS (as an index into a small table), so the final
 * ACK alone can rebuild the connection. Window scale and SACK ride in the
 * low bits of our timestamp (see listen.ts).
 */
import { fmix32, hashTuple, mix32 } from '../inet/addr-key.js';
import type { IpRx } from '../ip/types.js';
import type { TcpHeader } from '../wire/tcp.js';
import type { TcpLayer } from './tcp.js';

/** Linux msstab (IPv4) and msstab for IPv6. */
const MSS_V4 = [536, 1300, 1440, 1460];
const MSS_V6 = [1220, 1420, 1440, 8940];
const COOKIE_BITS = 24;
const COOKIE_MASK = (1 << COOKIE_BITS) - 1;
/** Linux MAX_SYNCOOKIE_AGE: a cookie is good for two minute ticks. */
const MAX_AGE = 2;

function minuteCount(now: number): number {
  return Math.floor(now / 60_000) & 0xff;
}

function hash2(L: TcpLayer, rx: IpRx, h: TcpHeader, count: number): number {
  const s = L.cookieSecret;
  return fmix32(mix32(hashTuple(rx.dst, h.dstPort, rx.src, h.srcPort, s[1]), count ^ s[2]));
}

/** The cookie ISN for the SYN `h` (its peer ISN is h.seq). */
export function cookieMake(L: TcpLayer, rx: IpRx, h: TcpHeader, _ourMss: number): { isn: number } {
  const tab = rx.family === 4 ? MSS_V4 : MSS_V6;
  const peer = h.mss > 0 ? h.mss : 536;
  let idx = tab.length - 1;
  while (idx > 0 && peer < tab[idx]) idx--;
  const count = minuteCount(L.now);
  const h1 = hashTuple(rx.dst, h.dstPort, rx.src, h.srcPort, L.cookieSecret[0]);
  const isn =
    (h1 + h.seq + count * (1 << COOKIE_BITS) + ((hash2(L, rx, h, count) + idx) & COOKIE_MASK)) >>> 0;
  return { isn };
}

/** Check the ACK `h` as the answer to a cookie SYN-ACK; the peer MSS it encodes, or 0 when invalid. */
export function cookieCheck(L: TcpLayer, rx: IpRx, h: TcpHeader): number {
  const tab = rx.family === 4 ? MSS_V4 : MSS_V6;
  const h1 = hashTuple(rx.dst, h.dstPort, rx.src, h.srcPort, L.cookieSecret[0]);
  const cookie = (h.ack - 1 - h1 - (h.seq - 1)) >>> 0;
  const now = minuteCount(L.now);
  const diff = (now - (cookie >>> COOKIE_BITS)) & 0xff;
  if (diff >= MAX_AGE) return 0;
  const count = (now - diff) & 0xff;
  const idx = (cookie - hash2(L, rx, h, count)) & COOKIE_MASK;
  return idx < tab.length ? tab[idx] : 0;
}
