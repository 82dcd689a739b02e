/**
 * Scenario `churn`: a client host opens short-lived TCP connections to one
 * server address:port at a steady rate in virtual time, each carrying a tiny
 * request and response and then closing. It shows how TIME_WAIT piles up on
 * whichever side closes first, and how the client's ephemeral ports (one
 * per 4-tuple toward a single destination) run out: EADDRNOTAVAIL once
 * rate × 60 s (TCP_TIMEWAIT_LEN) exceeds ip_local_port_range, unless
 * tcp_tw_reuse (with timestamps), tcp_max_tw_buckets or the server closing
 * first frees ports earlier. Samples every virtual second.
 *
 * Browser-clean: no clock reads, no timers; everything runs in a World.
 */

import type { InetTables } from '../../inet/inet-tables.js';
import { MemoryWire } from '../../link/memory-wire.js';
import { POLLERR, POLLHUP, POLLIN, POLLOUT } from '../../socket/poll.js';
import type { TcpSocket } from '../../socket/tcp-socket.js';
import { Stack } from '../../stack.js';
import type { Tcb } from '../../tcp/tcb.js';
import { TcpLayer } from '../../tcp/tcp.js';
import { mustParseAddr } from '../../wire/addr.js';
import { World } from '../world.js';

export const CLIENT_ADDR = '198.18.0.1';
export const SERVER_ADDR = '198.18.0.2';

/** Hard bounds, whatever the options say. */
export const CHURN_LIMITS = {
  maxDurationS: 3600,
  maxConnections: 2_000_000,
  maxRate: 100_000,
} as const;

export interface ChurnOptions {
  /** New connections per virtual second. Default 500. */
  rate?: number;
  /** Virtual seconds during which connections are opened. Default 180. */
  durationS?: number;
  /** Who closes first: 'client' (default: the client holds TIME_WAIT) or 'server'. */
  closer?: 'client' | 'server';
  /** Sysctl overrides for both hosts (Linux names, values as `sysctl -w` takes them). */
  sysctl?: Record<string, string | number>;
  /** Sysctl overrides for the client only / the server only (applied after `sysctl`). */
  clientSysctl?: Record<string, string | number>;
  serverSysctl?: Record<string, string | number>;
  /** net.ipv4.tcp_timestamps on both hosts (shortcut; default: the sysctl default, on). */
  timestamps?: boolean;
  /** Server port. Default 80. */
  port?: number;
  /** One-way delay of the wire, ms. Default 0.25 (RTT 0.5 ms). */
  delayMs?: number;
  /** Request and response sizes, bytes. Defaults 64 and 256. */
  requestBytes?: number;
  responseBytes?: number;
  /** Stop opening connections after this many attempts (bound). Default 1,000,000. */
  maxConnections?: number;
  /** Virtual seconds to keep running after the last connect, to let connections finish. Default 5. */
  drainS?: number;
  seed?: number;
  /** Called after each connect() that found a port, with that port and the virtual time (ms). */
  onConnect?: (port: number, tMs: number) => void;
  /** Called with each per-second sample as it is taken. */
  onSample?: (s: ChurnSample) => void;
}

/** One line per virtual second; counts are for that second unless named total. */
export interface ChurnSample {
  /** End of the second, s. */
  t: number;
  attempted: number;
  /** connect() accepted (EINPROGRESS: a port was found). */
  started: number;
  /** Request/response exchanges completed. */
  ok: number;
  eaddrnotavail: number;
  /** Other failures (refused, reset, timed out). */
  failed: number;
  /** TIME_WAIT entries now (incl. the FIN_WAIT2 sub-state of orphans). */
  clientTw: number;
  serverTw: number;
  /** Client ports held toward the server (live connections + TIME_WAIT). */
  portsInUse: number;
  /** Totals since the start. */
  twRecycled: number;
  twOverflowClient: number;
  twOverflowServer: number;
}

export interface ChurnResult {
  options: {
    rate: number;
    durationS: number;
    closer: 'client' | 'server';
    port: number;
    delayMs: number;
    requestBytes: number;
    responseBytes: number;
    maxConnections: number;
  };
  /** Effective client/server sysctls that matter here. */
  client: HostSettings;
  server: HostSettings;
  samples: ChurnSample[];
  totals: {
    attempted: number;
    started: number;
    ok: number;
    eaddrnotavail: number;
    failed: number;
    /** Virtual time of the first EADDRNOTAVAIL, s, or null. */
    firstEaddrnotavailS: number | null;
    /** The largest client / server TIME_WAIT count seen at a sample. */
    peakClientTw: number;
    peakServerTw: number;
    peakPortsInUse: number;
    /** nstat counters at the end. */
    client: Record<string, number>;
    server: Record<string, number>;
    /** Virtual time simulated, s; World steps taken. */
    virtualS: number;
    steps: number;
    /** Why the run stopped opening connections: 'duration' or 'max-connections'. */
    stoppedBy: 'duration' | 'max-connections';
  };
}

export interface HostSettings {
  portRange: [number, number];
  portCount: number;
  twReuse: number;
  twReuseDelayMs: number;
  timestamps: number;
  maxTwBuckets: number;
}

const COUNTERS = [
  'TcpActiveOpens',
  'TcpPassiveOpens',
  'TcpExtTW',
  'TcpExtTWKilled',
  'TcpExtTWRecycled',
  'TcpExtTCPTimeWaitOverflow',
  'TcpExtTCPAbortOnClose',
  'TcpEstabResets',
  'TcpAttemptFails',
  'TcpOutRsts',
] as const;

function settingsOf(s: Stack): HostSettings {
  const v = s.sysctl.v;
  const r = v['net.ipv4.ip_local_port_range'] as number[];
  return {
    portRange: [r[0], r[1]],
    portCount: r[1] - r[0] + 1,
    twReuse: v['net.ipv4.tcp_tw_reuse'] as number,
    twReuseDelayMs: v['net.ipv4.tcp_tw_reuse_delay'] as number,
    timestamps: v['net.ipv4.tcp_timestamps'] as number,
    maxTwBuckets: v['net.ipv4.tcp_max_tw_buckets'] as number,
  };
}

function counters(s: Stack): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of COUNTERS) out[n] = s.counters.get(n);
  return out;
}

function bounded(name: string, v: number, lo: number, hi: number): number {
  if (!Number.isFinite(v) || v < lo || v > hi)
    throw new RangeError(`churn: ${name} must be in [${lo}, ${hi}], got ${v}`);
  return v;
}

/** Per-connection state for the client side. */
class ClientConn {
  got = 0;
  sent = false;
  done = false;
  constructor(
    readonly sim: ChurnSim,
    readonly sock: TcpSocket,
  ) {
    sock.onEvent = (ev) => this.onEvent(ev);
  }
  onEvent(ev: number): void {
    const sim = this.sim;
    const s = this.sock;
    if (this.done) return;
    if (ev & POLLERR) {
      sim.finish(this, false);
      return;
    }
    if (!this.sent && ev & POLLOUT && s.state === 'ESTABLISHED') {
      s.send(sim.request, 0, sim.request.length);
      this.sent = true;
    }
    if (ev & (POLLIN | POLLHUP)) {
      for (;;) {
        if (!(s.poll() & (POLLIN | POLLHUP))) break;
        let n: number;
        try {
          n = s.recvInto(sim.scratch, 0, sim.scratch.length);
        } catch (e) {
          if ((e as { code?: string }).code === 'EAGAIN') break;
          sim.finish(this, false);
          return;
        }
        if (n === 0) {
          // End of stream: the server closed first (or gave up).
          sim.finish(this, this.got >= sim.responseBytes);
          return;
        }
        this.got += n;
        if (this.got >= sim.responseBytes && sim.closer === 'client') {
          sim.finish(this, true);
          return;
        }
      }
    }
  }
}

/** Per-connection state for the server side. */
class ServerConn {
  got = 0;
  replied = false;
  constructor(
    readonly sim: ChurnSim,
    readonly sock: TcpSocket,
  ) {
    sock.onEvent = () => this.onEvent();
    this.onEvent();
  }
  onEvent(): void {
    const sim = this.sim;
    const s = this.sock;
    for (;;) {
      const ev = s.poll();
      if (ev & POLLERR) {
        s.close();
        return;
      }
      if (!(ev & (POLLIN | POLLHUP))) return;
      let n: number;
      try {
        n = s.recvInto(sim.scratch, 0, sim.scratch.length);
      } catch (e) {
        if ((e as { code?: string }).code === 'EAGAIN') return;
        s.close();
        return;
      }
      if (n === 0) {
        // The client closed first: close our side too (we go LAST_ACK, the client TIME_WAIT).
        s.close();
        return;
      }
      this.got += n;
      if (!this.replied && this.got >= sim.request.length) {
        this.replied = true;
        s.send(sim.response, 0, sim.response.length);
        if (sim.closer === 'server') {
          s.close();
          return;
        }
      }
    }
  }
}

class ChurnSim {
  readonly world: World;
  readonly client: Stack;
  readonly server: Stack;
  readonly ctcp: TcpLayer;
  readonly stcp: TcpLayer;
  readonly request: Uint8Array;
  readonly response: Uint8Array;
  readonly responseBytes: number;
  readonly scratch = new Uint8Array(65536);
  readonly closer: 'client' | 'server';
  readonly raddr = mustParseAddr(SERVER_ADDR);
  readonly laddr = mustParseAddr(CLIENT_ADDR);
  // counts for the current second
  cur = { attempted: 0, started: 0, ok: 0, eaddrnotavail: 0, failed: 0 };
  tot = { attempted: 0, started: 0, ok: 0, eaddrnotavail: 0, failed: 0 };
  firstEaddrnotavail: number | null = null;
  live = 0;
  readonly onConnect: ((port: number, tMs: number) => void) | undefined;

  constructor(
    o: ChurnOptions,
    readonly port: number,
    readonly delayMs: number,
  ) {
    this.closer = o.closer ?? 'client';
    this.onConnect = o.onConnect;
    this.world = new World({ maxStepsSameTime: 1_000_000 });
    const wire = new MemoryWire({ delay: delayMs, mtu: 1500, name: 'wire', clock: this.world.clock });
    const seed = o.seed ?? 1;
    const sys = (extra?: Record<string, string | number>) => {
      const s: Record<string, string | number> = { ...(o.sysctl ?? {}), ...(extra ?? {}) };
      if (o.timestamps !== undefined) s['net.ipv4.tcp_timestamps'] = o.timestamps ? 1 : 0;
      return s;
    };
    this.client = this.world.add(new Stack({ seed, name: 'client' }));
    this.server = this.world.add(new Stack({ seed: seed + 1, name: 'server' }));
    for (const [k, v] of Object.entries(sys(o.clientSysctl))) this.client.sysctl.set(k, v);
    for (const [k, v] of Object.entries(sys(o.serverSysctl))) this.server.sysctl.set(k, v);
    const a = this.client;
    const b = this.server;
    // The wire delivers only after both stacks stand at its time (a stack
    // not otherwise due would see frames with a stale clock).
    this.world.add({
      nextDeadline: () => wire.nextDeadline(),
      advance: (t: number) => {
        if (a.now < t) a.advance(t);
        if (b.now < t) b.advance(t);
        wire.advance(t);
      },
    });
    a.addInterface('eth0', wire.a, { addrs: [`${CLIENT_ADDR}/24`] });
    b.addInterface('eth0', wire.b, { addrs: [`${SERVER_ADDR}/24`] });
    this.ctcp = new TcpLayer(a);
    this.stcp = new TcpLayer(b);
    this.request = new Uint8Array(o.requestBytes ?? 64).fill(0x71);
    this.responseBytes = o.responseBytes ?? 256;
    this.response = new Uint8Array(this.responseBytes).fill(0x72);
  }

  listen(): void {
    const l = this.stcp.socket(4);
    l.bind(SERVER_ADDR, this.port);
    l.listen(4096);
    l.onEvent = () => {
      while (l.poll() & POLLIN) new ServerConn(this, l.accept());
    };
  }

  /** One connect() attempt at the current virtual time. */
  attempt(): void {
    this.cur.attempted++;
    const s = this.ctcp.socket(4);
    try {
      s.connect(SERVER_ADDR, this.port);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'EINPROGRESS') {
        this.onConnect?.(s.getsockname().port, this.world.now);
        this.cur.started++;
        this.live++;
        new ClientConn(this, s);
        return;
      }
      s.close();
      if (code === 'EADDRNOTAVAIL') {
        this.cur.eaddrnotavail++;
        if (this.firstEaddrnotavail === null) this.firstEaddrnotavail = this.world.now / 1000;
      } else this.cur.failed++;
      return;
    }
    // A connect that completed at once (not expected on a wire): treat as started.
    this.cur.started++;
    this.live++;
    new ClientConn(this, s);
  }

  finish(c: ClientConn, ok: boolean): void {
    c.done = true;
    this.live--;
    if (ok) this.cur.ok++;
    else this.cur.failed++;
    c.sock.close();
  }

  clientTables(): InetTables<Tcb> {
    return this.ctcp.tables as InetTables<Tcb>;
  }

  portsInUse(): number {
    const t = this.clientTables();
    const e = t.destEst.find(this.laddr, this.raddr, this.port);
    const w = t.destTw.find(this.laddr, this.raddr, this.port);
    return (e?.count ?? 0) + (w?.count ?? 0);
  }

  sample(t: number): ChurnSample {
    const c = this.cur;
    const s: ChurnSample = {
      t,
      attempted: c.attempted,
      started: c.started,
      ok: c.ok,
      eaddrnotavail: c.eaddrnotavail,
      failed: c.failed,
      clientTw: this.clientTables().timeWaitCount,
      serverTw: (this.stcp.tables as InetTables<Tcb>).timeWaitCount,
      portsInUse: this.portsInUse(),
      twRecycled: this.client.counters.get('TcpExtTWRecycled'),
      twOverflowClient: this.client.counters.get('TcpExtTCPTimeWaitOverflow'),
      twOverflowServer: this.server.counters.get('TcpExtTCPTimeWaitOverflow'),
    };
    for (const k of Object.keys(c) as (keyof typeof c)[]) {
      this.tot[k] += c[k];
      c[k] = 0;
    }
    return s;
  }
}

/** Run the churn scenario to the end and return every sample and the totals. */
export function runChurn(o: ChurnOptions = {}): ChurnResult {
  const rate = bounded('rate', o.rate ?? 500, 0.001, CHURN_LIMITS.maxRate);
  const durationS = bounded('duration', o.durationS ?? 180, 0.001, CHURN_LIMITS.maxDurationS);
  const maxConnections = Math.floor(
    bounded('maxConnections', o.maxConnections ?? 1_000_000, 1, CHURN_LIMITS.maxConnections),
  );
  const drainS = bounded('drain', o.drainS ?? 5, 0, 600);
  const port = Math.floor(bounded('port', o.port ?? 80, 1, 65535));
  const delayMs = bounded('delay', o.delayMs ?? 0.25, 0, 10_000);
  const sim = new ChurnSim(o, port, delayMs);
  sim.listen();
  const { world, client, server } = sim;

  const interval = 1000 / rate;
  const endMs = durationS * 1000;
  let i = 0;
  let stoppedBy: 'duration' | 'max-connections' = 'duration';
  const nextConnect = () => {
    if (i >= maxConnections) return Infinity;
    const t = i * interval;
    return t < endMs ? t : Infinity;
  };
  // The sampler goes before the connector: the sample at t covers [t - 1 s, t),
  // taken before the connects due at t itself.
  const samples: ChurnSample[] = [];
  const totalS = Math.ceil(durationS + drainS);
  let nextSample = 1000;
  world.add({
    nextDeadline: () => (nextSample <= totalS * 1000 ? nextSample : Infinity),
    advance: (t: number) => {
      while (nextSample <= t && nextSample <= totalS * 1000) {
        if (client.now < t) client.advance(t);
        if (server.now < t) server.advance(t);
        const s = sim.sample(nextSample / 1000);
        samples.push(s);
        o.onSample?.(s);
        nextSample += 1000;
      }
    },
  });

  // Opens every connection due by `t`; the stacks are brought to `t` first so
  // the connect sees the right clock (TIME_WAIT ages, tw_reuse_delay).
  world.add({
    nextDeadline: nextConnect,
    advance: (t: number) => {
      if (client.now < t) client.advance(t);
      if (server.now < t) server.advance(t);
      while (nextConnect() <= t) {
        sim.attempt();
        i++;
      }
      if (i >= maxConnections && i * interval < endMs) stoppedBy = 'max-connections';
    },
  });

  // Each connection costs a few dozen steps; bound the run accordingly.
  const expectedConns = Math.min(maxConnections, rate * durationS);
  const maxSteps = Math.ceil(100 * expectedConns + 10 * totalS + 100_000);
  const steps = world.run({ until: totalS * 1000, maxSteps });

  let peakClientTw = 0;
  let peakServerTw = 0;
  let peakPortsInUse = 0;
  for (const s of samples) {
    if (s.clientTw > peakClientTw) peakClientTw = s.clientTw;
    if (s.serverTw > peakServerTw) peakServerTw = s.serverTw;
    if (s.portsInUse > peakPortsInUse) peakPortsInUse = s.portsInUse;
  }
  return {
    options: {
      rate,
      durationS,
      closer: sim.closer,
      port,
      delayMs,
      requestBytes: sim.request.length,
      responseBytes: sim.responseBytes,
      maxConnections,
    },
    client: settingsOf(client),
    server: settingsOf(server),
    samples,
    totals: {
      ...sim.tot,
      firstEaddrnotavailS: sim.firstEaddrnotavail,
      peakClientTw,
      peakServerTw,
      peakPortsInUse,
      client: counters(client),
      server: counters(server),
      virtualS: world.now / 1000,
      steps,
      stoppedBy,
    },
  };
}
