/**
 * Bind buckets: who holds each local port, as Linux's bind hash does
 * (inet_bind_bucket + the per-address bhash2). A bucket per port records how
 * it was created (`fastreuse` / `fastreuseport`: -1 when connect() created it,
 * which lets later connects share the port; >= 0 when bind() did, which makes
 * connect() skip the port) and, per bound address, how many owners of each
 * kind hold it: full sockets and TIME_WAIT entries, with or without
 * SO_REUSEADDR / SO_REUSEPORT, listening or not. Conflicts are decided on
 * these counts, so a port with 100,000 accepted children or TIME_WAIT entries
 * costs nothing per entry here and is checked in O(addresses).
 */
import type { IpAddr } from '../wire/addr.js';
import { isAnyAddr, isV4Wire, sameAddr, wireAddr } from './addr-key.js';

// Owner kinds: index into AddrSlot.counts.
export const K_REUSE = 1;
export const K_REUSEPORT = 2;
export const K_LISTEN = 4;
export const K_TW = 8;

/** A bound address as conflict checks see it. */
export interface BoundAddr {
  /** 4 when IPv4 on the wire (an IPv4 socket, or a v4-mapped address on an IPv6 one). */
  fam: 4 | 6;
  any: boolean;
  /** IPv6 wildcard of a socket without IPV6_V6ONLY: also covers every IPv4 address. */
  dual: boolean;
  /** Wire form (4 or 16 bytes); zeros when `any`. */
  addr: IpAddr;
}

const ANY4 = new Uint8Array(4);
const ANY6 = new Uint8Array(16);

/** How a socket's local address binds: `laddr` null = wildcard of the socket's family. */
export function boundAddrOf(family: 4 | 6, v6only: boolean, laddr: IpAddr | null): BoundAddr {
  if (laddr === null || isAnyAddr(laddr)) {
    // ::ffff:0.0.0.0 on a dual-stack socket is the IPv4 wildcard only.
    if (family === 4 || (laddr !== null && laddr.length === 16 && isV4Wire(laddr)))
      return { fam: 4, any: true, dual: false, addr: ANY4 };
    return { fam: 6, any: true, dual: !v6only, addr: ANY6 };
  }
  return { fam: isV4Wire(laddr) ? 4 : 6, any: false, dual: false, addr: wireAddr(laddr) };
}

function sameBound(a: BoundAddr, b: BoundAddr): boolean {
  return a.fam === b.fam && a.any === b.any && a.dual === b.dual && sameAddr(a.addr, b.addr);
}

/**
 * Do two bound addresses overlap (Linux inet_rcv_saddr_equal with wildcards
 * matching)? Same family: either wildcard or equal. Across families only an
 * IPv6 wildcard without V6ONLY overlaps IPv4 addresses.
 */
export function overlaps(a: BoundAddr, b: BoundAddr): boolean {
  if (a.fam === b.fam) return a.any || b.any || sameAddr(a.addr, b.addr);
  return a.fam === 6 ? a.dual : b.dual;
}

export class AddrSlot {
  /** Owner counts by kind (K_* bits). */
  readonly counts = new Int32Array(16);
  total = 0;
  /** Changes only while the slot is empty and being reused (BindBucket.spare). */
  bound: BoundAddr;
  constructor(bound: BoundAddr) {
    this.bound = bound;
  }
}

export class BindBucket {
  /** -1: created by connect(); 0/1: created by bind(), 1 while every owner allows SO_REUSEADDR sharing. */
  fastreuse: number;
  fastreuseport: number;
  readonly slots: AddrSlot[] = [];
  /** Owners (full sockets and TIME_WAIT entries) across all addresses. */
  owners = 0;
  /** The last slot that emptied, kept for the next address (all its counts are 0). */
  private spare: AddrSlot | null = null;
  port: number;
  constructor(port: number, fastreuse: number, fastreuseport: number) {
    this.port = port;
    this.fastreuse = fastreuse;
    this.fastreuseport = fastreuseport;
  }

  /**
   * Make an empty bucket (no owners, no slots) new for `port`: InetTables
   * reuses the buckets connect() creates and drops once per connection.
   */
  reset(port: number, fastreuse: number, fastreuseport: number): void {
    this.port = port;
    this.fastreuse = fastreuse;
    this.fastreuseport = fastreuseport;
  }

  slotFor(b: BoundAddr, create: boolean): AddrSlot | null {
    for (const s of this.slots) if (sameBound(s.bound, b)) return s;
    if (!create) return null;
    let s = this.spare;
    if (s !== null) {
      this.spare = null;
      s.bound = b;
    } else s = new AddrSlot(b);
    this.slots.push(s);
    return s;
  }

  add(b: BoundAddr, kind: number): void {
    const s = this.slotFor(b, true)!;
    s.counts[kind]++;
    s.total++;
    this.owners++;
  }

  /** Returns true when the bucket became empty. */
  sub(b: BoundAddr, kind: number): boolean {
    const s = this.slotFor(b, false);
    if (s !== null && s.counts[kind] > 0) {
      s.counts[kind]--;
      s.total--;
      this.owners--;
      if (s.total === 0) {
        this.slots.splice(this.slots.indexOf(s), 1);
        this.spare = s;
      }
    }
    return this.owners === 0;
  }
}

/** The owner kind of a socket (or TIME_WAIT entry) with these flags. */
export function kindOf(reuse: boolean, reusePort: boolean, listening: boolean, tw: boolean): number {
  return (reuse ? K_REUSE : 0) | (reusePort ? K_REUSEPORT : 0) | (listening ? K_LISTEN : 0) | (tw ? K_TW : 0);
}

/**
 * Linux inet_bind_conflict for one existing owner kind (all sockets of one
 * stack share a uid, so the uid tests always pass):
 *  - both SO_REUSEADDR and the other not listening: no conflict when
 *    `relax` (an explicit port); port-0 searches (relax = false) avoid it;
 *  - otherwise no conflict only when both set SO_REUSEPORT and reuseport
 *    sharing is allowed for this call (`reuseportOk`).
 */
export function kindConflicts(
  reuse: boolean,
  reusePort: boolean,
  other: number,
  relax: boolean,
  reuseportOk: boolean,
): boolean {
  const reuse2 = (other & K_REUSE) !== 0;
  const rp2 = (other & K_REUSEPORT) !== 0;
  const listen2 = (other & K_LISTEN) !== 0;
  if (reuse && reuse2 && !listen2) {
    return !relax || (!reuseportOk && reusePort && rp2);
  }
  return !reuseportOk || !reusePort || !rp2;
}

/**
 * Does binding `b` with these flags conflict with the bucket's owners?
 * `self` (kind) is subtracted once from the slot equal to `b` (a socket
 * re-checked at listen() is already an owner).
 */
export function bucketConflicts(
  bucket: BindBucket,
  b: BoundAddr,
  reuse: boolean,
  reusePort: boolean,
  relax: boolean,
  reuseportOk: boolean,
  selfKind = -1,
): boolean {
  for (const s of bucket.slots) {
    if (!overlaps(s.bound, b)) continue;
    const isSelfSlot = selfKind >= 0 && sameBound(s.bound, b);
    for (let k = 0; k < 16; k++) {
      let n = s.counts[k];
      if (isSelfSlot && k === selfKind) n--;
      if (n > 0 && kindConflicts(reuse, reusePort, k, relax, reuseportOk)) return true;
    }
  }
  return false;
}
