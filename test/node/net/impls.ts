/**
 * The two implementations the net-compatibility cases run against: node:net
 * over the kernel's loopback, and usnet (client on stack a, server on stack
 * b, one MemoryWire, real time). The cases see only this shape.
 */
import net from 'node:net';
import { twoHosts } from '../../../src/node/net/two-hosts.js';

// Only what the cases use; both node:net and createNet() fit it.
// biome-ignore lint/suspicious/noExplicitAny: the two modules' signatures differ in detail only
type AnyFn = (...args: any[]) => any;
// biome-ignore lint/suspicious/noExplicitAny: as above
type AnyCtor = new (...args: any[]) => any;
export interface NetLike {
  createServer: AnyFn;
  connect: AnyFn;
  createConnection: AnyFn;
  Socket: AnyCtor;
  isIP(s: string): number;
}

export interface Impl {
  name: string;
  /** Where servers listen. */
  server: NetLike;
  /** Where clients connect from. */
  client: NetLike;
  /** The server's address as clients reach it. */
  host: string;
  /** The client's own address as the server sees it. */
  clientHost: string;
  setup(): void;
  teardown(): void;
}

export function kernelImpl(): Impl {
  return {
    name: 'node:net over the kernel loopback',
    server: net,
    client: net,
    host: '127.0.0.1',
    clientHost: '127.0.0.1',
    setup() {},
    teardown() {},
  };
}

export function usnetImpl(): Impl {
  let h: ReturnType<typeof twoHosts> | null = null;
  const impl: Impl = {
    name: 'usnet (two stacks on a MemoryWire, real time)',
    server: undefined as unknown as NetLike,
    client: undefined as unknown as NetLike,
    host: '198.18.0.2',
    clientHost: '198.18.0.1',
    setup() {
      h = twoHosts({ wire: { delay: 0.2 } });
      impl.server = h.netB;
      impl.client = h.netA;
    },
    teardown() {
      h?.close();
      h = null;
    },
  };
  return impl;
}
