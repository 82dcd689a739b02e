/**
 * A node:net-compatible Server over a usnet listening TcpSocket: listen()
 * in its Node forms, 'listening' / 'connection' / 'close' / 'error' events,
 * close() that stops accepting and emits 'close' once the last connection
 * is gone, getConnections(), address(), maxConnections.
 *
 * Like libuv, the listening socket gets SO_REUSEADDR (a port whose old
 * connections sit in TIME_WAIT can be listened on again). Without a host,
 * Node listens on '::' (dual-stack); so do we, falling back to 0.0.0.0.
 */
import { EventEmitter } from 'node:events';
import type { TcpSocket } from '../../socket/tcp-socket.js';
import { isIP } from './address.js';
import type { NetContext } from './context.js';
import { netError, nodeError } from './errors.js';
import { Liveness } from './liveness.js';
import { type AddressInfo, UsnetSocket } from './socket.js';

export interface ServerOptions {
  allowHalfOpen?: boolean;
  pauseOnConnect?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

export interface ListenOptions {
  port?: number;
  host?: string;
  backlog?: number;
}

export class UsnetServer extends EventEmitter {
  maxConnections = 0;
  private listener: TcpSocket | null = null;
  private readonly conns = new Set<UsnetSocket>();
  private readonly opts: ServerOptions;
  private scheduled = false;
  private closing = false;
  /** Listening and not unref()'d: keeps the process alive. */
  private readonly live: Liveness;
  private refed = true;

  constructor(
    readonly ctx: NetContext,
    options?: ServerOptions | ((s: UsnetSocket) => void),
    connectionListener?: (s: UsnetSocket) => void,
  ) {
    super();
    this.live = new Liveness(ctx.held);
    let listener = connectionListener;
    if (typeof options === 'function') {
      listener = options;
      this.opts = {};
    } else this.opts = options ?? {};
    if (listener !== undefined) this.on('connection', listener);
  }

  get listening(): boolean {
    return this.listener !== null;
  }

  listen(...args: unknown[]): this {
    let cb: (() => void) | undefined;
    if (typeof args[args.length - 1] === 'function') cb = args.pop() as () => void;
    let port = 0;
    let host: string | undefined;
    let backlog = 511;
    if (typeof args[0] === 'object' && args[0] !== null) {
      const o = args[0] as ListenOptions;
      port = o.port ?? 0;
      host = o.host;
      backlog = o.backlog ?? 511;
    } else {
      if (args[0] !== undefined && args[0] !== null) port = Number(args[0]);
      if (typeof args[1] === 'string') {
        host = args[1];
        if (typeof args[2] === 'number') backlog = args[2];
      } else if (typeof args[1] === 'number') backlog = args[1];
    }
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw nodeError(
        'ERR_SOCKET_BAD_PORT',
        `options.port should be >= 0 and < 65536. Received ${String(port)}.`,
      );
    if (this.listener !== null)
      throw nodeError(
        'ERR_SERVER_ALREADY_LISTEN',
        'Listen method has been called more than once without closing.',
      );
    if (cb !== undefined) this.once('listening', cb);
    this.closing = false;
    if (host !== undefined && host !== '' && isIP(host) === 0) {
      const h = this.ctx.resolver.hosts?.[host] ?? (host === 'localhost' ? '127.0.0.1' : undefined);
      if (h === undefined) {
        process.nextTick(() => this.emit('error', netError('ENOTFOUND', 'getaddrinfo', host)));
        return this;
      }
      host = h;
    }
    this.open(host, port, backlog);
    return this;
  }

  private open(host: string | undefined, port: number, backlog: number): void {
    this.ctx.sync();
    const tries = host === undefined || host === '' ? ['::', '0.0.0.0'] : [host];
    let lastErr: Error | null = null;
    for (const h of tries) {
      const s = this.ctx.socket(isIP(h) === 6 ? 6 : 4);
      try {
        s.setsockopt('SO_REUSEADDR', 1);
        if (h === '::') s.setsockopt('IPV6_V6ONLY', 0);
        s.bind(h, port);
        s.listen(backlog);
      } catch (e) {
        s.close();
        const code = (e as { code?: string }).code ?? 'EINVAL';
        lastErr = netError(code, 'listen', h, port, true);
        if (code === 'EAFNOSUPPORT' && tries.length > 1) continue;
        break;
      }
      this.listener = s;
      this.live.set(this.refed);
      s.onEvent = () => this.schedule();
      this.ctx.kick();
      process.nextTick(() => this.emit('listening'));
      return;
    }
    const err = lastErr as Error;
    process.nextTick(() => this.emit('error', err));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.acceptAll();
    });
  }

  private acceptAll(): void {
    const l = this.listener;
    if (l === null) return;
    this.ctx.sync();
    for (let i = 0; i < 4096; i++) {
      let c: TcpSocket;
      try {
        c = l.accept();
      } catch {
        break; // EAGAIN: queue empty
      }
      if (this.maxConnections > 0 && this.conns.size >= this.maxConnections) {
        c.close(); // as Node: the connection is accepted and closed at once
        continue;
      }
      const s = new UsnetSocket(this.ctx, {
        allowHalfOpen: this.opts.allowHalfOpen === true,
        noDelay: this.opts.noDelay,
        keepAlive: this.opts.keepAlive,
        keepAliveInitialDelay: this.opts.keepAliveInitialDelay,
      }).attach(c, this.opts.pauseOnConnect === true);
      s.server = this;
      this.conns.add(s);
      s.once('close', () => {
        this.conns.delete(s);
        this.emitCloseIfDrained();
      });
      this.emit('connection', s);
    }
    this.ctx.kick();
  }

  /** Stop accepting; 'close' follows when the last connection has closed. */
  close(cb?: (err?: Error) => void): this {
    if (cb !== undefined) {
      if (this.listener === null)
        this.once('close', () => cb(nodeError('ERR_SERVER_NOT_RUNNING', 'Server is not running.')));
      else this.once('close', cb);
    }
    if (this.listener !== null) {
      this.ctx.sync();
      this.listener.close();
      this.listener = null;
      this.live.set(false);
      this.ctx.kick();
    }
    this.closing = true;
    this.emitCloseIfDrained();
    return this;
  }

  private emitCloseIfDrained(): void {
    if (this.listener !== null || !this.closing || this.conns.size > 0) return;
    this.closing = false;
    process.nextTick(() => this.emit('close'));
  }

  address(): AddressInfo | null {
    if (this.listener === null) return null;
    const n = this.listener.getsockname();
    return { address: n.address, family: n.family, port: n.port };
  }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    const n = this.conns.size;
    process.nextTick(() => cb(null, n));
    return this;
  }

  ref(): this {
    this.refed = true;
    if (this.listener !== null) this.live.set(true);
    return this;
  }
  unref(): this {
    this.refed = false;
    this.live.set(false);
    return this;
  }
}
