/**
 * A node:net-compatible Socket over a usnet TcpSocket: a real stream.Duplex
 * with net.Socket's events (connect, ready, data, end, close(hadError),
 * error, timeout, drain, lookup), methods and properties.
 *
 * Flow control is TCP's own: a write's callback runs only once the bytes are
 * in the TCP send buffer (so `write()` returns false and 'drain' follows the
 * peer's window), and reading stops while the stream is paused, so unread
 * bytes stay in the receive buffer and the advertised window closes.
 *
 * Stack events (TcpSocket.onEvent) are served in a microtask, outside the
 * stack's input processing, so user handlers never run inside the stack;
 * every socket call is followed by NetContext.kick() (driver.poke()).
 */
import { Buffer } from 'node:buffer';
import { Duplex } from 'node:stream';
import { POLLERR, POLLHUP, POLLIN, POLLOUT, SHUT_WR } from '../../socket/poll.js';
import type { TcpSocket } from '../../socket/tcp-socket.js';
import { isIP, resolveHost } from './address.js';
import type { NetContext } from './context.js';
import { netError, nodeError } from './errors.js';

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

interface PendingWrite {
  buf: Uint8Array;
  off: number;
  cb: (err?: Error | null) => void;
}

type Cb = (err?: Error | null) => void;

const READ_CHUNK = 65536;

export class UsnetSocket extends Duplex {
  /** The TcpSocket underneath (null before connect() and after destroy()). */
  sock: TcpSocket | null = null;
  connecting = false;
  bytesRead = 0;
  server: unknown = null;
  /** True once the handshake completed (never reset). */
  private established = false;
  private written = 0;
  private readWanted = false;
  private eof = false;
  private readonly wq: PendingWrite[] = [];
  private finalCb: Cb | null = null;
  private scheduled = false;
  private peer: AddressInfo | null = null;
  private local: AddressInfo | null = null;
  private target: { address: string; port: number } | null = null;
  private timeoutMs = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private noDelay: boolean;
  private keepAlive: boolean;
  private keepAliveDelay: number;
  private readonly onEventBound = (): void => this.schedule();

  constructor(
    readonly ctx: NetContext,
    opts: SocketOptions = {},
  ) {
    // As net.Socket: close is emitted by us with hadError, after the socket is gone.
    super({ allowHalfOpen: opts.allowHalfOpen === true, emitClose: false, autoDestroy: true });
    this.noDelay = opts.noDelay === true;
    this.keepAlive = opts.keepAlive === true;
    this.keepAliveDelay = opts.keepAliveInitialDelay ?? 0;
  }

  /** Adopt an accepted, connected TcpSocket (the server side). */
  attach(sock: TcpSocket, pauseOnCreate = false): this {
    this.sock = sock;
    this.established = true;
    sock.onEvent = this.onEventBound;
    this.applyOptions();
    this.cacheNames();
    // As net.Socket with a handle: start reading into the stream's buffer at
    // once (so end of stream is seen without a consumer), unless paused.
    if (pauseOnCreate) this.pause();
    else this.read(0);
    this.schedule();
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
    if (this.connecting || this.established)
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
    this.connecting = true;
    const host = opts.host ?? 'localhost';
    if (isIP(host) !== 0) {
      this.startConnect(host, port, opts);
      return this;
    }
    const name = host === 'localhost' && this.ctx.resolver.hosts?.localhost === undefined ? null : host;
    if (name === null) {
      this.startConnect('127.0.0.1', port, opts);
      return this;
    }
    resolveThen(this, name, opts.family, (address) => {
      this.emit('lookup', null, address, isIP(address), host);
      this.startConnect(address, port, opts);
    });
    return this;
  }

  private startConnect(address: string, port: number, opts: ConnectOptions): void {
    if (this.destroyed) return;
    this.target = { address, port };
    const sock = this.ctx.socket(isIP(address) === 6 ? 6 : 4);
    this.sock = sock;
    sock.onEvent = this.onEventBound;
    this.applyOptions();
    if (opts.localAddress !== undefined || opts.localPort !== undefined) {
      try {
        sock.bind(opts.localAddress ?? null, opts.localPort ?? 0);
      } catch (e) {
        this.failSoon(netError(codeOf(e), 'bind', opts.localAddress ?? '0.0.0.0', opts.localPort ?? 0));
        return;
      }
    }
    try {
      sock.connect(address, port);
    } catch (e) {
      const code = codeOf(e);
      if (code !== 'EINPROGRESS') this.failSoon(netError(code, 'connect', address, port));
    }
    this.ctx.kick();
  }

  /** Errors found synchronously are reported asynchronously, as Node does. */
  private failSoon(err: Error): void {
    process.nextTick(() => this.destroy(err));
  }

  private applyOptions(): void {
    const s = this.sock;
    if (s === null) return;
    if (this.noDelay) s.setsockopt('TCP_NODELAY', 1);
    if (this.keepAlive) {
      if (this.keepAliveDelay >= 1000) s.setsockopt('TCP_KEEPIDLE', Math.floor(this.keepAliveDelay / 1000));
      s.setsockopt('SO_KEEPALIVE', 1);
    }
  }

  private cacheNames(): void {
    const s = this.sock;
    if (s === null) return;
    try {
      const p = s.getpeername();
      this.peer = { address: p.address, family: p.family, port: p.port };
    } catch {
      /* not connected */
    }
    try {
      const l = s.getsockname();
      this.local = { address: l.address, family: l.family, port: l.port };
    } catch {
      /* closed */
    }
  }

  // ---------------------------------------------------------------- servicing stack events

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.service();
    });
  }

  private service(): void {
    if (this.destroyed || this.sock === null) return;
    if (this.connecting) this.finishConnect();
    if (this.established && !this.destroyed) {
      this.pumpWrites();
      if (!this.destroyed) this.pumpRead();
    }
    this.ctx.kick();
  }

  private finishConnect(): void {
    const s = this.sock as TcpSocket;
    const t = this.target as { address: string; port: number };
    if (!(s.poll() & (POLLOUT | POLLERR | POLLHUP))) return;
    try {
      s.connect(t.address, t.port);
    } catch (e) {
      const code = codeOf(e);
      if (code === 'EALREADY' || code === 'EINPROGRESS') return;
      if (code !== 'EISCONN') {
        this.destroy(netError(code, 'connect', t.address, t.port));
        return;
      }
    }
    this.connecting = false;
    this.established = true;
    this.cacheNames();
    this.touch();
    this.emit('connect');
    this.emit('ready');
    // As net.Socket's afterConnect: start reading unless the user paused us.
    if (!this.isPaused()) this.read(0);
  }

  private pumpWrites(): void {
    const s = this.sock as TcpSocket;
    while (this.wq.length > 0) {
      const m = s.poll();
      if (!(m & (POLLOUT | POLLERR))) return;
      const w = this.wq[0] as PendingWrite;
      let n: number;
      try {
        n = s.send(w.buf, w.off, w.buf.length - w.off);
      } catch (e) {
        const code = codeOf(e);
        if (code === 'EAGAIN') return;
        this.wq.length = 0;
        this.destroy(netError(code, 'write'));
        return;
      }
      w.off += n;
      this.written += n;
      if (n > 0) this.touch();
      if (w.off === w.buf.length) {
        this.wq.shift();
        w.cb();
      } else if (n === 0) return;
    }
    if (this.finalCb !== null && !this.destroyed) {
      const cb = this.finalCb;
      this.finalCb = null;
      this.shutdownWrite(cb);
    }
  }

  private pumpRead(): void {
    const s = this.sock as TcpSocket;
    while (this.readWanted && !this.eof && !this.destroyed) {
      if (!(s.poll() & (POLLIN | POLLERR | POLLHUP))) return;
      let data: Uint8Array;
      try {
        data = s.recv(READ_CHUNK);
      } catch (e) {
        const code = codeOf(e);
        if (code === 'EAGAIN') return;
        this.destroy(netError(code, 'read'));
        return;
      }
      if (data.length === 0) {
        this.eof = true;
        this.readWanted = false;
        // As Node's onStreamRead at EOF: push(null) then read(0), so 'end'
        // comes even when nobody consumes the stream.
        this.push(null);
        this.read(0);
        return;
      }
      this.bytesRead += data.length;
      this.touch();
      this.readWanted = this.push(Buffer.from(data.buffer, data.byteOffset, data.length));
    }
  }

  private shutdownWrite(cb: Cb): void {
    try {
      this.sock?.shutdown(SHUT_WR);
    } catch {
      /* ENOTCONN: the connection is already gone; the read side reports it */
    }
    this.ctx.kick();
    cb();
  }

  // ---------------------------------------------------------------- stream.Duplex

  override _read(): void {
    this.readWanted = true;
    if (this.established && this.sock !== null) {
      this.pumpRead();
      this.ctx.kick();
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: Cb): void {
    this.wq.push({ buf: chunk, off: 0, cb });
    if (this.established && this.sock !== null) {
      this.pumpWrites();
      this.ctx.kick();
    }
  }

  /** Corked writes (http's header + body) leave as one send, as net.Socket's writev. */
  override _writev(chunks: { chunk: Buffer; encoding: BufferEncoding }[], cb: Cb): void {
    if (chunks.length === 1) {
      this._write((chunks[0] as { chunk: Buffer }).chunk, 'binary', cb);
      return;
    }
    this._write(Buffer.concat(chunks.map((c) => c.chunk)), 'binary', cb);
  }

  override _final(cb: Cb): void {
    if (!this.established || this.wq.length > 0) {
      if (!this.connecting && !this.established) {
        cb();
        return;
      }
      this.finalCb = cb;
      return;
    }
    this.shutdownWrite(cb);
  }

  override _destroy(err: Error | null, cb: Cb): void {
    this.clearTimer();
    this.connecting = false;
    const s = this.sock;
    this.sock = null;
    if (s !== null) {
      s.onEvent = null;
      try {
        s.close();
      } catch {
        /* already closed */
      }
      this.ctx.kick();
    }
    cb(err);
    // Node emits 'close' from the handle's close callback, a later turn of the
    // event loop than 'error' (which destroy() emits on the next tick).
    setImmediate(() => this.emit('close', err != null));
  }

  /** Close with a reset (SO_LINGER 0), as net.Socket#resetAndDestroy. */
  resetAndDestroy(): this {
    const s = this.sock;
    if (s === null) {
      this.destroy(nodeError('ERR_SOCKET_CLOSED', 'Socket is closed'));
      return this;
    }
    if (this.connecting) {
      this.once('connect', () => this.resetAndDestroy());
      return this;
    }
    try {
      s.setsockopt('SO_LINGER', { onoff: 1, linger: 0 });
    } catch {
      /* closed */
    }
    this.destroy();
    return this;
  }

  // ---------------------------------------------------------------- options and timers

  setNoDelay(noDelay = true): this {
    this.noDelay = noDelay;
    if (this.sock !== null) {
      this.sock.setsockopt('TCP_NODELAY', noDelay ? 1 : 0);
      this.ctx.kick();
    }
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    this.keepAlive = enable;
    this.keepAliveDelay = initialDelay;
    if (this.sock !== null) {
      if (enable && initialDelay >= 1000)
        this.sock.setsockopt('TCP_KEEPIDLE', Math.floor(initialDelay / 1000));
      this.sock.setsockopt('SO_KEEPALIVE', enable ? 1 : 0);
      this.ctx.kick();
    }
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

  private touch(): void {
    if (this.timer !== null) this.timer.refresh();
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }

  // ---------------------------------------------------------------- properties

  address(): AddressInfo | Record<string, never> {
    if (this.sock !== null) {
      try {
        const l = this.sock.getsockname();
        return { address: l.address, family: l.family, port: l.port };
      } catch {
        return {};
      }
    }
    return this.local ?? {};
  }

  get remoteAddress(): string | undefined {
    return this.peer?.address;
  }
  get remotePort(): number | undefined {
    return this.peer?.port;
  }
  get remoteFamily(): string | undefined {
    return this.peer?.family;
  }
  get localAddress(): string | undefined {
    return this.local?.address;
  }
  get localPort(): number | undefined {
    return this.local?.port;
  }
  get localFamily(): string | undefined {
    return this.local?.family;
  }

  get bytesWritten(): number {
    let queued = 0;
    for (const w of this.wq) queued += w.buf.length - w.off;
    return this.written + queued + this.writableLength;
  }

  /** True until connected, as net.Socket#pending (no handle or still connecting). */
  get pending(): boolean {
    return this.sock === null || this.connecting;
  }

  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable && !this.writable) return 'readOnly';
    if (!this.readable && this.writable) return 'writeOnly';
    return 'closed';
  }

  /** The stack-level state ('ESTABLISHED', ...), for diagnostics. */
  get tcpState(): string {
    return this.sock === null ? 'CLOSED' : this.sock.state;
  }
}

function codeOf(e: unknown): string {
  const c = (e as { code?: unknown }).code;
  if (typeof c === 'string') return c;
  throw e;
}

function resolveThen(
  s: UsnetSocket,
  host: string,
  family: number | undefined,
  then: (address: string) => void,
): void {
  resolveHost(s.ctx.resolver, host, family, (err, address) => {
    if (s.destroyed) return;
    if (err) s.destroy(err);
    else then(address);
  });
}
