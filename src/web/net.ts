/**
 * node:net's API over a usnet stack, without Node built-ins: `createServer`,
 * `connect` / `createConnection`, `Socket` and `Server` with Node's events,
 * methods and error shapes, over Uint8Array. It runs in a browser page, a
 * worker or Node. (In Node, src/node/net/ gives real stream.Duplex sockets;
 * this one is an event emitter plus WHATWG stream views.)
 *
 *   const driver = new BrowserDriver();
 *   const net = createNet(stack, driver);
 *   net.createServer((s) => s.on('data', (d) => s.write(d))).listen(7);
 *   const c = net.connect(7, '198.18.0.2', () => c.write('hi'));
 *
 * How it maps onto the BSD-like TcpSocket (src/socket/tcp-socket.ts):
 * - reading starts on connect/accept, as net.Socket's: while the socket
 *   flows ('data' listener or resume()) bytes go to 'data'; a paused socket
 *   reads ahead up to readableHighWaterMark (16 KiB) and leaves the rest in
 *   the TCP receive buffer, so the advertised window closes and the peer
 *   stops; pauseOnConnect reads nothing until resume().
 * - write() queues in user space when the TCP send buffer is full and
 *   returns false once `writableHighWaterMark` (16 KiB) bytes wait there;
 *   'drain' follows when that queue is empty again.
 * - end() sends FIN (shutdown(SHUT_WR)) after the queued bytes; 'finish'
 *   follows. When both 'end' and 'finish' happened the socket is destroyed
 *   (close(2)) and emits 'close', as Node does. Without allowHalfOpen, the
 *   peer's FIN ends our side too.
 * - destroy() is close(2): Linux sends RST when unread bytes are discarded.
 *
 * Differences from node:net: no DNS (hosts are IP literals or 'localhost'),
 * no IPC paths, no Buffer (bytes are Uint8Array). `socket.toWeb()` gives the
 * socket as a WHATWG ReadableStream / WritableStream pair (Node's
 * `Duplex.toWeb`); `readable` / `writable` stay Node's booleans.
 */

import { POLLERR, POLLHUP, POLLIN, POLLOUT, SHUT_WR, type SockName } from '../socket/poll.js';
import type { TcpSocket } from '../socket/tcp-socket.js';
import type { Stack } from '../stack.js';
import { TcpLayer } from '../tcp/tcp.js';
import { parseAddr } from '../wire/addr.js';
import { Emitter, type Listener } from './emitter.js';
import { codedError, fromErrno, fromThrown, type NetError, sysError } from './errors.js';

/**
 * What the net API needs from a driver: `kick()` says "something changed,
 * step soon"; `sync()` (optional) brings the stacks to the current time
 * before a call from outside a step, and `inSync` is true meanwhile (see
 * BrowserDriver).
 */
export interface Kicker {
  kick(): void;
  sync?(): void;
  readonly inSync?: boolean;
}

export interface NetContext {
  readonly stack: Stack;
  readonly tcp: TcpLayer;
  readonly driver: Kicker;
}

export interface SocketOptions {
  /** Keep our side open after the peer's FIN (default false: end() follows 'end'). */
  allowHalfOpen?: boolean;
  /** Bytes queued by write() before it returns false. Default 16384 (Node's). */
  writableHighWaterMark?: number;
  /** Bytes read ahead while paused. Default 16384 (Node 20's). */
  readableHighWaterMark?: number;
}

export interface SocketConnectOptions {
  port: number;
  host?: string;
  localAddress?: string;
  localPort?: number;
  /** 4 or 6 picks the family when host is 'localhost'. */
  family?: number;
  timeout?: number;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

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
  /** Only with host '::': accept IPv6 only. */
  ipv6Only?: boolean;
}

export interface AddressInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}

/** What pipe() writes into: another Socket, or anything with write/end (and once('drain') for backpressure). */
export interface PipeTarget {
  write(data: Uint8Array | string): boolean | undefined;
  end(): unknown;
  once?(event: 'drain', fn: () => void): unknown;
}

interface WriteReq {
  data: Uint8Array;
  off: number;
  cb: ((err?: Error | null) => void) | undefined;
}

const READ_CHUNK = 65536;
const encoder = new TextEncoder();

function toBytes(data: unknown): Uint8Array {
  if (typeof data === 'string') return encoder.encode(data);
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw codedError(
    'ERR_INVALID_ARG_TYPE',
    'The "chunk" argument must be of type string or an instance of Uint8Array',
  );
}

/** 4, 6 or 0 (not an IP literal), as net.isIP. */
export function isIP(s: string): number {
  const a = parseAddr(s);
  return a === null ? 0 : a.length === 4 ? 4 : 6;
}
export const isIPv4 = (s: string): boolean => isIP(s) === 4;
export const isIPv6 = (s: string): boolean => isIP(s) === 6;

/** No DNS here: IP literals, and 'localhost' as the loopback address of the wanted family. */
function resolveHost(host: string | undefined, family: number | undefined): string | null {
  if (host === undefined || host === 'localhost') return family === 6 ? '::1' : '127.0.0.1';
  return isIP(host) !== 0 ? host : null;
}

function defer(fn: () => void): void {
  queueMicrotask(fn);
}

// ====================================================================== Socket

export class Socket extends Emitter {
  readonly ctx: NetContext;
  /** The usnet socket underneath (null before connect and after destroy). */
  tcp: TcpSocket | null = null;
  connecting = false;
  destroyed = false;
  readonly allowHalfOpen: boolean;
  bytesRead = 0;
  bytesWritten = 0;
  readableEnded = false;
  readableFlowing: boolean | null = null;
  writableEnded = false;
  writableFinished = false;
  readonly writableHighWaterMark: number;
  /** Bytes read ahead while not flowing before reading stops (Node 20's default, 16 KiB). */
  readonly readableHighWaterMark: number;
  writableLength = 0;
  /** Set on sockets a Server accepted. */
  server: Server | null = null;
  /** Milliseconds of inactivity before 'timeout' (0: off). */
  timeout = 0;

  private readonly queue: WriteReq[] = [];
  private needDrain = false;
  private shutdownSent = false;
  private eofSeen = false;
  private endScheduled = false;
  /** Handle-level reading (false with pauseOnConnect until resume()). */
  private reading = true;
  private readonly rbuf: Uint8Array[] = [];
  private rlen = 0;
  private readScheduled = false;
  private eventQueued = false;
  private closeEmitted = false;
  private decoder: TextDecoder | null = null;
  private peer: SockName | null = null;
  private local: SockName | null = null;
  private host = '';
  private port = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private optNoDelay: boolean | null = null;
  private optKeepAlive: { on: boolean; delay: number } | null = null;
  private rs: ReadableStream<Uint8Array> | null = null;
  private ws: WritableStream<Uint8Array> | null = null;

  constructor(ctx: NetContext, opts: SocketOptions = {}) {
    super();
    this.ctx = ctx;
    this.allowHalfOpen = opts.allowHalfOpen ?? false;
    this.writableHighWaterMark = opts.writableHighWaterMark ?? 16384;
    this.readableHighWaterMark = opts.readableHighWaterMark ?? 16384;
  }

  // ------------------------------------------------------------ properties

  get pending(): boolean {
    return this.tcp === null || this.connecting;
  }

  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.destroyed || this.tcp === null) return 'closed';
    const r = !this.readableEnded;
    const w = !this.writableEnded;
    return r && w ? 'open' : r ? 'readOnly' : w ? 'writeOnly' : 'closed';
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

  /** { address, family, port } of our end, as socket.address(); {} when unbound. */
  address(): AddressInfo | Record<string, never> {
    if (this.tcp !== null && !this.destroyed) {
      try {
        const n = this.tcp.getsockname();
        if (n.port !== 0) this.local = n;
      } catch {
        /* EBADF: fall back to the cached name */
      }
    }
    return this.local === null
      ? {}
      : { address: this.local.address, family: this.local.family, port: this.local.port };
  }

  /** Bytes read ahead and not yet delivered (TCP's own receive queue: `socket.tcp.recvQueue`). */
  get readableLength(): number {
    return this.rlen;
  }

  /** As in Node: true until 'end' was emitted or the socket destroyed. */
  get readable(): boolean {
    return !this.destroyed && !this.readableEnded;
  }

  /** As in Node: true until end() was called or the socket destroyed. */
  get writable(): boolean {
    return !this.destroyed && !this.writableEnded;
  }

  /**
   * The socket as WHATWG streams, as Node's `Duplex.toWeb(socket)`: a
   * ReadableStream of the bytes received (reading it makes the socket flow;
   * backpressure pauses it) and a WritableStream whose close() sends the FIN.
   * The same pair on every call.
   */
  toWeb(): { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> } {
    if (this.rs === null) this.rs = this.makeReadable();
    if (this.ws === null) this.ws = this.makeWritable();
    return { readable: this.rs, writable: this.ws };
  }

  // ------------------------------------------------------------ connect

  connect(options: SocketConnectOptions, cb?: () => void): this;
  connect(port: number, host?: string, cb?: () => void): this;
  connect(port: number, cb?: () => void): this;
  connect(a: number | SocketConnectOptions, b?: string | (() => void), c?: () => void): this {
    const o: SocketConnectOptions = typeof a === 'object' ? { ...a } : { port: a };
    let cb: (() => void) | undefined;
    if (typeof b === 'function') cb = b;
    else {
      if (typeof b === 'string') o.host = b;
      cb = c;
    }
    if (this.destroyed) throw codedError('ERR_SOCKET_CLOSED', 'Socket is closed');
    if (this.tcp !== null)
      throw codedError('ERR_SOCKET_CONNECTING', 'Socket is already connected or connecting');
    const port = Number(o.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw codedError('ERR_SOCKET_BAD_PORT', `Port should be >= 0 and < 65536. Received ${String(o.port)}.`);
    if (cb !== undefined) this.once('connect', cb);
    if (o.timeout !== undefined) this.setTimeout(o.timeout);
    if (o.noDelay) this.setNoDelay(true);
    if (o.keepAlive) this.setKeepAlive(true, o.keepAliveInitialDelay ?? 0);
    this.connecting = true;
    const host = resolveHost(o.host, o.family);
    this.port = port;
    if (host === null) {
      // No resolver in usnet: a name that is not an IP literal fails the way getaddrinfo would.
      this.host = o.host ?? '';
      const err = sysError('ENOTFOUND', 'getaddrinfo', undefined, undefined);
      err.message = `getaddrinfo ENOTFOUND ${this.host}`;
      err.hostname = this.host;
      defer(() => this.destroy(err));
      return this;
    }
    this.host = host;
    const tcp = this.ctx.tcp.socket(isIP(host) === 6 ? 6 : 4);
    this.tcp = tcp;
    tcp.onEvent = (ev) => this.onTcpEvent(ev);
    this.applyOptions();
    try {
      if (o.localAddress !== undefined || o.localPort !== undefined) {
        try {
          tcp.bind(o.localAddress ?? null, o.localPort ?? 0);
        } catch (e) {
          throw fromThrown(e, 'bind', o.localAddress, o.localPort, true);
        }
      }
      try {
        this.sync();
        tcp.connect(host, port);
        this.onConnected();
      } catch (e) {
        if ((e as { code?: string }).code !== 'EINPROGRESS') throw fromThrown(e, 'connect', host, port);
      }
    } catch (err) {
      defer(() => this.destroy(err as Error));
    }
    this.ctx.driver.kick();
    return this;
  }

  /** Wraps a socket accepted by a Server. */
  attach(tcp: TcpSocket): void {
    this.tcp = tcp;
    tcp.onEvent = (ev) => this.onTcpEvent(ev);
    this.cacheNames();
    this.applyOptions();
    this.scheduleRead();
  }

  private onConnected(): void {
    this.connecting = false;
    this.cacheNames();
    this.touch();
    this.emit('connect');
    this.emit('ready');
    if (this.destroyed) return;
    this.flush();
    // Start reading at once, as net.Socket does (read(0) on connect): end of stream is seen even unread.
    this.scheduleRead();
  }

  private cacheNames(): void {
    const t = this.tcp;
    if (t === null) return;
    try {
      this.local = t.getsockname();
      this.peer = t.getpeername();
    } catch {
      /* not connected after all: the event path reports it */
    }
  }

  private applyOptions(): void {
    const t = this.tcp;
    if (t === null) return;
    if (this.optNoDelay !== null) t.setsockopt('TCP_NODELAY', this.optNoDelay);
    if (this.optKeepAlive !== null) {
      const { on, delay } = this.optKeepAlive;
      if (on && delay > 0) t.setsockopt('TCP_KEEPIDLE', Math.max(1, Math.floor(delay / 1000)));
      t.setsockopt('SO_KEEPALIVE', on);
    }
  }

  // ------------------------------------------------------------ events from the stack

  private onTcpEvent(ev: number): void {
    if (this.destroyed) return;
    if (this.ctx.driver.inSync === true) {
      // Raised by a sync() inside one of our own calls: handle it afterwards, never re-entrantly.
      if (!this.eventQueued) {
        this.eventQueued = true;
        defer(() => {
          this.eventQueued = false;
          if (this.tcp !== null && !this.destroyed) this.onTcpEvent(this.tcp.poll());
        });
      }
      return;
    }
    if (this.connecting) {
      if (this.tcp === null || this.tcp.state === 'SYN_SENT') return;
      this.finishConnect();
      return;
    }
    if (this.queue.length > 0 || (this.writableEnded && !this.shutdownSent)) this.flush();
    if (this.destroyed) return;
    this.readLoop();
    if (this.destroyed) return;
    // An error the read path did not report (a paused socket, or nothing left to read).
    if (ev & POLLERR && this.tcp !== null) {
      const errno = this.tcp.getsockopt('SO_ERROR') as number;
      if (errno !== 0) this.destroy(fromErrno(errno, this.readableEnded ? 'write' : 'read'));
    }
  }

  /** The handshake ended: a second connect() tells how (Linux: 0, or the pending error). */
  private finishConnect(): void {
    const t = this.tcp as TcpSocket;
    try {
      t.connect(this.host, this.port);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'EALREADY') return;
      if (code !== 'EISCONN') {
        this.destroy(fromThrown(e, 'connect', this.host, this.port));
        return;
      }
    }
    this.onConnected();
  }

  // ------------------------------------------------------------ reading

  protected override onNewListener(event: string | symbol): void {
    // As in Node: adding a 'data' listener switches a socket that was never paused to flowing.
    if (event === 'data' && this.readableFlowing !== false) this.resume();
  }

  /** Stop 'data' events; bytes are still read ahead up to readableHighWaterMark, then TCP's window closes. */
  pause(): this {
    this.readableFlowing = false;
    return this;
  }

  resume(): this {
    this.readableFlowing = true;
    this.reading = true;
    this.scheduleRead();
    return this;
  }

  isPaused(): boolean {
    return this.readableFlowing === false;
  }

  /** Node's pauseOnConnect: nothing is read at all (bytes stay in TCP) until resume(). */
  stopReading(): void {
    this.reading = false;
    this.readableFlowing = false;
  }

  setEncoding(encoding = 'utf8'): this {
    const enc = encoding.toLowerCase();
    if (enc !== 'utf8' && enc !== 'utf-8')
      throw codedError('ERR_UNKNOWN_ENCODING', `Unknown encoding: ${encoding}`);
    this.decoder = new TextDecoder('utf-8');
    return this;
  }

  /** Forwards the bytes into `dest` (write, pausing until its 'drain'), then ends it, as stream.pipe. */
  pipe<T extends PipeTarget>(dest: T, opts: { end?: boolean } = {}): T {
    this.on('data', (d: Uint8Array | string) => {
      if (dest.write(d) === false && typeof dest.once === 'function') {
        this.pause();
        dest.once('drain', () => this.resume());
      }
    });
    if (opts.end !== false) this.once('end', () => dest.end());
    return dest;
  }

  private scheduleRead(): void {
    if (this.readScheduled) return;
    this.readScheduled = true;
    // Later, as Node's resume() (nextTick): listeners added in the same tick see the first bytes too.
    defer(() => {
      this.readScheduled = false;
      if (!this.destroyed && !this.connecting) this.readLoop();
    });
  }

  /**
   * Reads as a net.Socket does: while flowing, bytes go to 'data' (buffered
   * ones first); otherwise up to readableHighWaterMark bytes are read ahead
   * into the socket's buffer and the rest stays in TCP (its window closes).
   * End of stream gives 'end' once the buffer is empty, flowing or not.
   */
  private readLoop(): void {
    const t = this.tcp;
    if (t === null || this.destroyed) return;
    this.sync();
    let got = false;
    while (!this.destroyed) {
      if (this.readableFlowing === true && this.rlen > 0) {
        const c = this.rbuf.shift() as Uint8Array;
        this.rlen -= c.length;
        this.deliver(c);
        continue;
      }
      if (this.eofSeen || !this.reading) break;
      if (this.readableFlowing !== true && this.rlen >= this.readableHighWaterMark) break;
      if (!(t.poll() & (POLLIN | POLLHUP | POLLERR))) break;
      let chunk: Uint8Array;
      try {
        chunk = t.recv(READ_CHUNK);
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === 'EAGAIN') break;
        if (code === 'ENOTCONN') break;
        this.destroy(fromThrown(e, 'read'));
        return;
      }
      if (chunk.length === 0) {
        this.eofSeen = true;
        break;
      }
      got = true;
      this.bytesRead += chunk.length;
      this.touch();
      if (this.readableFlowing === true) this.deliver(chunk);
      else {
        this.rbuf.push(chunk);
        this.rlen += chunk.length;
      }
    }
    if (this.eofSeen && this.rlen === 0 && !this.destroyed) this.scheduleEnd();
    // Reading may have opened the window (an ACK went out) or armed a timer.
    if (got) this.ctx.driver.kick();
  }

  private deliver(chunk: Uint8Array): void {
    if (this.decoder !== null) this.emit('data', this.decoder.decode(chunk, { stream: true }));
    else this.emit('data', chunk);
  }

  /** 'end' on a later microtask (Node: nextTick), then our own FIN unless allowHalfOpen. */
  private scheduleEnd(): void {
    if (this.endScheduled || this.readableEnded) return;
    this.endScheduled = true;
    defer(() => {
      if (this.destroyed || this.readableEnded) return;
      this.readableEnded = true;
      if (this.decoder !== null) {
        const rest = this.decoder.decode();
        if (rest.length > 0) this.emit('data', rest);
      }
      this.emit('end');
      if (this.destroyed) return;
      if (!this.allowHalfOpen && !this.writableEnded) this.end();
      this.maybeClose();
    });
  }

  // ------------------------------------------------------------ writing

  write(data: Uint8Array | string, cb?: (err?: Error | null) => void): boolean;
  write(data: Uint8Array | string, encoding?: string, cb?: (err?: Error | null) => void): boolean;
  write(
    data: Uint8Array | string,
    enc?: string | ((err?: Error | null) => void),
    cb?: (err?: Error | null) => void,
  ): boolean {
    const done = typeof enc === 'function' ? enc : cb;
    if (this.writableEnded || this.destroyed) {
      const err = this.writableEnded
        ? codedError('ERR_STREAM_WRITE_AFTER_END', 'write after end')
        : codedError('ERR_STREAM_DESTROYED', 'Cannot call write after a stream was destroyed');
      defer(() => {
        if (done !== undefined) done(err);
        if (!this.destroyed || this.listenerCount('error') > 0) this.emit('error', err);
      });
      return false;
    }
    const bytes = toBytes(data);
    this.bytesWritten += bytes.length;
    this.writableLength += bytes.length;
    this.queue.push({ data: bytes, off: 0, cb: done });
    this.touch();
    this.flush();
    const ok = this.writableLength < this.writableHighWaterMark;
    if (!ok) this.needDrain = true;
    return ok;
  }

  end(cb?: () => void): this;
  end(data: Uint8Array | string, cb?: () => void): this;
  end(data: Uint8Array | string, encoding?: string, cb?: () => void): this;
  end(a?: Uint8Array | string | (() => void), b?: string | (() => void), c?: () => void): this {
    let cb: (() => void) | undefined;
    if (typeof a === 'function') cb = a;
    else {
      if (a !== undefined && a !== null) this.write(a);
      cb = typeof b === 'function' ? b : c;
    }
    if (cb !== undefined) {
      if (this.writableFinished) defer(cb);
      else this.once('finish', cb);
    }
    if (this.writableEnded) return this;
    this.writableEnded = true;
    this.flush();
    return this;
  }

  /** Moves queued bytes into the TCP send buffer; after the last, FIN if end() was called. */
  private flush(): void {
    const t = this.tcp;
    if (t === null || this.connecting || this.destroyed) return;
    this.sync();
    const q = this.queue;
    while (q.length > 0) {
      if (!(t.poll() & (POLLOUT | POLLERR))) break;
      const r = q[0];
      let n: number;
      try {
        n = t.send(r.data, r.off, r.data.length - r.off);
      } catch (e) {
        if ((e as { code?: string }).code === 'EAGAIN') break;
        this.destroy(fromThrown(e, 'write'));
        return;
      }
      if (n === 0) break;
      r.off += n;
      this.writableLength -= n;
      if (r.off === r.data.length) {
        q.shift();
        const done = r.cb;
        if (done !== undefined) defer(() => done(null));
      }
    }
    this.ctx.driver.kick();
    if (q.length > 0) return;
    if (this.needDrain) {
      this.needDrain = false;
      defer(() => {
        if (!this.destroyed) this.emit('drain');
      });
    }
    if (this.writableEnded && !this.shutdownSent) {
      this.shutdownSent = true;
      try {
        t.shutdown(SHUT_WR);
      } catch (e) {
        // ENOTCONN: the connection is already gone; the error path reports why.
        if ((e as { code?: string }).code !== 'ENOTCONN') {
          this.destroy(fromThrown(e, 'shutdown'));
          return;
        }
      }
      defer(() => {
        if (this.destroyed && this.closeEmitted) return;
        this.writableFinished = true;
        this.emit('finish');
        this.maybeClose();
      });
    }
  }

  private maybeClose(): void {
    if (!this.destroyed && this.readableEnded && this.writableFinished) this.destroy();
  }

  // ------------------------------------------------------------ closing

  /** close(2) at once (RST if unread bytes are discarded); 'error' (if err) then 'close'. */
  destroy(err?: Error | null): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.connecting = false;
    this.clearTimer();
    const t = this.tcp;
    if (t !== null) {
      this.address(); // keep the local name for address() after close
      t.onEvent = null;
      this.sync();
      t.close();
    }
    this.rbuf.length = 0;
    this.rlen = 0;
    const pending = this.queue.splice(0);
    this.writableLength = 0;
    const server = this.server;
    if (server !== null) server.connectionClosed();
    this.ctx.driver.kick();
    defer(() => {
      const werr =
        err ?? codedError('ERR_STREAM_DESTROYED', 'Cannot call write after a stream was destroyed');
      for (const r of pending) if (r.cb !== undefined) r.cb(werr);
      if (err) this.emit('error', err);
      this.closeEmitted = true;
      this.emit('close', Boolean(err));
    });
    return this;
  }

  /** Aborts with RST (SO_LINGER 0, then close), as Node's socket.resetAndDestroy(). */
  resetAndDestroy(): this {
    if (this.tcp !== null && !this.destroyed) this.tcp.setsockopt('SO_LINGER', { onoff: 1, linger: 0 });
    return this.destroy();
  }

  destroySoon(): void {
    if (this.writableFinished) this.destroy();
    else this.end(() => this.destroy());
  }

  // ------------------------------------------------------------ options and timers

  setNoDelay(noDelay = true): this {
    this.optNoDelay = noDelay;
    if (this.tcp !== null && !this.destroyed) {
      this.sync();
      this.tcp.setsockopt('TCP_NODELAY', noDelay);
    }
    this.ctx.driver.kick();
    return this;
  }

  /** SO_KEEPALIVE; initialDelay (ms) sets TCP_KEEPIDLE in whole seconds, as libuv does. */
  setKeepAlive(enable = false, initialDelay = 0): this {
    this.optKeepAlive = { on: enable, delay: initialDelay };
    if (this.tcp !== null && !this.destroyed) {
      this.sync();
      this.applyOptions();
    }
    this.ctx.driver.kick();
    return this;
  }

  /** 'timeout' after `ms` without reads or writes (0 turns it off); the socket stays open. */
  setTimeout(ms: number, cb?: () => void): this {
    this.timeout = ms;
    if (cb !== undefined) {
      if (ms === 0) this.off('timeout', cb);
      else this.once('timeout', cb);
    }
    this.touch();
    return this;
  }

  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }

  /** Bring the stacks to the current time before a call that may send or arm a timer (BrowserDriver.sync). */
  private sync(): void {
    const d = this.ctx.driver;
    if (d.sync !== undefined) d.sync();
  }

  private touch(): void {
    this.clearTimer();
    if (this.timeout > 0 && !this.destroyed) {
      this.timer = setTimeout(() => {
        this.timer = null;
        if (!this.destroyed) this.emit('timeout');
      }, this.timeout);
    }
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  // ------------------------------------------------------------ WHATWG streams

  private makeReadable(): ReadableStream<Uint8Array> {
    let closed = false;
    return new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          const close = () => {
            if (closed) return;
            closed = true;
            c.close();
          };
          this.on('data', (d: Uint8Array | string) => {
            if (closed) return;
            c.enqueue(typeof d === 'string' ? encoder.encode(d) : d);
            // Backpressure: stop taking bytes from TCP until the reader pulls again.
            if ((c.desiredSize ?? 1) <= 0) this.pause();
          });
          this.once('end', close);
          this.once('error', (e: Error) => {
            if (closed) return;
            closed = true;
            c.error(e);
          });
          this.once('close', close);
        },
        pull: () => {
          if (!this.destroyed && this.readableFlowing === false) this.resume();
        },
        cancel: () => {
          closed = true;
          this.destroy();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: READ_CHUNK }),
    );
  }

  private makeWritable(): WritableStream<Uint8Array> {
    return new WritableStream<Uint8Array>({
      write: (chunk) =>
        new Promise<void>((resolve, reject) => {
          if (this.destroyed) {
            reject(codedError('ERR_STREAM_DESTROYED', 'Cannot call write after a stream was destroyed'));
            return;
          }
          if (this.write(chunk)) {
            resolve();
            return;
          }
          // Resolve on 'drain' (or fail on 'close' first): the stream's own queue waits meanwhile.
          const onDrain = () => {
            this.off('close', onClose);
            resolve();
          };
          const onClose = () => {
            this.off('drain', onDrain);
            reject(codedError('ERR_STREAM_DESTROYED', 'socket closed before the data was sent'));
          };
          this.once('drain', onDrain);
          this.once('close', onClose);
        }),
      close: () =>
        new Promise<void>((resolve, reject) => {
          if (this.writableFinished) {
            resolve();
            return;
          }
          const onClose = () => reject(codedError('ERR_STREAM_DESTROYED', 'socket closed before end'));
          this.once('close', onClose);
          this.end(() => {
            this.off('close', onClose);
            resolve();
          });
        }),
      abort: (reason) => {
        this.destroy(reason instanceof Error ? reason : undefined);
      },
    });
  }
}

// ====================================================================== Server

export class Server extends Emitter {
  readonly ctx: NetContext;
  listening = false;
  /** Connections beyond this are closed as soon as they are accepted (Node's server.maxConnections). */
  maxConnections: number | undefined = undefined;
  private tcp: TcpSocket | null = null;
  private connections = 0;
  private closing = false;
  private readonly opts: ServerOptions;
  private name: AddressInfo | null = null;

  constructor(ctx: NetContext, opts: ServerOptions = {}, onConnection?: (s: Socket) => void) {
    super();
    this.ctx = ctx;
    this.opts = opts;
    if (onConnection !== undefined) this.on('connection', onConnection);
  }

  listen(options: ListenOptions, cb?: () => void): this;
  listen(port?: number, host?: string, backlog?: number, cb?: () => void): this;
  listen(port: number, host: string, cb?: () => void): this;
  listen(port: number, cb?: () => void): this;
  listen(cb?: () => void): this;
  listen(...args: unknown[]): this {
    let cb: (() => void) | undefined;
    if (typeof args[args.length - 1] === 'function') cb = args.pop() as () => void;
    let o: ListenOptions;
    if (typeof args[0] === 'object' && args[0] !== null) o = { ...(args[0] as ListenOptions) };
    else
      o = {
        port: args[0] as number | undefined,
        host: typeof args[1] === 'string' ? args[1] : undefined,
        backlog: typeof args[1] === 'number' ? args[1] : (args[2] as number | undefined),
      };
    if (this.listening)
      throw codedError('ERR_SERVER_ALREADY_LISTEN', 'Listen method has been called more than once');
    const port = o.port === undefined || o.port === null ? 0 : Number(o.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw codedError('ERR_SOCKET_BAD_PORT', `Port should be >= 0 and < 65536. Received ${String(o.port)}.`);
    // Without a host, Node binds '::' (dual stack); usnet binds 0.0.0.0, the common case over an IPv4 wire.
    const host = o.host === undefined || o.host === 'localhost' ? (o.host ? '127.0.0.1' : '0.0.0.0') : o.host;
    if (cb !== undefined) this.once('listening', cb);
    const fam = isIP(host);
    if (fam === 0) {
      const err = sysError('ENOTFOUND', 'getaddrinfo');
      err.message = `getaddrinfo ENOTFOUND ${host}`;
      err.hostname = host;
      defer(() => this.emit('error', err));
      return this;
    }
    const t = this.ctx.tcp.socket(fam === 6 ? 6 : 4);
    try {
      // Node (libuv) sets SO_REUSEADDR on listening sockets: a restart is not blocked by TIME_WAIT.
      t.setsockopt('SO_REUSEADDR', true);
      if (fam === 6 && o.ipv6Only) t.setsockopt('IPV6_V6ONLY', true);
      try {
        t.bind(host, port);
      } catch (e) {
        throw fromThrown(e, 'listen', host, port, true);
      }
      // Node's default backlog is 511; usnet clamps to somaxconn like Linux.
      t.listen(o.backlog ?? 511);
    } catch (err) {
      t.close();
      const e =
        (err as NetError).syscall !== undefined
          ? (err as NetError)
          : fromThrown(err, 'listen', host, port, true);
      defer(() => this.emit('error', e));
      return this;
    }
    this.tcp = t;
    const n = t.getsockname();
    this.name = { address: n.address, family: n.family, port: n.port };
    this.listening = true;
    t.onEvent = (ev) => {
      if (!(ev & POLLIN)) return;
      // Raised by a sync() inside a socket call: accept afterwards, never re-entrantly.
      if (this.ctx.driver.inSync === true) defer(() => this.acceptAll());
      else this.acceptAll();
    };
    defer(() => {
      if (this.listening) this.emit('listening');
    });
    this.ctx.driver.kick();
    return this;
  }

  private acceptAll(): void {
    const t = this.tcp;
    // Bounded: the accept queue holds at most backlog + 1 connections.
    for (let i = 0; t !== null && i < 100_000; i++) {
      let c: TcpSocket;
      try {
        c = t.accept();
      } catch {
        return; // EAGAIN: the queue is empty
      }
      const s = new Socket(this.ctx, { allowHalfOpen: this.opts.allowHalfOpen ?? false });
      s.attach(c);
      if (this.maxConnections !== undefined && this.connections >= this.maxConnections) {
        s.destroy();
        continue;
      }
      s.server = this;
      this.connections++;
      if (this.opts.noDelay) s.setNoDelay(true);
      if (this.opts.keepAlive) s.setKeepAlive(true, this.opts.keepAliveInitialDelay ?? 0);
      if (this.opts.pauseOnConnect) s.stopReading();
      this.emit('connection', s);
    }
  }

  /** A socket of ours was destroyed. */
  connectionClosed(): void {
    this.connections--;
    this.maybeEmitClose();
  }

  address(): AddressInfo | null {
    return this.listening ? this.name : null;
  }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    defer(() => cb(null, this.connections));
    return this;
  }

  /** Stops accepting; 'close' once every connection has closed, as Node. */
  close(cb?: (err?: Error) => void): this {
    if (!this.listening || this.tcp === null) {
      const err = codedError('ERR_SERVER_NOT_RUNNING', 'Server is not running.');
      if (cb !== undefined) defer(() => cb(err));
      return this;
    }
    if (cb !== undefined) this.once('close', cb);
    this.tcp.onEvent = null;
    this.ctx.driver.sync?.();
    this.tcp.close();
    this.tcp = null;
    this.listening = false;
    this.closing = true;
    this.ctx.driver.kick();
    this.maybeEmitClose();
    return this;
  }

  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }

  private maybeEmitClose(): void {
    if (!this.closing || this.connections > 0) return;
    this.closing = false;
    defer(() => this.emit('close'));
  }
}

// ====================================================================== the module

export interface Net {
  readonly ctx: NetContext;
  Socket: new (opts?: SocketOptions) => Socket;
  Server: new (opts?: ServerOptions, onConnection?: (s: Socket) => void) => Server;
  createServer(onConnection?: (s: Socket) => void): Server;
  createServer(opts: ServerOptions, onConnection?: (s: Socket) => void): Server;
  connect(options: SocketConnectOptions & SocketOptions, cb?: () => void): Socket;
  connect(port: number, host?: string, cb?: () => void): Socket;
  connect(port: number, cb?: () => void): Socket;
  createConnection(options: SocketConnectOptions & SocketOptions, cb?: () => void): Socket;
  createConnection(port: number, host?: string, cb?: () => void): Socket;
  createConnection(port: number, cb?: () => void): Socket;
  isIP(s: string): number;
  isIPv4(s: string): boolean;
  isIPv6(s: string): boolean;
}

/**
 * The node:net-style module of one stack. `driver` is kicked whenever a call
 * changes what the stack has to do (a BrowserDriver, or anything with kick()).
 * The stack gets a TCP layer if it has none.
 */
export function createNet(stack: Stack, driver: Kicker): Net {
  const tcp = (stack.tcp as TcpLayer | null) ?? new TcpLayer(stack);
  const ctx: NetContext = { stack, tcp, driver };
  class BoundSocket extends Socket {
    constructor(opts?: SocketOptions) {
      super(ctx, opts);
    }
  }
  class BoundServer extends Server {
    constructor(opts?: ServerOptions, onConnection?: (s: Socket) => void) {
      super(ctx, opts, onConnection);
    }
  }
  function connect(a: unknown, b?: unknown, c?: unknown): Socket {
    const opts = typeof a === 'object' && a !== null ? (a as SocketOptions) : {};
    const s = new BoundSocket({
      allowHalfOpen: opts.allowHalfOpen,
      writableHighWaterMark: opts.writableHighWaterMark,
    });
    return (s.connect as (...x: unknown[]) => Socket)(a, b, c);
  }
  return {
    ctx,
    Socket: BoundSocket,
    Server: BoundServer,
    createServer(a?: ServerOptions | ((s: Socket) => void), b?: (s: Socket) => void): Server {
      if (typeof a === 'function') return new BoundServer({}, a);
      return new BoundServer(a ?? {}, b);
    },
    connect: connect as Net['connect'],
    createConnection: connect as Net['createConnection'],
    isIP,
    isIPv4,
    isIPv6,
  };
}

export type { Listener, NetError };
