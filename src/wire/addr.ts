/**
 * IP addresses as bytes: an `IpAddr` is a `Uint8Array` of 4 (IPv4) or 16
 * (IPv6) bytes in network order. Strings appear only at the API edge
 * (`parseAddr`, `formatAddr`); the packet path compares bytes.
 */

export type IpAddr = Uint8Array;

/** A parsed "address/len" string. `addr` keeps the host bits as written. */
export interface Prefix {
  addr: IpAddr;
  len: number;
}

/** 4 for an IPv4 address, 6 for IPv6. */
export function addrFamily(a: IpAddr): 4 | 6 {
  return a.length === 4 ? 4 : 6;
}

export function isV4(a: IpAddr): boolean {
  return a.length === 4;
}

export function addrEquals(a: IpAddr, b: IpAddr): boolean {
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A fresh copy (addresses seen on the packet path are views; copy to keep one). */
export function addrCopy(a: IpAddr): IpAddr {
  return a.slice();
}

/** An IPv4 address as an unsigned 32-bit number (for hashing and masks). */
export function v4ToU32(a: IpAddr, off = 0): number {
  return ((a[off] << 24) | (a[off + 1] << 16) | (a[off + 2] << 8) | a[off + 3]) >>> 0;
}

export function u32ToV4(n: number): IpAddr {
  return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

/** True for ::ffff:a.b.c.d (RFC 4291 §2.5.5.2). */
export function isV4Mapped(a: IpAddr): boolean {
  if (a.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return false;
  return a[10] === 0xff && a[11] === 0xff;
}

/** ::ffff:a.b.c.d for an IPv4 address (an IPv6 address is returned as is). */
export function v4Mapped(a: IpAddr): IpAddr {
  if (a.length === 16) return a;
  const m = new Uint8Array(16);
  m[10] = 0xff;
  m[11] = 0xff;
  m.set(a, 12);
  return m;
}

/** The IPv4 address inside ::ffff:a.b.c.d; null for any other IPv6 address; IPv4 returned as is. */
export function v4MappedToV4(a: IpAddr): IpAddr | null {
  if (a.length === 4) return a;
  return isV4Mapped(a) ? a.slice(12, 16) : null;
}

/** 127.0.0.0/8 or ::1 (Linux treats only ::1 as IPv6 loopback, not ::ffff:127.x). */
export function isLoopback(a: IpAddr): boolean {
  if (a.length === 4) return a[0] === 127;
  for (let i = 0; i < 15; i++) if (a[i] !== 0) return false;
  return a[15] === 1;
}

/** 0.0.0.0 or :: (INADDR_ANY / in6addr_any). */
export function isUnspecified(a: IpAddr): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) return false;
  return true;
}

/** 224.0.0.0/4 or ff00::/8. */
export function isMulticast(a: IpAddr): boolean {
  return a.length === 4 ? (a[0] & 0xf0) === 0xe0 : a[0] === 0xff;
}

/** Strict dotted quad: four decimal numbers 0..255 without leading zeros (as inet_pton). */
function parseV4Into(s: string, out: Uint8Array, at: number): boolean {
  let part = 0;
  let val = 0;
  let digits = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46; /* '.' terminates the last part */
    if (c >= 48 && c <= 57) {
      if (digits > 0 && val === 0) return false; // leading zero
      val = val * 10 + (c - 48);
      if (val > 255) return false;
      digits++;
    } else if (c === 46) {
      if (digits === 0 || part >= 4) return false;
      out[at + part++] = val;
      val = 0;
      digits = 0;
    } else {
      return false;
    }
  }
  return part === 4;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** RFC 4291 §2.2 text forms: full, "::"-compressed, and with a trailing dotted quad. */
function parseV6(s: string): IpAddr | null {
  const out = new Uint8Array(16);
  const dbl = s.indexOf('::');
  if (dbl !== -1 && s.indexOf('::', dbl + 1) !== -1) return null;
  const head = dbl === -1 ? s : s.slice(0, dbl);
  const tail = dbl === -1 ? '' : s.slice(dbl + 2);
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  if (dbl === -1 && headGroups.length === 0) return null;
  // Expand groups into 16-bit words; a dotted quad is allowed only as the very last group.
  const words: number[] = [];
  const all = [...headGroups, ...tailGroups];
  for (let g = 0; g < all.length; g++) {
    const grp = all[g];
    const last = g === all.length - 1;
    if (grp.indexOf('.') !== -1) {
      // Only as the final group of the address: not before "::" either.
      if (!last || (dbl !== -1 && g < headGroups.length)) return null;
      const v4 = new Uint8Array(4);
      if (!parseV4Into(grp, v4, 0)) return null;
      words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      continue;
    }
    if (grp.length === 0 || grp.length > 4) return null;
    let v = 0;
    for (let i = 0; i < grp.length; i++) {
      const h = hexVal(grp.charCodeAt(i));
      if (h < 0) return null;
      v = (v << 4) | h;
    }
    words.push(v);
  }
  // Words contributed by the head part (a dotted quad is in the head only when there is no "::").
  let headWords = 0;
  for (const grp of headGroups) headWords += grp.indexOf('.') !== -1 ? 2 : 1;
  if (dbl === -1) {
    if (words.length !== 8) return null;
  } else if (words.length > 7) {
    return null; // "::" stands for at least one zero group
  }
  for (let i = 0; i < headWords; i++) {
    out[2 * i] = words[i] >>> 8;
    out[2 * i + 1] = words[i] & 0xff;
  }
  const tailWords = words.length - headWords;
  for (let i = 0; i < tailWords; i++) {
    const w = words[headWords + i];
    const at = 16 - 2 * (tailWords - i);
    out[at] = w >>> 8;
    out[at + 1] = w & 0xff;
  }
  return out;
}

/**
 * Parse an IPv4 dotted quad or an IPv6 address in any RFC 4291 §2.2 text form.
 * Returns null for anything else (zone ids like "%eth0" are not accepted).
 */
export function parseAddr(s: string): IpAddr | null {
  if (s.indexOf(':') !== -1) return parseV6(s);
  const out = new Uint8Array(4);
  return parseV4Into(s, out, 0) ? out : null;
}

/** As parseAddr, but throws a TypeError naming the bad input (for configuration APIs). */
export function mustParseAddr(s: string): IpAddr {
  const a = parseAddr(s);
  if (a === null) throw new TypeError(`invalid IP address: ${JSON.stringify(s)}`);
  return a;
}

/** Text form: dotted quad, or RFC 5952 canonical IPv6 (mapped IPv4 as ::ffff:a.b.c.d, §5). */
export function formatAddr(a: IpAddr): string {
  if (a.length === 4) return `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
  if (a.length !== 16) return `<bad address of ${a.length} bytes>`;
  if (isV4Mapped(a)) return `::ffff:${a[12]}.${a[13]}.${a[14]}.${a[15]}`;
  // RFC 5952 §4.2: compress the longest run (≥ 2 groups) of zero groups, the first if tied.
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (a[2 * i] === 0 && a[2 * i + 1] === 0) {
      let j = i;
      while (j < 8 && a[2 * j] === 0 && a[2 * j + 1] === 0) j++;
      if (j - i > bestLen) {
        bestAt = i;
        bestLen = j - i;
      }
      i = j;
    } else {
      i++;
    }
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestAt) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (s !== '' && !s.endsWith(':')) s += ':';
    s += ((a[2 * i] << 8) | a[2 * i + 1]).toString(16);
  }
  return s;
}

/**
 * "198.18.0.1/24" or "fd00::1/64" → { addr, len }. Without "/len" the prefix
 * is the full address (32 or 128). Null when malformed or len out of range.
 */
export function parsePrefix(s: string): Prefix | null {
  const slash = s.indexOf('/');
  const addr = parseAddr(slash === -1 ? s : s.slice(0, slash));
  if (addr === null) return null;
  const max = addr.length * 8;
  if (slash === -1) return { addr, len: max };
  const lenText = s.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText)) return null;
  const len = Number(lenText);
  if (len > max) return null;
  return { addr, len };
}

/** True when the first `len` bits of `a` equal those of `prefix` (same family required). */
export function prefixMatch(a: IpAddr, prefix: IpAddr, len: number): boolean {
  if (a.length !== prefix.length) return false;
  const whole = len >>> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== prefix[i]) return false;
  const rest = len & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (a[whole] & mask) === (prefix[whole] & mask);
}

/** A copy of `a` with the bits after `len` cleared (the network address). */
export function maskAddr(a: IpAddr, len: number): IpAddr {
  const out = a.slice();
  for (let i = 0; i < out.length; i++) {
    const bits = len - i * 8;
    if (bits >= 8) continue;
    out[i] &= bits <= 0 ? 0 : (0xff << (8 - bits)) & 0xff;
  }
  return out;
}
