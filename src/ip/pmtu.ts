/**
 * Path-MTU cache (Linux's route exceptions): ICMP fragmentation-needed
 * (RFC 1191) and packet-too-big (RFC 8201) lower the MTU towards one
 * destination for `mtu_expires` seconds (600). Bounded: the oldest entry goes
 * first when full. Keyed by a numeric hash of the address (no strings on the
 * output path); the lookup costs nothing while the cache is empty.
 */
import type { IpAddr } from '../wire/addr.js';

const MAX_ENTRIES = 4096;

interface Entry {
  addr: IpAddr;
  mtu: number;
  expires: number;
  next: Entry | null;
}

function hashAddr(a: IpAddr): number {
  let h = a.length;
  for (let i = 0; i < a.length; i += 4)
    h = Math.imul(h ^ ((a[i] << 24) | (a[i + 1] << 16) | (a[i + 2] << 8) | a[i + 3]), 0x9e3779b1) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

function same(a: IpAddr, b: IpAddr): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** What an entry held (for undoing an update); `mtu` 0 = no entry. */
export interface PmtuSnapshot {
  mtu: number;
  expires: number;
}

export class PmtuCache {
  private readonly map = new Map<number, Entry>();
  private count = 0;

  /** The learned MTU towards `dst`, or 0 when none is in force. */
  get(dst: IpAddr, now: number): number {
    if (this.count === 0) return 0;
    const k = hashAddr(dst);
    for (let e = this.map.get(k) ?? null; e !== null; e = e.next) {
      if (!same(e.addr, dst)) continue;
      if (now >= e.expires) {
        this.remove(k, e);
        return 0;
      }
      return e.mtu;
    }
    return 0;
  }

  set(dst: IpAddr, mtu: number, now: number, lifetimeMs: number): void {
    const k = hashAddr(dst);
    for (let e = this.map.get(k) ?? null; e !== null; e = e.next) {
      if (same(e.addr, dst)) {
        e.mtu = mtu;
        e.expires = now + lifetimeMs;
        return;
      }
    }
    if (this.count >= MAX_ENTRIES) {
      // Map iteration order is insertion order: drop the oldest chain.
      const first = this.map.keys().next().value;
      if (first !== undefined) {
        for (let e = this.map.get(first) ?? null; e !== null; e = e.next) this.count--;
        this.map.delete(first);
      }
    }
    this.map.set(k, { addr: dst.slice(), mtu, expires: now + lifetimeMs, next: this.map.get(k) ?? null });
    this.count++;
  }

  private remove(k: number, victim: Entry): void {
    let head = this.map.get(k) ?? null;
    if (head === victim) {
      head = victim.next;
      if (head === null) this.map.delete(k);
      else this.map.set(k, head);
    } else {
      for (let e = head; e !== null; e = e.next) {
        if (e.next === victim) {
          e.next = victim.next;
          break;
        }
      }
    }
    this.count--;
  }

  snapshot(dst: IpAddr, now: number): PmtuSnapshot {
    const mtu = this.get(dst, now);
    if (mtu === 0) return { mtu: 0, expires: 0 };
    const k = hashAddr(dst);
    for (let e = this.map.get(k) ?? null; e !== null; e = e.next)
      if (same(e.addr, dst)) return { mtu, expires: e.expires };
    return { mtu: 0, expires: 0 };
  }

  /** Put back what `snapshot` saw (deleting the entry if there was none). */
  restore(dst: IpAddr, snap: PmtuSnapshot): void {
    const k = hashAddr(dst);
    for (let e = this.map.get(k) ?? null; e !== null; e = e.next) {
      if (!same(e.addr, dst)) continue;
      if (snap.mtu === 0) this.remove(k, e);
      else {
        e.mtu = snap.mtu;
        e.expires = snap.expires;
      }
      return;
    }
  }

  get size(): number {
    return this.count;
  }
}
