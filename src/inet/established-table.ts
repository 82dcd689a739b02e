/**
 * The established hash: full connections (everything past LISTEN that has a
 * 4-tuple) keyed by a numeric, keyed hash of (laddr, lport, raddr, rport).
 * Chained hashing in typed arrays: `heads` (one chain head per bucket),
 * `nexts` and `hashes` per slot; the sockets sit in a plain array beside
 * them. No string keys, no per-lookup allocation. Grows by doubling at a load
 * factor of 1.
 */
import type { IpAddr } from '../wire/addr.js';
import { hashTuple, sameAddr } from './addr-key.js';

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
