/**
 * A node:net-compatible Socket over a usnet TcpSocket: a real stream.Duplex
 * with net.Socket's events (connect, ready, data, end, close(hadError),
 * error, timeout, drain, lookup), methods and properties. The TCP work is
 * done by TcpConn (conn.ts, browser-clean); this file is the Node front end.
 *
 * Flow control is TCP's own: a write's callback runs only once the bytes are
 * in the TCP send buffer (so `write()` returns false and 'drain' follows the
 * peer's window), and reading stops while the stream is paused, so unread
 * bytes stay in the receive buffer and the advertised window closes.
 */
import { Buffer } from 'node:buffer';
import { Duplex } from 'node:stream';
import type { TcpSocket } from '../../socket/tcp-socket.js';
import { isIP, resolveHost } from './address.js';
import { TcpConn } from './conn.js';
import type { NetContext } from './context.js';
import { nodeError } from './errors.js';
import { Liveness } from './liveness.js';

export interface SocketOptions {
  allowHalfOpen?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  /** Accepted for compatibility (a socket is always readable and writable). */
  readable?: boolean;
  writable?: boolean;
}

export interface ConnectOptions {
  port: number | string;
  host?: string;
  localAddress?: string;
  localPort?: number;
  family?: number;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  timeout?: number;
}

export interface AddressInfo {
  address: string;
  family: string;
  port: number;
}

type Cb = (err?: Error | null) => void;

export class UsnetSocket extends Duplex {
  bytesRead = 0;
  server: unknown = null;
  /** The TCP engine underneath. */
  readonly conn: TcpConn;
  private timeoutMs = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private noDelay: boolean;
  private keepAlive: boolean;
  private keepAliveDelay: number;
  /** Open and not unref()'d: keeps the process alive, as a net.Socket's handle does. */
  private readonly live: Liveness;
  private refed = true;

  constructor(
    readonly ctx: NetContext,
    opts: SocketOptions = {},
  ) {
    // As net.Socket: close is emitted by us with hadError, after the socket is gone.
    super({ allowHalfOpen: opts.allowHalfOpen === true, emitClose: false, autoDestroy: true });
    this.noDelay = opts.noDelay === true;
    this.keepAlive = opts.keepAlive === true;
    this.keepAliveDelay = opts.keepAliveInitialDelay ?? 0;
    this.live = new Liveness(ctx.held);
    this.conn = new TcpConn(ctx, {
      connect: () => {
        this.emit('connect');
        this.emit('ready');
        // As net.Socket's afterConnect: start reading unless the user paused us.
        if (!this.isPaused()) this.read(0);
      },
      data: (d) => {
        this.bytesRead += d.length;
        return this.push(Buffer.from(d.buffer, d.byteOffset, d.length));
      },
      end: () => {
        // As Node's onStreamRead at EOF: push(null) then read(0), so 'end'
        // comes even when nobody consumes the stream.
        this.push(null);
        this.read(0);
      },
      error: (err) => {
        this.destroy(err);
      },
      activity: () => {
        if (this.timer !== null) this.timer.refresh();
      },
    });
  }

  /** The TcpSocket underneath (null before connect() and after destroy()). */
  get sock(): TcpSocket | null {
    return this.conn.sock;
  }

  get connecting(): boolean {
    return this.conn.connecting;
  }

  private connOptions(): { noDelay: boolean; keepAlive: boolean; keepAliveInitialDelay: number } {
    return { noDelay: this.noDelay, keepAlive: this.keepAlive, keepAliveInitialDelay: this.keepAliveDelay };
  }

  /** Adopt an accepted, connected TcpSocket (the server side). */
  attach(sock: TcpSocket, pauseOnCreate = false): this {
    this.conn.attach(sock, this.connOptions());
    this.live.set(this.refed);
    // As net.Socket with a handle: start reading into the stream's buffer at
    // once (so end of stream is seen without a consumer), unless paused.
    if (pauseOnCreate) this.pause();
    else this.read(0);
    return this;
  }

  // ---------------------------------------------------------------- connect

  connect(...args: unknown[]): this {
    let opts: ConnectOptions;
    let cb: (() => void) | undefined;
    const last = args[args.length - 1];
    if (typeof last === 'function') {
      cb = last as () => void;
      args = args.slice(0, -1);
    }
    if (typeof args[0] === 'object' && args[0] !== null) opts = args[0] as ConnectOptions;
    else opts = { port: args[0] as number, host: args[1] as string | undefined };
    if (this.conn.connecting || this.conn.established)
      throw nodeError('ERR_SOCKET_CONNECTING', 'Socket is already connecting');
    const port = Number(opts.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535 || opts.port === '' || opts.port === undefined)
      throw nodeError(
        'ERR_SOCKET_BAD_PORT',
        `Port should be >= 0 and < 65536. Received ${String(opts.port)}.`,
      );
    if (cb !== undefined) this.once('connect', cb);
    if (opts.noDelay !== undefined) this.noDelay = opts.noDelay;
    if (opts.keepAlive !== undefined) this.keepAlive = opts.keepAlive;
    if (opts.keepAliveInitialDelay !== undefined) this.keepAliveDelay = opts.keepAliveInitialDelay;
    if (opts.timeout !== undefined) this.setTimeout(opts.timeout);
    this.conn.connecting = true; // connecting from now on, also while a name resolves
    this.live.set(this.refed);
    const host = opts.host ?? 'localhost';
    const literal =
      isIP(host) !== 0
        ? host
        : host === 'localhost' && this.ctx.resolver.hosts?.localhost === undefined
          ? '127.0.0.1'
          : null;
    if (literal !== null) {
      this.startConnect(literal, port, opts);
      return this;
    }
    resolveHost(this.ctx.resolver, host, opts.family, (err, address) => {
      if (this.destroyed) return;
      if (err) {
        this.destroy(err);
        return;
      }
      this.emit('lookup', null, address, isIP(address), host);
      this.startConnect(address, port, opts);
    });
    return this;
  }

  private startConnect(address: string, port: number, opts: ConnectOptions): void {
    if (this.destroyed) return;
    const err = this.conn.connect(address, port, {
      ...this.connOptions(),
      localAddress: opts.localAddress,
      localPort: opts.localPort,
    });
    // Errors found synchronously are reported asynchronously, as Node does.
    if (err !== null) process.nextTick(() => this.destroy(err));
  }

  // ---------------------------------------------------------------- stream.Duplex

  override _read(): void {
    this.conn.wantRead();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: Cb): void {
    this.conn.write(chunk, cb);
  }

  /** Corked writes (http's header + body) leave as one send, as net.Socket's writev. */
  override _writev(chunks: { chunk: Buffer; encoding: BufferEncoding }[], cb: Cb): void {
    const buf =
      chunks.length === 1
        ? (chunks[0] as { chunk: Buffer }).chunk
        : Buffer.concat(chunks.map((c) => c.chunk));
    this.conn.write(buf, cb);
  }

  override _final(cb: Cb): void {
    this.conn.end(cb);
  }

  override _destroy(err: Error | null, cb: Cb): void {
    this.clearTimer();
    this.live.set(false);
    this.conn.close();
    cb(err);
    // Node emits 'close' from the handle's close callback, a later turn of the
    // event loop than 'error' (which destroy() emits on the next tick).
    setImmediate(() => this.emit('close', err != null));
  }

  /** Close with a reset (SO_LINGER 0), as net.Socket#resetAndDestroy. */
  resetAndDestroy(): this {
    if (this.conn.sock === null) {
      this.destroy(nodeError('ERR_SOCKET_CLOSED', 'Socket is closed'));
      return this;
    }
    if (this.conn.connecting) {
      this.once('connect', () => this.resetAndDestroy());
      return this;
    }
    this.conn.close(true);
    this.destroy();
    return this;
  }

  // ---------------------------------------------------------------- options and timers

  setNoDelay(noDelay = true): this {
    this.noDelay = noDelay;
    this.conn.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    this.keepAlive = enable;
    this.keepAliveDelay = initialDelay;
    this.conn.setKeepAlive(enable, initialDelay);
    return this;
  }

  /** Idle timeout as net.Socket#setTimeout: 'timeout' after `ms` without reads or writes; 0 disables. */
  setTimeout(ms: number, cb?: () => void): this {
    this.timeoutMs = ms;
    if (ms === 0) {
      this.clearTimer();
      if (cb !== undefined) this.removeListener('timeout', cb);
      return this;
    }
    if (cb !== undefined) this.once('timeout', cb);
    this.clearTimer();
    if (!this.destroyed) {
      this.timer = setTimeout(() => this.emit('timeout'), ms);
      this.timer.unref();
    }
    return this;
  }

  get timeout(): number | undefined {
    return this.timeoutMs === 0 ? undefined : this.timeoutMs;
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  ref(): this {
    this.refed = true;
    if (!this.destroyed && (this.conn.sock !== null || this.conn.connecting)) this.live.set(true);
    return this;
  }
  unref(): this {
    this.refed = false;
    this.live.set(false);
    return this;
  }

  // ---------------------------------------------------------------- properties

  address(): AddressInfo | Record<string, never> {
    return this.conn.address() ?? {};
  }

  get remoteAddress(): string | undefined {
    return this.conn.peer?.address;
  }
  get remotePort(): number | undefined {
    return this.conn.peer?.port;
  }
  get remoteFamily(): string | undefined {
    return this.conn.peer?.family;
  }
  get localAddress(): string | undefined {
    return this.conn.local?.address;
  }
  get localPort(): number | undefined {
    return this.conn.local?.port;
  }
  get localFamily(): string | undefined {
    return this.conn.local?.family;
  }

  get bytesWritten(): number {
    // writableLength counts every write not yet completed, including bytes TCP already took.
    return this.conn.bytesSent + this.writableLength - this.conn.queuedSent;
  }

  /** True until connected, as net.Socket#pending (no handle or still connecting). */
  get pending(): boolean {
    return this.conn.sock === null || this.conn.connecting;
  }

  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.conn.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable && !this.writable) return 'readOnly';
    if (!this.readable && this.writable) return 'writeOnly';
    return 'closed';
  }

  /** The stack-level state ('ESTABLISHED', ...), for diagnostics. */
  get tcpState(): string {
    return this.conn.state;
  }
}
