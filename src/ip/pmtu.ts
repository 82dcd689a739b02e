/**
 * Path-MTU cache (Linux's route exceptions): ICMP fragmentation-needed
 * (RFC 1191) and packet-too-big (RFC 8201) lower the MTU towards one
 * destination for `mtu_expires` seconds (600). Bounded: the oldest entry goes
 * first when full.
 */
import type { IpAddr } from '../wire/addr.js';

const MAX_ENTRIES = 4096;

interface Entry {
  mtu: number;
  expires: number;
}

export class PmtuCache {
  private readonly map = new Map<string, Entry>();

  /** The learned MTU towards `dst`, or 0 when none is in force. */
  get(dst: IpAddr, now: number): number {
    if (this.map.size === 0) return 0;
    const k = dst.join('.');
    const e = this.map.get(k);
    if (e === undefined) return 0;
    if (now >= e.expires) {
      this.map.delete(k);
      return 0;
    }
    return e.mtu;
  }

  set(dst: IpAddr, mtu: number, now: number, lifetimeMs: number): void {
    const k = dst.join('.');
    this.map.delete(k);
    if (this.map.size >= MAX_ENTRIES) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
    this.map.set(k, { mtu, expires: now + lifetimeMs });
  }

  get size(): number {
    return this.map.size;
  }
}
