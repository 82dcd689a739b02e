/** A minimal host for the connection tables: sysctl, counters, rng, wheel, and a fake IP layer. */
import { Counters } from '../../src/counters.js';
import type { InetSock } from '../../src/inet/inet-tables.js';
import { InetTables } from '../../src/inet/inet-tables.js';
import { Rng } from '../../src/rng.js';
import { Sysctl } from '../../src/sysctl.js';
import { TimerWheel } from '../../src/time/timer-wheel.js';
import { type IpAddr, mustParseAddr } from '../../src/wire/addr.js';

export class FakeHost {
  now = 0;
  readonly sysctl: Sysctl;
  readonly counters = new Counters();
  readonly rng: Rng;
  readonly timers = new TimerWheel(0);
  readonly local: IpAddr[];
  readonly ip = {
    route: (dst: IpAddr): { src: IpAddr } | null => {
      if (dst.length === 4) return { src: dst[0] === 127 ? mustParseAddr('127.0.0.1') : this.local[0] };
      return { src: this.local.find((a) => a.length === 16) ?? mustParseAddr('::1') };
    },
    isLocal: (a: IpAddr): boolean =>
      (a.length === 4 && a[0] === 127) ||
      (a.length === 16 && a[15] === 1 && a.slice(0, 15).every((x) => x === 0)) ||
      this.local.some((l) => l.length === a.length && l.every((x, i) => x === a[i])),
  };
  constructor(
    seed = 1,
    sysctl?: Record<string, number | string | number[]>,
    local = ['198.18.0.1', 'fd00::1'],
  ) {
    this.rng = new Rng(seed);
    this.sysctl = new Sysctl(sysctl);
    this.local = local.map(mustParseAddr);
  }
  /** Move time forward, firing timers. */
  advance(to: number): void {
    this.now = to;
    this.timers.advance(to);
  }
}

export class Sock implements InetSock {
  v6only = false;
  laddr: IpAddr | null = null;
  lport = 0;
  raddr: IpAddr | null = null;
  rport = 0;
  reuseAddr = false;
  reusePort = false;
  bindAddressNoPort = false;
  localPortRange = 0;
  listening = false;
  constructor(
    public family: 4 | 6 = 4,
    opts: Partial<InetSock> = {},
  ) {
    Object.assign(this, opts);
  }
}

export function setup(seed = 1, sysctl?: Record<string, number | string | number[]>) {
  const host = new FakeHost(seed, sysctl);
  const tables = new InetTables<Sock>(host);
  return { host, tables };
}

export const A = (s: string): IpAddr => mustParseAddr(s);

/** The errno code a call throws, or 'OK'. */
export function errOf(f: () => unknown): string {
  try {
    f();
    return 'OK';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

import { newTimeWaitInit } from '../../src/inet/timewait-table.js';

/**
 * Close a connected socket into TIME_WAIT as TCP does (Linux tcp_time_wait):
 * the entry is added, then the socket leaves the established hash and its
 * bind bucket. Returns the entry id (or -1 past tcp_max_tw_buckets).
 */
export function closeToTimeWait(
  tables: InetTables<Sock>,
  s: Sock,
  now: number,
  opts: { ts?: boolean; finWait2?: boolean; timeout?: number; sndNxt?: number; active?: boolean } = {},
): number {
  const e = newTimeWaitInit();
  e.laddr = s.laddr!;
  e.lport = s.lport;
  e.raddr = s.raddr!;
  e.rport = s.rport;
  e.sndNxt = opts.sndNxt ?? 1000;
  e.rcvNxt = 5000;
  e.rcvWnd = 65535;
  e.hasTs = opts.ts ?? true;
  e.tsRecent = e.hasTs ? 777 : 0;
  e.tsRecentStamp = now;
  e.finWait2 = opts.finWait2 ?? false;
  e.timeout = opts.timeout ?? 60_000;
  e.reuse = s.reuseAddr;
  e.reusePort = s.reusePort;
  e.v6sock = s.family === 6;
  e.active = opts.active ?? true;
  const id = tables.addTimeWait(e, now);
  tables.removeEstablished(s);
  tables.unbind(s);
  return id;
}
