/**
 * The connection tables of one stack (Linux's inet_hashinfo and friends):
 * established hash, compact TIME_WAIT tables, bind buckets, listeners, and
 * the two port choices Linux makes (bind() to port 0, and connect()).
 *
 * What is reproduced, and from where (observed on Linux 6.18 in a network
 * namespace, see test/inet/*.test.ts for the recorded experiments):
 *  - bind(): EINVAL when already bound; EADDRNOTAVAIL for an address the
 *    stack does not own (unless ip_nonlocal_bind); EADDRINUSE on a conflict
 *    with any owner of the port, full socket or TIME_WAIT entry, whose
 *    address overlaps, unless both set SO_REUSEADDR and the other is not
 *    listening, or both set SO_REUSEPORT.
 *  - bind() to port 0 and listen() without bind: a random odd offset into
 *    the range, odd ports first then even (connect() prefers the other
 *    parity), the lower half of the range first for SO_REUSEADDR sockets,
 *    ip_local_reserved_ports skipped, ip_autobind_reuse honoured.
 *  - connect(): RFC 6056 §3.3.4 algorithm 4 as Linux implements it: offset =
 *    perturb[h & 0xffff] + (h >> 32) where h = SipHash(laddr, raddr, rport);
 *    even ports (the range's low parity) first, then odd; ports whose bucket
 *    bind() created are skipped; a port is taken when its 4-tuple is free in
 *    the established table, or held by a TIME_WAIT entry that may be taken
 *    over; then perturb[..] advances by max(i, rand(8)*2) + 2. A per-socket
 *    IP_LOCAL_PORT_RANGE scans in steps of 1 without the parity rule.
 *  - TIME_WAIT takeover (Linux tcp_twsk_unique): needs timestamps on the old
 *    connection; for a socket bound to its port that is all; for a port the
 *    search is choosing it also needs tcp_tw_reuse (2 = when either address
 *    is loopback), the entry not in the FIN_WAIT2 sub-state, and
 *    tcp_tw_reuse_delay ms since the entry was made. The new connection
 *    starts at old snd_nxt + 65537 with the old TS.Recent; TcpExtTWRecycled.
 */
import type { Counters } from '../counters.js';
import { SysError } from '../errno.js';
import type { Rng } from '../rng.js';
import type { Sysctl } from '../sysctl.js';
import type { TimerWheel } from '../time/timer-wheel.js';
import { type IpAddr, v4Mapped } from '../wire/addr.js';
import { hashTuple, isAnyAddr, isLoopbackAddr, isV4Wire, sameAddr, v4Word, wireAddr } from './addr-key.js';
import {
  BindBucket,
  type BoundAddr,
  boundAddrOf,
  bucketConflicts,
  K_LISTEN,
  kindOf,
} from './bind-buckets.js';
import { DestPorts } from './dest-ports.js';
import { EstablishedTable } from './established-table.js';
import { effectiveRange, type PortRange, ReservedPorts } from './local-ports.js';
import { InetSecrets } from './secrets.js';
import { type TimeWaitInit, TimeWaitTable, TW_ACTIVE, TW_REUSE, TW_REUSEPORT } from './timewait-table.js';

/** What the tables need of a socket (TCP control blocks implement it). */
export interface InetSock {
  family: 4 | 6;
  v6only: boolean;
  /** null = wildcard (not bound to an address). */
  laddr: IpAddr | null;
  lport: number;
  raddr: IpAddr | null;
  rport: number;
  reuseAddr: boolean;
  reusePort: boolean;
  bindAddressNoPort: boolean;
  /** IP_LOCAL_PORT_RANGE value (hi << 16 | lo), 0 = unset. */
  localPortRange: number;
  listening: boolean;
  /**
   * The tables' own record of the socket (its port registration), kept on
   * the socket so that the per-connection paths need no Map lookup. Owned
   * by InetTables: others leave it alone (initialise it to null).
   */
  inetReg?: unknown;
}

/** The parts of a stack the tables use (a Stack or TcpHost satisfies it). */
export interface InetHost {
  readonly now: number;
  readonly sysctl: Sysctl;
  readonly counters: Counters;
  readonly rng: Rng;
  readonly timers: TimerWheel;
  readonly ip: {
    route(dst: IpAddr, src?: IpAddr): { src: IpAddr } | null;
    isLocal(addr: IpAddr): boolean;
  };
}

/** What connect() reports when it took over a TIME_WAIT entry. */
export interface TwTakeover {
  /** The new connection's ISN: old snd_nxt + 65537 (never 0). */
  isn: number;
  /** Timestamp state carried over from the old connection. */
  tsRecent: number;
  tsRecentStamp: number;
  tsOffset: number;
}

/** TIME_WAIT ids: IPv4-table rows as is, IPv6-table rows from this base up. */
export const TW6_BASE = 1 << 30;

/** Linux INET_TABLE_PERTURB_SIZE (1 << CONFIG_INET_TABLE_PERTURB_ORDER, 16). */
const PERTURB_SIZE = 1 << 16;

interface Reg {
  bucket: BindBucket;
  bound: BoundAddr;
  kind: number;
  /** The port was chosen by connect() or inherited from a listener: released when the connection leaves the hash. */
  autoPort: boolean;
  /** connect() put the socket in the established hash (it is tracked in destEst). */
  active: boolean;
}

function regOf(sock: InetSock): Reg | null {
  return (sock.inetReg as Reg | null | undefined) ?? null;
}

export class InetTables<S extends InetSock> {
  readonly established: EstablishedTable<S>;
  readonly tw4: TimeWaitTable;
  readonly tw6: TimeWaitTable;
  readonly secrets: InetSecrets;
  /** Bind bucket per port (an array: the connect() scan looks at every port). */
  private readonly buckets: (BindBucket | undefined)[] = new Array(65536).fill(undefined);
  /** Ports in use per destination by active opens (destEst) and by their TIME_WAIT entries (destTw). */
  readonly destEst: DestPorts;
  readonly destTw: DestPorts;
  private readonly listeners = new Map<number, S[]>();
  /** Sockets whose local address the user chose (bind), as Linux SOCK_BINDADDR_LOCK. */
  private readonly addrLocked = new Set<S>();
  private readonly reserved = new ReservedPorts();
  private readonly range: PortRange = { low: 0, high: 0, perSocket: false };
  private perturb: Uint32Array | null = null;
  private readonly portRng: Rng;
  private readonly listenSeed: number;
  private readonly host: InetHost;
  private readonly cTW: number;
  private readonly cTWKilled: number;
  private readonly cTWRecycled: number;
  private readonly cOverflow: number;
  private readonly scratch4 = new Uint8Array(4);
  private readonly scratch16 = new Uint8Array(16);

  constructor(host: InetHost) {
    this.host = host;
    const rng = host.rng.fork();
    this.secrets = new InetSecrets(rng);
    this.portRng = rng.fork();
    this.listenSeed = rng.u32();
    this.established = new EstablishedTable<S>(rng.u32());
    this.destEst = new DestPorts(rng.u32());
    this.destTw = new DestPorts(rng.u32());
    this.tw4 = new TimeWaitTable(1, host.timers, rng.u32());
    this.tw6 = new TimeWaitTable(4, host.timers, rng.u32());
    this.tw4.onExpire = (t, i) => this.dropTimeWait(t, i);
    this.tw6.onExpire = (t, i) => this.dropTimeWait(t, i);
    const c = host.counters;
    this.cTW = c.id('TcpExtTW');
    this.cTWKilled = c.id('TcpExtTWKilled');
    this.cTWRecycled = c.id('TcpExtTWRecycled');
    this.cOverflow = c.id('TcpExtTCPTimeWaitOverflow');
  }

  // ------------------------------------------------------------ bind

  /**
   * bind(2). `addr` null or a wildcard binds every address. Port 0 picks a
   * port now, unless IP_BIND_ADDRESS_NO_PORT defers it to connect().
   */
  bind(sock: S, addr: IpAddr | null, port: number): void {
    // Linux __inet_bind: EINVAL once a port is held; an address bound with
    // IP_BIND_ADDRESS_NO_PORT alone may still be bound again.
    if (regOf(sock) !== null || sock.lport !== 0) throw new SysError('EINVAL', 'bind');
    let laddr: IpAddr | null = null;
    if (addr !== null && !isAnyAddr(addr)) {
      if (sock.family === 6 && addr.length === 16 && isV4Wire(addr) && sock.v6only)
        throw new SysError('EINVAL', 'bind');
      if (!this.host.ip.isLocal(wireAddr(addr)) && !this.host.sysctl.v['net.ipv4.ip_nonlocal_bind'])
        throw new SysError('EADDRNOTAVAIL', 'bind');
      laddr = addr.slice();
    } else if (addr !== null && sock.family === 6 && addr.length === 16 && isV4Wire(addr)) {
      // ::ffff:0.0.0.0 on a dual-stack socket: the IPv4 wildcard only.
      if (sock.v6only) throw new SysError('EINVAL', 'bind');
      laddr = addr.slice();
    }
    const bound = boundAddrOf(sock.family, sock.v6only, laddr);
    if (port === 0) {
      if (sock.bindAddressNoPort) {
        sock.laddr = laddr;
        if (laddr !== null) this.addrLocked.add(sock);
        return;
      }
      port = this.findOpenPort(sock, bound);
      if (port < 0) throw new SysError('EADDRINUSE', 'bind');
    } else {
      const b = this.buckets[port];
      if (b !== undefined && bucketConflicts(b, bound, sock.reuseAddr, sock.reusePort, true, true))
        throw new SysError('EADDRINUSE', 'bind');
    }
    this.join(sock, port, bound, kindOf(sock.reuseAddr, sock.reusePort, false, false), false, false);
    sock.laddr = laddr;
    sock.lport = port;
    if (laddr !== null) this.addrLocked.add(sock);
  }

  /** Release the socket's port (close, or a failed connect on an autobound socket). Idempotent. */
  unbind(sock: S): void {
    if (sock.listening) this.unlisten(sock);
    this.addrLocked.delete(sock);
    const r = regOf(sock);
    if (r === null) return;
    if (r.active && this.established.remove(sock)) {
      // Still hashed (a caller that unbinds without removeEstablished first).
      this.destEst.remove(sock.laddr!, sock.lport, sock.raddr!, sock.rport);
    }
    sock.inetReg = null;
    this.release(r.bucket, r.bound, r.kind);
  }

  /** Whether the socket holds a port in the bind table. */
  isBound(sock: S): boolean {
    return regOf(sock) !== null;
  }

  // ------------------------------------------------------------ listen

  /** listen(2): autobinds like bind(port 0) when unbound; EADDRINUSE next to another listener. */
  listen(sock: S): void {
    if (sock.listening) return;
    let r = regOf(sock);
    if (r === null) {
      const bound = boundAddrOf(sock.family, sock.v6only, sock.laddr);
      const port = this.findOpenPort(sock, bound);
      if (port < 0) throw new SysError('EADDRINUSE', 'listen');
      this.join(sock, port, bound, kindOf(sock.reuseAddr, sock.reusePort, false, false), false, false);
      sock.lport = port;
      r = regOf(sock)!;
    } else if (bucketConflicts(r.bucket, r.bound, sock.reuseAddr, sock.reusePort, true, true, r.kind)) {
      throw new SysError('EADDRINUSE', 'listen');
    }
    const b = r.bucket;
    b.sub(r.bound, r.kind);
    r.kind |= K_LISTEN;
    b.add(r.bound, r.kind);
    // A listener never lets others share the port through SO_REUSEADDR (inet_csk_update_fastreuse).
    b.fastreuse = 0;
    if (!sock.reusePort) b.fastreuseport = 0;
    else if (b.fastreuseport <= 0) b.fastreuseport = 1;
    sock.listening = true;
    let l = this.listeners.get(sock.lport);
    if (l === undefined) this.listeners.set(sock.lport, (l = []));
    l.push(sock);
  }

  unlisten(sock: S): void {
    if (!sock.listening) return;
    sock.listening = false;
    const l = this.listeners.get(sock.lport);
    if (l !== undefined) {
      const i = l.indexOf(sock);
      if (i >= 0) l.splice(i, 1);
      if (l.length === 0) this.listeners.delete(sock.lport);
    }
    const r = regOf(sock);
    if (r !== null && (r.kind & K_LISTEN) !== 0) {
      r.bucket.sub(r.bound, r.kind);
      r.kind &= ~K_LISTEN;
      r.bucket.add(r.bound, r.kind);
    }
  }

  /**
   * The listener for a SYN to (laddr, lport) from (raddr, rport): an exact
   * address beats a wildcard, an IPv4 socket beats a dual-stack IPv6 one
   * for IPv4 traffic (Linux compute_score); within a SO_REUSEPORT group the
   * choice is a hash of the 4-tuple scaled to the group size
   * (reuseport_select_sock with reciprocal_scale).
   */
  lookupListener(_family: 4 | 6, laddr: IpAddr, lport: number, raddr: IpAddr, rport: number): S | null {
    const l = this.listeners.get(lport);
    if (l === undefined) return null;
    const v4 = isV4Wire(laddr);
    let best: S | null = null;
    let bestScore = -1;
    for (let i = 0; i < l.length; i++) {
      const s = l[i];
      const sc = listenScore(s, laddr, v4);
      if (sc > bestScore) {
        best = s;
        bestScore = sc;
      }
    }
    if (best === null || !best.reusePort) return best;
    let n = 0;
    for (let i = 0; i < l.length; i++) if (sameGroup(l[i], best)) n++;
    if (n === 1) return best;
    const h = hashTuple(raddr, rport, laddr, lport, this.listenSeed);
    let k = Math.floor((h * n) / 4294967296);
    for (let i = 0; i < l.length; i++) if (sameGroup(l[i], best) && k-- === 0) return l[i];
    return best;
  }

  // ------------------------------------------------------------ connect

  /**
   * connect(2)'s part in the tables: pick the source address (route) when
   * unbound and the source port when none is bound, check the 4-tuple is
   * unique (taking over a TIME_WAIT entry when allowed) and insert the
   * socket into the established hash. Throws EADDRNOTAVAIL when no port or
   * tuple is available, ENETUNREACH without a route. Returns the takeover
   * details when a TIME_WAIT entry was replaced, else null. `routeSrc`: the
   * source address of the route to `raddr` when the caller already looked it
   * up (TCP does, for the MSS), so the route is not looked up twice.
   */
  connect(sock: S, raddr: IpAddr, rport: number, routeSrc: IpAddr | null = null): TwTakeover | null {
    const now = this.host.now;
    if (sock.family === 6 && raddr.length === 16 && isV4Wire(raddr) && sock.v6only)
      throw new SysError('ENETUNREACH', 'connect');
    const oldLaddr = sock.laddr;
    let laddr = sock.laddr;
    if (laddr === null || isAnyAddr(laddr)) {
      let src = routeSrc;
      if (src === null) {
        const rt = this.host.ip.route(wireAddr(raddr));
        if (rt === null) throw new SysError('ENETUNREACH', 'connect');
        src = rt.src;
      }
      laddr = raddr.length === 16 && isV4Wire(raddr) ? v4Mapped(src) : src.slice();
    }
    let tw = -1;
    const r = regOf(sock);
    if (r !== null) {
      // The port is the socket's own (bind): only the 4-tuple must be unique.
      if (this.established.find(laddr, sock.lport, raddr, rport) !== null)
        throw new SysError('EADDRNOTAVAIL', 'connect');
      tw = this.lookupTimeWait(4, laddr, sock.lport, raddr, rport);
      if (tw >= 0 && !this.twUnique(tw, false, now)) throw new SysError('EADDRNOTAVAIL', 'connect');
      // Now bound to the specific source address (Linux moves it in bhash2).
      const nb = boundAddrOf(sock.family, sock.v6only, laddr);
      r.bucket.sub(r.bound, r.kind);
      r.bound = nb;
      r.bucket.add(nb, r.kind);
      sock.laddr = laddr;
    } else {
      sock.laddr = laddr;
      const port = this.hashConnect(sock, laddr, raddr, rport, now);
      if (port < 0) {
        sock.laddr = oldLaddr;
        throw new SysError('EADDRNOTAVAIL', 'connect');
      }
      tw = this.lastTw;
      sock.lport = port;
    }
    let takeover: TwTakeover | null = null;
    if (tw >= 0) takeover = this.takeOver(tw, now);
    sock.raddr = raddr.slice();
    sock.rport = rport;
    this.established.insert(sock);
    (regOf(sock) as Reg).active = true;
    this.destEst.add(laddr, sock.lport, raddr, rport);
    return takeover;
  }

  // ------------------------------------------------------------ established

  /** A passive open's child (it shares the listener's port, Linux inet_inherit_port). */
  insertEstablished(sock: S): void {
    this.established.insert(sock);
    if (regOf(sock) === null) {
      const bound = this.boundOf(sock.family, sock.v6only, sock.laddr);
      this.join(sock, sock.lport, bound, kindOf(sock.reuseAddr, sock.reusePort, false, false), true, true);
    }
  }

  /** Out of the established hash; a port chosen by connect() or inherited is released with it. */
  removeEstablished(sock: S): void {
    const r = regOf(sock);
    if (this.established.remove(sock) && r?.active) {
      r.active = false;
      this.destEst.remove(sock.laddr!, sock.lport, sock.raddr!, sock.rport);
    }
    if (r?.autoPort) {
      sock.inetReg = null;
      this.release(r.bucket, r.bound, r.kind);
    }
  }

  lookupEstablished(_family: 4 | 6, laddr: IpAddr, lport: number, raddr: IpAddr, rport: number): S | null {
    return this.established.find(laddr, lport, raddr, rport);
  }

  // ------------------------------------------------------------ TIME_WAIT

  /** The TIME_WAIT entry for this 4-tuple (an id for twTable/twRow), or -1. */
  lookupTimeWait(_family: 4 | 6, laddr: IpAddr, lport: number, raddr: IpAddr, rport: number): number {
    if (isV4Wire(laddr)) return this.tw4.find(laddr, lport, raddr, rport);
    const i = this.tw6.find(laddr, lport, raddr, rport);
    return i < 0 ? -1 : TW6_BASE + i;
  }

  twTable(id: number): TimeWaitTable {
    return id >= TW6_BASE ? this.tw6 : this.tw4;
  }

  twRow(id: number): number {
    return id >= TW6_BASE ? id - TW6_BASE : id;
  }

  /** Entries held (both sub-states, both families): what tcp_max_tw_buckets limits. */
  get timeWaitCount(): number {
    return this.tw4.size + this.tw6.size;
  }

  /**
   * A connection enters TIME_WAIT, or an orphan FIN_WAIT2 (`e.finWait2`),
   * Linux tcp_time_wait: past tcp_max_tw_buckets nothing is kept and
   * TcpExtTCPTimeWaitOverflow counts it (returns -1). The entry holds the
   * port until it goes. TcpExtTW counts it, or TcpExtTWKilled when its timer
   * is 4 s or shorter (Linux counts when the timer is first armed).
   */
  addTimeWait(e: TimeWaitInit, now: number): number {
    if (this.timeWaitCount >= this.host.sysctl.v['net.ipv4.tcp_max_tw_buckets']) {
      this.host.counters.inc(this.cOverflow);
      return -1;
    }
    const v4 = isV4Wire(e.laddr);
    const table = v4 ? this.tw4 : this.tw6;
    const row = table.insert(e, now);
    const timeout = e.finWait2 ? e.timeout : 60_000;
    this.host.counters.inc(timeout <= 4000 ? this.cTWKilled : this.cTW);
    let b = this.buckets[e.lport];
    if (b === undefined) {
      b = this.newBucket(e.lport, -1, -1);
      this.buckets[e.lport] = b;
    }
    if (e.active) this.destTw.add(e.laddr, e.lport, e.raddr, e.rport, Math.floor(now));
    b.add(this.twBound(table, row), kindOf(e.reuse, e.reusePort, false, true));
    return v4 ? row : TW6_BASE + row;
  }

  /** Remove an entry now (RST kill, SYN reopening it, takeover). */
  killTimeWait(id: number): void {
    const t = this.twTable(id);
    const i = this.twRow(id);
    if (t.isUsed(i)) this.dropTimeWait(t, i);
  }

  // ------------------------------------------------------------ secrets

  isn(laddr: IpAddr, lport: number, raddr: IpAddr, rport: number, now: number): number {
    return this.secrets.isn(laddr, lport, raddr, rport, now);
  }

  /** Per address pair; 0 when tcp_timestamps is 2 (timestamps without random offsets). */
  tsOffset(laddr: IpAddr, raddr: IpAddr): number {
    if (this.host.sysctl.v['net.ipv4.tcp_timestamps'] === 2) return 0;
    return this.secrets.tsOffset(laddr, raddr);
  }

  // ------------------------------------------------------------ internals

  private join(
    sock: S,
    port: number,
    bound: BoundAddr,
    kind: number,
    byConnect: boolean,
    autoPort: boolean,
  ): void {
    let b = this.buckets[port];
    if (b === undefined) {
      b = byConnect
        ? this.newBucket(port, -1, -1)
        : this.newBucket(port, sock.reuseAddr && !sock.listening ? 1 : 0, sock.reusePort ? 1 : 0);
      this.buckets[port] = b;
    } else if (!byConnect) {
      // inet_csk_update_fastreuse: a newcomer without SO_REUSEADDR turns the fast path off;
      // one with SO_REUSEPORT makes connect() skip the port from now on.
      if (b.owners === 0) {
        b.fastreuse = sock.reuseAddr ? 1 : 0;
        b.fastreuseport = sock.reusePort ? 1 : 0;
      } else {
        if (!sock.reuseAddr) b.fastreuse = 0;
        if (!sock.reusePort) b.fastreuseport = 0;
        else if (b.fastreuseport <= 0) b.fastreuseport = 1;
      }
    }
    b.add(bound, kind);
    const reg: Reg = { bucket: b, bound, kind, autoPort, active: false };
    sock.inetReg = reg;
  }

  private release(b: BindBucket, bound: BoundAddr, kind: number): void {
    if (b.sub(bound, kind) && this.buckets[b.port] === b) {
      this.buckets[b.port] = undefined;
      // Nobody refers to an ownerless bucket any more: keep it for the next
      // port (connect() makes and drops one per connection).
      if (this.freeBuckets.length < 64) this.freeBuckets.push(b);
    }
  }

  private newBucket(port: number, fastreuse: number, fastreuseport: number): BindBucket {
    const b = this.freeBuckets.pop();
    if (b === undefined) return new BindBucket(port, fastreuse, fastreuseport);
    b.reset(port, fastreuse, fastreuseport);
    return b;
  }

  private readonly freeBuckets: BindBucket[] = [];

  /** The bucket of a port, for tests and ss. */
  bucket(port: number): BindBucket | undefined {
    return this.buckets[port];
  }

  private twAddr(t: TimeWaitTable, i: number, local: boolean): IpAddr {
    const out = new Uint8Array(t.width * 4);
    return local ? t.copyLaddr(i, out) : t.copyRaddr(i, out);
  }

  private twBound(t: TimeWaitTable, i: number): BoundAddr {
    if (t.width === 1) return this.boundOf(4, false, t.copyLaddr(i, this.scratch4));
    // A copy: the bucket may keep it (a new address slot).
    return { fam: 6, any: false, dual: false, addr: t.copyLaddr(i, new Uint8Array(16)) };
  }

  /**
   * boundAddrOf(), shared for specific IPv4 addresses: bound addresses are
   * never modified, and connect() / accept() / TIME_WAIT look one up per
   * connection, which then cost an object and an address copy each.
   */
  private boundOf(family: 4 | 6, v6only: boolean, laddr: IpAddr | null): BoundAddr {
    if (laddr === null || !isV4Wire(laddr)) return boundAddrOf(family, v6only, laddr);
    const w = v4Word(laddr);
    if (w === 0) return boundAddrOf(family, v6only, laddr);
    const c = this.bound4.get(w);
    if (c !== undefined) return c;
    const b = boundAddrOf(family, v6only, laddr);
    // Bounded (a host has few addresses; this only guards against churn).
    if (this.bound4.size >= 1024) this.bound4.clear();
    this.bound4.set(w, b);
    return b;
  }

  private readonly bound4 = new Map<number, BoundAddr>();

  private dropTimeWait(t: TimeWaitTable, i: number): void {
    const port = t.lport(i);
    const m = t.meta[i];
    if ((m & TW_ACTIVE) !== 0)
      this.destTw.remove(this.twAddr(t, i, true), port, this.twAddr(t, i, false), t.rport(i));
    const b = this.buckets[port];
    if (b !== undefined)
      this.release(
        b,
        this.twBound(t, i),
        kindOf((m & TW_REUSE) !== 0, (m & TW_REUSEPORT) !== 0, false, true),
      );
    t.remove(i);
  }

  private takeOver(id: number, now: number): TwTakeover {
    const t = this.twTable(id);
    const i = this.twRow(id);
    let isn = (t.sndNxt[i] + 65537) >>> 0;
    if (isn === 0) isn = 1;
    const r: TwTakeover = {
      isn,
      tsRecent: t.tsRecent[i],
      // Back to the stack's absolute ms clock (the column wraps at 32 bits).
      tsRecentStamp: now - ((((Math.floor(now) >>> 0) - t.tsRecentStamp[i]) | 0) + (now - Math.floor(now))),
      tsOffset: t.tsOffset[i],
    };
    this.host.counters.inc(this.cTWRecycled);
    this.dropTimeWait(t, i);
    return r;
  }

  /**
   * Linux tcp_twsk_unique: may this connect() take the 4-tuple of entry
   * `id`? `searching` = the port search is choosing the port (Linux passes
   * twp), else the socket bound the port itself.
   */
  twUnique(id: number, searching: boolean, now: number): boolean {
    const t = this.twTable(id);
    const i = this.twRow(id);
    if (!t.hasTs(i)) return false;
    if (!searching) return true;
    let reuse = this.host.sysctl.v['net.ipv4.tcp_tw_reuse'];
    if (t.isFinWait2(i)) reuse = 0;
    if (reuse === 2) {
      const la = t.width === 1 ? t.copyLaddr(i, this.scratch4) : t.copyLaddr(i, this.scratch16);
      let loop = isLoopbackAddr(la);
      if (!loop) {
        const ra = t.width === 1 ? t.copyRaddr(i, this.scratch4) : t.copyRaddr(i, this.scratch16);
        loop = isLoopbackAddr(ra);
      }
      if (!loop) reuse = 0;
    }
    if (reuse === 0) return false;
    // time_after32(now, entry_stamp + tcp_tw_reuse_delay): strictly after.
    const thresh = (t.entryStamp[i] + this.host.sysctl.v['net.ipv4.tcp_tw_reuse_delay']) >>> 0;
    return ((thresh - (Math.floor(now) >>> 0)) | 0) < 0;
  }

  /** TIME_WAIT id the last hashConnect() decided to take over, or -1. */
  private lastTw = -1;

  /** Linux __inet_hash_connect for an unbound port: returns the port (joined) or -1. */
  private hashConnect(sock: S, laddr: IpAddr, raddr: IpAddr, rport: number, now: number): number {
    this.lastTw = -1;
    const sys = this.host.sysctl.v;
    this.reserved.update(sys['net.ipv4.ip_local_reserved_ports']);
    const rg = effectiveRange(sys['net.ipv4.ip_local_port_range'], sock.localPortRange, this.range);
    const local = rg.perSocket;
    const step = local ? 1 : 2;
    const low = rg.low;
    const high = rg.high + 1;
    let remaining = high - low;
    if (!local && remaining > 1) remaining &= ~1;
    if (remaining <= 0) return -1;
    const hlo = this.secrets.portOffset(laddr, raddr, rport);
    const hhi = this.secrets.portOffsetHi;
    let perturb = this.perturb;
    if (perturb === null) {
      // Linux fills table_perturb with random bytes once.
      perturb = this.perturb = new Uint32Array(PERTURB_SIZE);
      for (let k = 0; k < PERTURB_SIZE; k++) perturb[k] = this.portRng.u32();
    }
    const index = hlo & (PERTURB_SIZE - 1);
    let offset = ((perturb[index] + hhi) >>> 0) % remaining;
    if (!local) offset &= ~1;
    const bound = this.boundOf(sock.family, sock.v6only, laddr);
    const kind = kindOf(sock.reuseAddr, sock.reusePort, false, false);
    const dEst = this.destEst.find(laddr, raddr, rport);
    const dTw = this.destTw.find(laddr, raddr, rport);
    // Straight to the bitmap when there is one: the scan may visit the whole range.
    const estBits = dEst !== null ? dEst.bits : null;
    // Whether tcp_tw_reuse could let this search take over any TIME_WAIT
    // entry (twUnique's sysctl/loopback test, which is the same for every
    // entry of this destination). When it cannot, a port held by TIME_WAIT is
    // skipped without a lookup: a scan of an exhausted range stays a bit test
    // per port (usnet sim churn at 500 connects/s).
    const reuseSys = sys['net.ipv4.tcp_tw_reuse'];
    let twMayReuse = reuseSys === 1 || (reuseSys === 2 && (isLoopbackAddr(laddr) || isLoopbackAddr(raddr)));
    // Nor when every TIME_WAIT entry of this destination entered within the
    // last tcp_tw_reuse_delay ms (twUnique's age test fails for each): under
    // connection churn the range fills with young entries, and a lookup plus
    // twUnique per held port made the scan ~80% of a connect's cost.
    if (twMayReuse && dTw !== null && Math.floor(now) <= dTw.minStamp + sys['net.ipv4.tcp_tw_reuse_delay'])
      twMayReuse = false;
    // A port in either set has a bucket made by connect() and would be
    // skipped below anyway; testing the bitmaps first keeps the scan of a
    // mostly used range to two byte reads per port.
    const twBits = !twMayReuse && dTw !== null ? dTw.bits : null;
    const buckets = this.buckets;
    for (;;) {
      let port = low + offset;
      for (let i = 0; i < remaining; i += step, port += step) {
        if (port >= high) port -= remaining;
        if (twBits !== null || estBits !== null) {
          const byte =
            (twBits !== null ? twBits[port >>> 3] : 0) | (estBits !== null ? estBits[port >>> 3] : 0);
          if ((byte & (1 << (port & 7))) !== 0) {
            // Every port of this parity left in the byte is used too: skip them together.
            const mask = step === 1 ? 0xff : (port & 1) === 0 ? 0x55 : 0xaa;
            if ((byte & mask) === mask) {
              const skip = (((Math.min(port | 7, high - 1) - port) / step) | 0) * step;
              i += skip;
              port += skip;
            }
            continue;
          }
        }
        if (this.reserved.has(port)) continue;
        const b = buckets[port];
        if (b !== undefined) {
          // A port bind() created is never shared with connect()'s choice.
          if (b.fastreuse >= 0 || b.fastreuseport >= 0) continue;
          // Only active opens share connect()-made buckets: destEst / destTw know their 4-tuples.
          if (estBits !== null ? (estBits[port >>> 3] & (1 << (port & 7))) !== 0 : dEst?.has(port)) continue;
          if (dTw?.has(port)) {
            if (!twMayReuse) continue;
            const tw = this.lookupTimeWait(4, laddr, port, raddr, rport);
            if (tw >= 0) {
              if (!this.twUnique(tw, true, now)) continue;
              this.lastTw = tw;
            }
          }
        }
        this.join(sock, port, bound, kind, true, true);
        // Perturb the next search from this (laddr, raddr, rport) a little
        // (Linux: max(i, rand(8) * step) + step).
        const adv = Math.max(i, this.portRng.below(8) * step);
        perturb[index] = (perturb[index] + adv + step) >>> 0;
        return port;
      }
      if (local) return -1;
      offset++;
      if ((offset & 1) === 0 || remaining <= 1) return -1;
    }
  }

  /**
   * Linux inet_csk_find_open_port (bind to port 0, listen without bind):
   * odd offsets first (connect() starts with the low parity), the lower half
   * of the range first for SO_REUSEADDR sockets, every owner of an
   * overlapping address a conflict; ip_autobind_reuse relaxes that last.
   */
  private findOpenPort(sock: S, bound: BoundAddr): number {
    const sys = this.host.sysctl.v;
    this.reserved.update(sys['net.ipv4.ip_local_reserved_ports']);
    let relax = false;
    for (let round = 0; round < 2; round++) {
      let attemptHalf = sock.reuseAddr ? 1 : 0;
      for (;;) {
        const rg = effectiveRange(sys['net.ipv4.ip_local_port_range'], sock.localPortRange, this.range);
        let low = rg.low;
        let high = rg.high + 1;
        if (high - low < 4) attemptHalf = 0;
        if (attemptHalf !== 0) {
          const half = low + (((high - low) >> 2) << 1);
          if (attemptHalf === 1) high = half;
          else low = half;
        }
        let remaining = high - low;
        if (remaining > 1) remaining &= ~1;
        let offset = this.portRng.below(remaining) | 1;
        for (;;) {
          let port = low + offset;
          for (let i = 0; i < remaining; i += 2, port += 2) {
            if (port >= high) port -= remaining;
            if (this.reserved.has(port)) continue;
            const b = this.buckets[port];
            if (b === undefined) return port;
            if (!bucketConflicts(b, bound, sock.reuseAddr, sock.reusePort, relax, false)) return port;
          }
          offset--;
          if ((offset & 1) !== 0) break;
        }
        if (attemptHalf === 1) {
          attemptHalf = 2;
          continue;
        }
        break;
      }
      if (!sys['net.ipv4.ip_autobind_reuse'] || relax) break;
      relax = true;
    }
    return -1;
  }
}

/** Listener match quality for a SYN to `laddr` (-1: no match). */
function listenScore(s: InetSock, laddr: IpAddr, v4: boolean): number {
  const a = s.laddr;
  const wild = a === null || isAnyAddr(a);
  if (v4) {
    if (s.family === 6 && s.v6only) return -1;
    if (!wild) {
      if (!isV4Wire(a!) || !sameAddr(a!, laddr)) return -1;
      return s.family === 4 ? 5 : 4;
    }
    return s.family === 4 || (a !== null && isV4Wire(a)) ? 3 : 2;
  }
  if (s.family === 4) return -1;
  if (!wild) return isV4Wire(a!) || !sameAddr(a!, laddr) ? -1 : 5;
  if (a !== null && isV4Wire(a)) return -1; // ::ffff:0.0.0.0 takes IPv4 only
  return 3;
}

/** Same SO_REUSEPORT group: both reuseport, same family and bound address. */
function sameGroup(a: InetSock, b: InetSock): boolean {
  if (!a.reusePort || !b.reusePort || a.family !== b.family) return false;
  if (a.laddr === null || b.laddr === null) return a.laddr === b.laddr;
  return sameAddr(a.laddr, b.laddr);
}
