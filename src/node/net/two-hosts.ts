/**
 * Two usnet stacks on one in-memory wire, run in real time: the quickest way
 * to a network with nothing to set up. Host a is 198.18.0.1, host b is
 * 198.18.0.2 (RFC 2544 benchmarking space); each gets a net-compatible API.
 *
 *   const h = twoHosts(); const srv = h.netB.createServer(...); ...; h.close();
 */
import type { Link } from '../../link/link.js';
import { MemoryWire, type MemoryWireOptions } from '../../link/memory-wire.js';
import { Stack, type StackOptions } from '../../stack.js';
import { TcpLayer } from '../../tcp/tcp.js';
import { RealtimeDriver } from '../realtime.js';
import { createNet, type UsnetNet } from './index.js';

export interface TwoHostsOptions {
  wire?: Omit<MemoryWireOptions, 'clock'>;
  a?: StackOptions;
  b?: StackOptions;
  /** Wrap a host's end of the wire (a PcapTap, a printer) before the stack attaches to it. */
  wrap?: (link: Link, host: 'a' | 'b') => Link;
  hosts?: Record<string, string>;
}

export interface TwoHosts {
  a: Stack;
  b: Stack;
  wire: MemoryWire;
  driver: RealtimeDriver;
  netA: UsnetNet;
  netB: UsnetNet;
  /** Stop the driver (the stacks stay as they are: TIME_WAIT entries included) and release the process. */
  close(): void;
}

export const ADDR_A = '198.18.0.1';
export const ADDR_B = '198.18.0.2';

export function twoHosts(o: TwoHostsOptions = {}): TwoHosts {
  // Unref'd: like the kernel's timers, the stacks' (TIME_WAIT, ...) never keep
  // the process alive; open sockets and listening servers do (liveness.ts).
  const driver = new RealtimeDriver([], { unref: true });
  const wire = new MemoryWire({
    delay: 0.1,
    mtu: 1500,
    name: 'wire',
    seed: 7,
    ...o.wire,
    clock: driver.clock,
  });
  const a = new Stack({ seed: 1, name: 'a', ...o.a });
  const b = new Stack({ seed: 2, name: 'b', ...o.b });
  const wrap = o.wrap ?? ((l: Link) => l);
  a.addInterface('eth0', wrap(wire.a, 'a'), { addrs: [`${ADDR_A}/24`] });
  b.addInterface('eth0', wrap(wire.b, 'b'), { addrs: [`${ADDR_B}/24`] });
  new TcpLayer(a);
  new TcpLayer(b);
  // Stacks before the wire: each round brings their clocks to now before
  // the wire delivers, so arrivals are stamped with the time they arrived.
  driver.add(a);
  driver.add(b);
  driver.add(wire);
  driver.start();
  const hosts = { 'a.test': ADDR_A, 'b.test': ADDR_B, ...o.hosts };
  const netA = createNet({ stack: a, driver, hosts });
  const netB = createNet({ stack: b, driver, hosts });
  return {
    a,
    b,
    wire,
    driver,
    netA,
    netB,
    close: () => {
      driver.stop();
      // Nothing moves any more: open sockets must not hold the process.
      netA.release();
      netB.release();
    },
  };
}
