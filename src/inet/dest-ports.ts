/**
 * Which local ports are in use towards one destination: for each
 * (local address, remote address, remote port) that connect() has used, the
 * set of local ports whose 4-tuple is held by an actively opened connection
 * or its TIME_WAIT entry. The connect() port search asks this instead of
 * hashing every candidate 4-tuple, so scanning the whole range (Linux's
 * famous slow connect() near exhaustion) costs a bit test per port.
 *
 * A destination starts with a short list of ports and switches to a 64 Kibit
 * bitmap (8 KiB) past 32, so a client talking to many peers stays small.
 */
import type { IpAddr } from '../wire/addr.js';
import { fmix32, isV4Wire, mix32, sameAddr, v4Word, v6Word, wireAddr } from './addr-key.js';

const LIST_MAX = 32;

export class Dest {
  next: Dest | null = null;
  count = 0;
  list: number[] | null = [];
  bits: Uint8Array | null = null;
  /**
   * A lower bound of the `stamp`s given to add() for the ports held now (the
   * smallest since the record was created; removals do not raise it). For
   * TIME_WAIT entries it is their entry time, which lets connect()'s port
   * scan see at once that none of them is old enough for tcp_tw_reuse.
   */
  minStamp = Infinity;
  constructor(
    readonly hash: number,
    readonly laddr: IpAddr,
    readonly raddr: IpAddr,
    readonly rport: number,
  ) {}

  has(port: number): boolean {
    if (this.bits !== null) return (this.bits[port >>> 3] & (1 << (port & 7))) !== 0;
    return this.list!.includes(port);
  }
}

export class DestPorts {
  private readonly map = new Map<number, Dest>();
  private readonly seed: number;
  private n = 0;
  constructor(seed: number) {
    this.seed = seed | 0;
  }

  /** Number of destinations tracked. */
  get size(): number {
    return this.n;
  }

  private hashOf(laddr: IpAddr, raddr: IpAddr, rport: number): number {
    let h = this.seed;
    if (isV4Wire(laddr)) {
      h = mix32(h, v4Word(laddr));
      h = mix32(h, v4Word(raddr));
    } else {
      for (let k = 0; k < 4; k++) h = mix32(h, v6Word(laddr, k));
      for (let k = 0; k < 4; k++) h = mix32(h, v6Word(raddr, k));
    }
    return fmix32(mix32(h, rport));
  }

  /** The destination record, or null when nothing uses it. */
  find(laddr: IpAddr, raddr: IpAddr, rport: number): Dest | null {
    const h = this.hashOf(laddr, raddr, rport);
    for (let d = this.map.get(h) ?? null; d !== null; d = d.next)
      if (d.rport === rport && sameAddr(d.laddr, laddr) && sameAddr(d.raddr, raddr)) return d;
    return null;
  }

  has(laddr: IpAddr, lport: number, raddr: IpAddr, rport: number): boolean {
    const d = this.find(laddr, raddr, rport);
    return d !== null && d.has(lport) === true;
  }

  /** Record lport in use towards (raddr, rport) from laddr; `stamp` feeds Dest.minStamp. */
  add(laddr: IpAddr, lport: number, raddr: IpAddr, rport: number, stamp = -Infinity): void {
    const h = this.hashOf(laddr, raddr, rport);
    const head = this.map.get(h) ?? null;
    let d = head;
    while (d !== null && !(d.rport === rport && sameAddr(d.laddr, laddr) && sameAddr(d.raddr, raddr)))
      d = d.next;
    if (d === null) {
      d = new Dest(h, wireAddr(laddr), wireAddr(raddr), rport);
      d.next = head;
      this.map.set(h, d);
      this.n++;
    }
    if (stamp < d.minStamp) d.minStamp = stamp;
    if (d.has(lport)) return;
    d.count++;
    if (d.bits !== null) {
      d.bits[lport >>> 3] |= 1 << (lport & 7);
      return;
    }
    d.list!.push(lport);
    if (d.list!.length > LIST_MAX) {
      d.bits = new Uint8Array(8192);
      for (const p of d.list!) d.bits[p >>> 3] |= 1 << (p & 7);
      d.list = null;
    }
  }

  remove(laddr: IpAddr, lport: number, raddr: IpAddr, rport: number): void {
    const h = this.hashOf(laddr, raddr, rport);
    let prev: Dest | null = null;
    let d = this.map.get(h) ?? null;
    while (d !== null && !(d.rport === rport && sameAddr(d.laddr, laddr) && sameAddr(d.raddr, raddr))) {
      prev = d;
      d = d.next;
    }
    if (d === null || !d.has(lport)) return;
    d.count--;
    if (d.bits !== null) d.bits[lport >>> 3] &= ~(1 << (lport & 7));
    else {
      const l = d.list!;
      const i = l.indexOf(lport);
      l[i] = l[l.length - 1];
      l.pop();
    }
    if (d.count === 0) {
      this.n--;
      if (prev !== null) prev.next = d.next;
      else if (d.next !== null) this.map.set(h, d.next);
      else this.map.delete(h);
    }
  }
}
