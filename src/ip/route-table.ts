/**
 * Longest-prefix-match route table, one per family. Kept as a list sorted by
 * prefix length (longest first), then metric: a host has a handful of routes,
 * and the transports cache what they need (MSS, source) per connection, so a
 * linear scan that stops at the first match is the simple right thing here.
 */
import { type IpAddr, prefixMatch } from '../wire/addr.js';
import type { NetInterface } from './interface.js';

export interface RouteEntry {
  /** Network address (host bits cleared). */
  prefix: IpAddr;
  prefixLen: number;
  dev: NetInterface;
  /** Gateway, or null for an on-link (connected) route. */
  via: IpAddr | null;
  /** Preferred source address (Linux `src`), or null to pick from `dev`. */
  src: IpAddr | null;
  metric: number;
  /** Route MTU (Linux `mtu` attribute), 0 = the device MTU. */
  mtu: number;
}

export class RouteTable {
  private readonly entries: RouteEntry[] = [];
  /** Changes with every add/remove: route caches compare it. */
  version = 0;

  add(e: RouteEntry): void {
    this.version++;
    let i = 0;
    while (
      i < this.entries.length &&
      (this.entries[i].prefixLen > e.prefixLen ||
        (this.entries[i].prefixLen === e.prefixLen && this.entries[i].metric <= e.metric))
    )
      i++;
    this.entries.splice(i, 0, e);
  }

  /** Remove every route through `dev` matching prefix/len (all of dev's when prefix is null). */
  remove(dev: NetInterface, prefix: IpAddr | null, prefixLen: number): number {
    let n = 0;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i];
      if (e.dev !== dev) continue;
      if (prefix !== null && (e.prefixLen !== prefixLen || !prefixMatch(prefix, e.prefix, prefixLen)))
        continue;
      this.entries.splice(i, 1);
      this.version++;
      n++;
    }
    return n;
  }

  /** The most specific route to `dst` through an interface that is up, or null. */
  lookup(dst: IpAddr): RouteEntry | null {
    const es = this.entries;
    for (let i = 0; i < es.length; i++) {
      const e = es[i];
      if (e.dev.up && prefixMatch(dst, e.prefix, e.prefixLen)) return e;
    }
    return null;
  }

  list(): readonly RouteEntry[] {
    return this.entries;
  }
}
