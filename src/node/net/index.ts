/**
 * createNet({ stack, driver }): an object shaped like `node:net` whose
 * sockets and servers live on a usnet stack.
 *
 *   const driver = new RealtimeDriver([stackA, stackB, wire]); driver.start();
 *   const net = createNet({ stack: stackB, driver });
 *   net.createServer((s) => s.pipe(s)).listen(7, '198.18.0.2');
 *   const c = createNet({ stack: stackA, driver }).connect(7, '198.18.0.2');
 *
 * Pass it where a library takes a connection factory: http.request's or an
 * http.Agent's `createConnection`, undici's `connect`, ws's `createConnection`,
 * or feed accepted sockets to `httpServer.emit('connection', socket)`.
 */
import type { Stack } from '../../stack.js';
import { TcpLayer } from '../../tcp/tcp.js';
import { isIP, isIPv4, isIPv6, type LookupFn } from './address.js';
import { NetContext, type Poker } from './context.js';
import { type ServerOptions, UsnetServer } from './server.js';
import { type ConnectOptions, type SocketOptions, UsnetSocket } from './socket.js';

export { NetContext } from './context.js';
export { type NetError, netError } from './errors.js';
export { type ServerOptions, UsnetServer } from './server.js';
export { type AddressInfo, type ConnectOptions, type SocketOptions, UsnetSocket } from './socket.js';
export { isIP, isIPv4, isIPv6 };

export interface CreateNetOptions {
  stack: Stack;
  /** Whatever runs the stack (RealtimeDriver): poked after socket calls. */
  driver: Poker;
  /** Host names to resolve without DNS ('server.test' → '198.18.0.2'). */
  hosts?: Record<string, string>;
  /** A dns.lookup-shaped resolver for other names. */
  lookup?: LookupFn;
}

export interface UsnetNet {
  Socket: new (opts?: SocketOptions) => UsnetSocket;
  Server: new (
    opts?: ServerOptions | ((s: UsnetSocket) => void),
    listener?: (s: UsnetSocket) => void,
  ) => UsnetServer;
  createServer(
    opts?: ServerOptions | ((s: UsnetSocket) => void),
    listener?: (s: UsnetSocket) => void,
  ): UsnetServer;
  connect(port: number, host?: string, cb?: () => void): UsnetSocket;
  connect(opts: ConnectOptions & SocketOptions, cb?: () => void): UsnetSocket;
  createConnection(port: number, host?: string, cb?: () => void): UsnetSocket;
  createConnection(opts: ConnectOptions & SocketOptions, cb?: () => void): UsnetSocket;
  isIP: typeof isIP;
  isIPv4: typeof isIPv4;
  isIPv6: typeof isIPv6;
  /** The stack these sockets live on. */
  stack: Stack;
  /** Stop this network's open sockets and servers from keeping the process alive (call when its driver stops). */
  release(): void;
}

export function createNet(o: CreateNetOptions): UsnetNet {
  const tcp = (o.stack.tcp as TcpLayer | null) ?? new TcpLayer(o.stack);
  const ctx = new NetContext(tcp, o.driver, { hosts: o.hosts, lookup: o.lookup });
  class Socket extends UsnetSocket {
    constructor(opts?: SocketOptions) {
      super(ctx, opts);
    }
  }
  class Server extends UsnetServer {
    constructor(opts?: ServerOptions | ((s: UsnetSocket) => void), listener?: (s: UsnetSocket) => void) {
      super(ctx, opts, listener);
    }
  }
  const connect = (...args: unknown[]): UsnetSocket => {
    const first = args[0];
    const s = new Socket(typeof first === 'object' && first !== null ? (first as SocketOptions) : {});
    return s.connect(...args);
  };
  return {
    Socket,
    Server,
    createServer: (opts, listener) => new Server(opts, listener),
    connect: connect as UsnetNet['connect'],
    createConnection: connect as UsnetNet['createConnection'],
    isIP,
    isIPv4,
    isIPv6,
    stack: o.stack,
    release: () => ctx.release(),
  };
}
