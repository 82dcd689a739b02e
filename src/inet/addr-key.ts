/**
 * How the connection tables see addresses. A v4-mapped address
 * (::ffff:a.b.c.d) on a dual-stack IPv6 socket is IPv4 on the wire, so the
 * tables treat it as the IPv4 address it maps (Linux hashes such sockets in
 * the IPv4 tables too): hashing and equality go through these helpers, never
 * through raw byte comparison.
 */
import type { IpAddr } from '../wire/addr.js';

/** True when `a` is IPv4 on the wire: 4 bytes, or ::ffff:a.b.c.d. */
export function isV4Wire(a: IpAddr): boolean {
  if (a.length === 4) return true;
  return (
    a[10] === 0xff &&
    a[11] === 0xff &&
    (a[0] | a[1] | a[2] | a[3] | a[4] | a[5] | a[6] | a[7] | a[8] | a[9]) === 0
  );
}

/** The IPv4 address of a 4-byte or v4-mapped address as an unsigned 32-bit number. */
export function v4Word(a: IpAddr): number {
  const o = a.length === 4 ? 0 : 12;
  return ((a[o] << 24) | (a[o + 1] << 16) | (a[o + 2] << 8) | a[o + 3]) >>> 0;
}

/** 32-bit word `i` (0..3) of a 16-byte address, network order. */
export function v6Word(a: IpAddr, i: number): number {
  const o = i * 4;
  return ((a[o] << 24) | (a[o + 1] << 16) | (a[o + 2] << 8) | a[o + 3]) >>> 0;
}

/** Equality as the tables see it: 198.18.0.1 equals ::ffff:198.18.0.1. */
export function sameAddr(a: IpAddr, b: IpAddr): boolean {
  if (a.length === b.length) {
    for (let i = a.length - 1; i >= 0; i--) if (a[i] !== b[i]) return false;
    return true;
  }
  return isV4Wire(a) && isV4Wire(b) && v4Word(a) === v4Word(b);
}

/** 0.0.0.0, ::, or ::ffff:0.0.0.0 (the last is INADDR_ANY seen through a dual-stack socket). */
export function isAnyAddr(a: IpAddr): boolean {
  if (a.length === 4 || isV4Wire(a)) return v4Word(a) === 0;
  for (let i = 0; i < 16; i++) if (a[i] !== 0) return false;
  return true;
}

/**
 * Loopback as tcp_tw_reuse = 2 judges it: 127/8, ::1, and v4-mapped
 * 127/8 (Linux's tcp_twsk_unique checks ipv6_addr_v4mapped_loopback too).
 */
export function isLoopbackAddr(a: IpAddr): boolean {
  if (isV4Wire(a)) return a[a.length === 4 ? 0 : 12] === 127;
  for (let i = 0; i < 15; i++) if (a[i] !== 0) return false;
  return a[15] === 1;
}

/** The wire form: 4 bytes for an IPv4 or v4-mapped address, else the 16 bytes (a copy either way). */
export function wireAddr(a: IpAddr): IpAddr {
  return isV4Wire(a) ? (a.length === 4 ? a.slice() : a.slice(12, 16)) : a.slice();
}

/** 32-bit mixing (MurmurHash3's body and finaliser): fast, keyed by the seed, for table indexes. */
export function mix32(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Table index hash of a 4-tuple, keyed by `seed` (a per-stack secret, so a
 * peer cannot aim many tuples at one chain; Linux keys inet_ehashfn the same
 * way). Unsigned 32-bit. IPv4-on-the-wire tuples hash their 32-bit words, so
 * 198.18.0.1 and ::ffff:198.18.0.1 land together.
 */
export function hashTuple(laddr: IpAddr, lport: number, raddr: IpAddr, rport: number, seed: number): number {
  let h = seed | 0;
  if (isV4Wire(laddr)) {
    h = mix32(h, v4Word(laddr));
    h = mix32(h, v4Word(raddr));
  } else {
    for (let i = 0; i < 4; i++) h = mix32(h, v6Word(laddr, i));
    for (let i = 0; i < 4; i++) h = mix32(h, v6Word(raddr, i));
  }
  h = mix32(h, ((lport << 16) | rport) >>> 0);
  return fmix32(h);
}
