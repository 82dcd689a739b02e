/**
 * The established hash: full connections (everything past LISTEN that has a
 * 4-tuple) keyed by a numeric, keyed hash of (laddr, lport, raddr, rport).
 * Chained hashing in typed arrays: `heads` (one chain head per bucket),
 * `nexts` and `hashes` per slot; the sockets sit in a plain array beside
 * them. No string keys, no per-lookup allocation. Grows by doubling at a load
 * factor of 1.
 */
import type { IpAddr } from '../wire/addr.js';

// find() runs once per received segment and calls only functions of this
// module: a call into another module costs ~50 ns more under tsx (its
// live-binding getters). Same definitions as addr-key.ts.

function isV4Wire(a: IpAddr): boolean {
  if (a.length === 4) return true;
  return (
    a[10] === 0xff &&
    a[11] === 0xff &&
    (a[0] | a[1] | a[2] | a[3] | a[4] | a[5] | a[6] | a[7] | a[8] | a[9]) === 0
  );
}

function v4Word(a: IpAddr): number {
  const o = a.length === 4 ? 0 : 12;
  return ((a[o] << 24) | (a[o + 1] << 16) | (a[o + 2] << 8) | a[o + 3]) >>> 0;
}

function word(a: IpAddr, i: number): number {
  const o = i * 4;
  return ((a[o] << 24) | (a[o + 1] << 16) | (a[o + 2] << 8) | a[o + 3]) >>> 0;
}

function sameAddr(a: IpAddr, b: IpAddr): boolean {
  if (a.length === b.length) {
    for (let i = a.length - 1; i >= 0; i--) if (a[i] !== b[i]) return false;
    return true;
  }
  return isV4Wire(a) && isV4Wire(b) && v4Word(a) === v4Word(b);
}

function mix32(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function hashTuple(laddr: IpAddr, lport: number, raddr: IpAddr, rport: number, seed: number): number {
  let h = seed | 0;
  if (isV4Wire(laddr)) {
    h = mix32(h, v4Word(laddr));
    h = mix32(h, v4Word(raddr));
  } else {
    for (let i = 0; i < 4; i++) h = mix32(h, word(laddr, i));
    for (let i = 0; i < 4; i++) h = mix32(h, word(raddr, i));
  }
  h = mix32(h, ((lport << 16) | rport) >>> 0);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** What the tables need to know of a connection's identity. */
export interface TupleSock {
  laddr: IpAddr | null;
  lport: number;
  raddr: IpAddr | null;
  rport: number;
}

export class EstablishedTable<S extends TupleSock> {
  private heads: Int32Array;
  private nexts: Int32Array;
  private hashes: Uint32Array;
  private items: (S | null)[] = [];
  private mask: number;
  private freeHead = -1;
  private top = 0;
  private count = 0;
  private readonly seed: number;

  constructor(seed: number, initialCapacity = 256) {
    let cap = 16;
    while (cap < initialCapacity) cap *= 2;
    this.heads = new Int32Array(cap).fill(-1);
    this.nexts = new Int32Array(cap);
    this.hashes = new Uint32Array(cap);
    this.mask = cap - 1;
    this.seed = seed | 0;
  }

  get size(): number {
    return this.count;
  }

  /** Insert; the caller guarantees the 4-tuple is not present (see find()). */
  insert(s: S): void {
    if (s.laddr === null || s.raddr === null)
      throw new Error('EstablishedTable.insert: socket has no 4-tuple');
    if (this.count >= this.heads.length) this.grow();
    const h = hashTuple(s.laddr, s.lport, s.raddr, s.rport, this.seed);
    let i: number;
    if (this.freeHead >= 0) {
      i = this.freeHead;
      this.freeHead = this.nexts[i];
    } else {
      i = this.top++;
    }
    this.items[i] = s;
    this.hashes[i] = h;
    const b = h & this.mask;
    this.nexts[i] = this.heads[b];
    this.heads[b] = i;
    this.count++;
  }

  /** Remove this socket (by identity); false when it was not present. */
  remove(s: S): boolean {
    if (s.laddr === null || s.raddr === null) return false;
    const h = hashTuple(s.laddr, s.lport, s.raddr, s.rport, this.seed);
    const b = h & this.mask;
    let prev = -1;
    for (let i = this.heads[b]; i >= 0; i = this.nexts[i]) {
      if (this.items[i] === s) {
        if (prev < 0) this.heads[b] = this.nexts[i];
        else this.nexts[prev] = this.nexts[i];
        this.items[i] = null;
        this.nexts[i] = this.freeHead;
        this.freeHead = i;
        this.count--;
        return true;
      }
      prev = i;
    }
    return false;
  }

  find(laddr: IpAddr, lport: number, raddr: IpAddr, rport: number): S | null {
    const h = hashTuple(laddr, lport, raddr, rport, this.seed);
    for (let i = this.heads[h & this.mask]; i >= 0; i = this.nexts[i]) {
      if (this.hashes[i] !== h) continue;
      const s = this.items[i]!;
      if (s.lport === lport && s.rport === rport && sameAddr(s.laddr!, laddr) && sameAddr(s.raddr!, raddr))
        return s;
    }
    return null;
  }

  /** Every socket, in no particular order (for ss). */
  *[Symbol.iterator](): IterableIterator<S> {
    for (let i = 0; i < this.top; i++) {
      const s = this.items[i];
      if (s !== null && s !== undefined) yield s;
    }
  }

  private grow(): void {
    const cap = this.heads.length * 2;
    const nexts = new Int32Array(cap);
    nexts.set(this.nexts);
    const hashes = new Uint32Array(cap);
    hashes.set(this.hashes);
    this.nexts = nexts;
    this.hashes = hashes;
    this.heads = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    // Rehash live slots; free slots stay on the free list (their nexts are untouched).
    for (let i = 0; i < this.top; i++) {
      if (this.items[i] === null) continue;
      const b = this.hashes[i] & this.mask;
      this.nexts[i] = this.heads[b];
      this.heads[b] = i;
    }
  }
}
