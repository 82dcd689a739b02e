/**
 * What the TCP layer needs from the stack around it. `Stack` satisfies this
 * structurally; test harnesses provide their own (a fake IP layer that
 * captures segments).
 */
import type { Counters } from '../counters.js';
import type { IpLayerApi } from '../ip/types.js';
import type { Rng } from '../rng.js';
import type { Sysctl } from '../sysctl.js';
import type { TimerWheel } from '../time/timer-wheel.js';
import type { IpAddr } from '../wire/addr.js';

export interface TcpHost {
  /** Current time in ms (the stack's clock, set by advance()). */
  readonly now: number;
  readonly sysctl: Sysctl;
  readonly counters: Counters;
  readonly rng: Rng;
  readonly timers: TimerWheel;
  readonly ip: IpLayerApi;
  /** Queue a socket's onEvent for when the stack finishes the current input/timer run (Stack.wake). */
  wake?(w: { wakeQueued: boolean; fireEvents(): void }): void;
}

/**
 * The connection tables as TCP uses them (docs/internals.md "inet/"),
 * implemented by src/inet's InetTables.
 */
export interface TcpTables<S> {
  bind(sock: S, addr: IpAddr | null, port: number): void;
  unbind(sock: S): void;
  listen(sock: S): void;
  unlisten(sock: S): void;
  /** `routeSrc`: the route's source address when the caller has looked the route up already. */
  connect(sock: S, raddr: IpAddr, rport: number, routeSrc?: IpAddr | null): TwTakeoverInfo | null;
  insertEstablished(sock: S): void;
  removeEstablished(sock: S): void;
  lookupEstablished(family: 4 | 6, laddr: IpAddr, lport: number, raddr: IpAddr, rport: number): S | null;
  lookupTimeWait(family: 4 | 6, laddr: IpAddr, lport: number, raddr: IpAddr, rport: number): number;
  lookupListener(family: 4 | 6, laddr: IpAddr, lport: number, raddr: IpAddr, rport: number): S | null;
  isn(laddr: IpAddr, lport: number, raddr: IpAddr, rport: number, now: number): number;
  tsOffset(laddr: IpAddr, raddr: IpAddr): number;
}

/** What connect() learns when it took over a TIME_WAIT entry. */
export interface TwTakeoverInfo {
  /** ISN to use (old snd_nxt + 65537). */
  isn: number;
  /** Timestamp state carried over (ts_recent and when it was taken). */
  tsRecent: number;
  tsRecentStamp: number;
  tsOffset: number;
}
