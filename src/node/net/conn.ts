/**
 * The engine under a net-style socket, free of Node built-ins (only
 * queueMicrotask), so a browser front end (web streams, EventTarget) can
 * sit on it as the stream.Duplex in socket.ts does.
 *
 * It owns one TcpSocket and turns its readiness (onEvent) into calls on a
 * `ConnEvents` sink: connect, data (return false to stop reading: unread
 * bytes then stay in TCP's receive buffer and the advertised window
 * closes), end (the peer's FIN) and error (fatal, already shaped like
 * Node's). Writes are queued and handed to TCP as send-buffer space opens;
 * each write's callback runs once TCP took all its bytes, which is what
 * gives the front end its backpressure.
 *
 * Stack events are served in a microtask, outside the stack's input
 * processing, so user code never runs inside the stack; every socket call
 * is followed by NetContext.kick() (a driver.poke() per batch).
 */
import { POLLERR, POLLHUP, POLLIN, POLLOUT, SHUT_WR, type SockName } from '../../socket/poll.js';
import type { TcpSocket } from '../../socket/tcp-socket.js';
import { isIP } from './address.js';
import type { NetContext } from './context.js';
import { type NetError, netError } from './errors.js';

export interface ConnEvents {
  connect(): void;
  /** Bytes arrived (the array is the receiver's to keep). False: stop reading until wantRead(). */
  data(chunk: Uint8Array): boolean;
  /** End of stream from the peer, after all its data. */
  end(): void;
  /** A fatal error (connect, read or write); the front end destroys itself. */
  error(err: NetError): void;
  /** Bytes moved either way (idle timers). */
  activity(): void;
}

export interface ConnOptions {
  noDelay?: boolean;
  keepAlive?: boolean;
  /** ms, as net.Socket#setKeepAlive; whole seconds reach TCP_KEEPIDLE. */
  keepAliveInitialDelay?: number;
  localAddress?: string;
  localPort?: number;
}

export interface Endpoint {
  address: string;
  family: string;
  port: number;
}

interface PendingWrite {
  buf: Uint8Array;
  off: number;
  cb: () => void;
}

const READ_CHUNK = 65536;

export class TcpConn {
  sock: TcpSocket | null = null;
  connecting = false;
  /** True once the handshake completed (never reset). */
  established = false;
  bytesRead = 0;
  /** Bytes TCP has taken from the write queue. */
  bytesSent = 0;
  /** Cached when connected, so they survive close() (as Node's _peername / _sockname). */
  peer: Endpoint | null = null;
  local: Endpoint | null = null;
  private readWanted = false;
  private eof = false;
  private readonly wq: PendingWrite[] = [];
  private finalCb: (() => void) | null = null;
  private scheduled = false;
  private target: { address: string; port: number } | null = null;
  private closed = false;
  private readonly onEventBound = (): void => this.schedule();

  constructor(
    readonly ctx: NetContext,
    private readonly ev: ConnEvents,
  ) {}

  /** Adopt an accepted, connected TcpSocket (the server side). */
  attach(sock: TcpSocket, o: ConnOptions = {}): void {
    this.sock = sock;
    this.established = true;
    sock.onEvent = this.onEventBound;
    this.applyOptions(o);
    this.cacheNames();
    this.schedule();
  }

  /**
   * Open a connection to an IP literal. Errors found at once (bind, a
   * connect that fails synchronously) are returned for the caller to report
   * asynchronously, as Node does; others arrive through `error`.
   */
  connect(address: string, port: number, o: ConnOptions = {}): NetError | null {
    this.ctx.sync();
    this.target = { address, port };
    this.connecting = true;
    const sock = this.ctx.socket(isIP(address) === 6 ? 6 : 4);
    this.sock = sock;
    sock.onEvent = this.onEventBound;
    this.applyOptions(o);
    if (o.localAddress !== undefined || o.localPort !== undefined) {
      try {
        sock.bind(o.localAddress ?? null, o.localPort ?? 0);
      } catch (e) {
        return netError(codeOf(e), 'bind', o.localAddress ?? '0.0.0.0', o.localPort ?? 0);
      }
    }
    try {
      sock.connect(address, port);
    } catch (e) {
      const code = codeOf(e);
      if (code !== 'EINPROGRESS') return netError(code, 'connect', address, port);
    }
    this.ctx.kick();
    return null;
  }

  private applyOptions(o: ConnOptions): void {
    if (o.noDelay) this.setNoDelay(true);
    if (o.keepAlive) this.setKeepAlive(true, o.keepAliveInitialDelay ?? 0);
  }

  setNoDelay(on: boolean): void {
    if (this.sock === null) return;
    this.ctx.sync();
    this.sock.setsockopt('TCP_NODELAY', on ? 1 : 0);
    this.ctx.kick();
  }

  setKeepAlive(on: boolean, initialDelayMs: number): void {
    if (this.sock === null) return;
    this.ctx.sync();
    if (on && initialDelayMs >= 1000) this.sock.setsockopt('TCP_KEEPIDLE', Math.floor(initialDelayMs / 1000));
    this.sock.setsockopt('SO_KEEPALIVE', on ? 1 : 0);
    this.ctx.kick();
  }

  private cacheNames(): void {
    const s = this.sock;
    if (s === null) return;
    try {
      this.peer = endpoint(s.getpeername());
    } catch {
      /* not connected */
    }
    try {
      this.local = endpoint(s.getsockname());
    } catch {
      /* closed */
    }
  }

  /** The local name now (getsockname), or the cached one after close. */
  address(): Endpoint | null {
    if (this.sock !== null) {
      try {
        return endpoint(this.sock.getsockname());
      } catch {
        return null;
      }
    }
    return this.local;
  }

  // ---------------------------------------------------------------- reading and writing

  /** The front end wants data (again). */
  wantRead(): void {
    this.ctx.sync();
    this.readWanted = true;
    if (this.established && this.sock !== null && !this.closed) {
      this.pumpRead();
      this.ctx.kick();
    }
  }

  /** Queue bytes; `cb` runs once TCP has taken all of them. */
  write(buf: Uint8Array, cb: () => void): void {
    this.ctx.sync();
    this.wq.push({ buf, off: 0, cb });
    if (this.established && this.sock !== null && !this.closed) {
      this.pumpWrites();
      this.ctx.kick();
    }
  }

  /** Bytes of queued writes that TCP has already taken (the writes are not complete yet). */
  get queuedSent(): number {
    let n = 0;
    for (const w of this.wq) n += w.off;
    return n;
  }

  /** Send FIN once the queue is empty (and the connection is up); then `cb`. */
  end(cb: () => void): void {
    this.ctx.sync();
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

  /** close(2): FIN, or RST when unread data is discarded or `reset` (SO_LINGER 0). */
  close(reset = false): void {
    if (this.closed) return;
    this.closed = true;
    this.connecting = false;
    const s = this.sock;
    this.sock = null;
    this.wq.length = 0;
    if (s === null) return;
    s.onEvent = null;
    this.ctx.sync();
    try {
      if (reset) s.setsockopt('SO_LINGER', { onoff: 1, linger: 0 });
      s.close();
    } catch {
      /* already closed */
    }
    this.ctx.kick();
  }

  /** The stack-level state ('ESTABLISHED', ...). */
  get state(): string {
    return this.sock === null ? 'CLOSED' : this.sock.state;
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
    if (this.closed || this.sock === null) return;
    this.ctx.sync();
    if (this.connecting) this.finishConnect();
    if (this.established && !this.closed) {
      this.pumpWrites();
      if (!this.closed) this.pumpRead();
    }
    this.ctx.kick();
  }

  private finishConnect(): void {
    const s = this.sock as TcpSocket;
    const t = this.target as { address: string; port: number };
    if (!(s.poll() & (POLLOUT | POLLERR | POLLHUP))) return;
    try {
      // A second connect() reports the outcome, as after poll() on a non-blocking socket.
      s.connect(t.address, t.port);
    } catch (e) {
      const code = codeOf(e);
      if (code === 'EALREADY' || code === 'EINPROGRESS') return;
      if (code !== 'EISCONN') {
        this.connecting = false;
        this.ev.error(netError(code, 'connect', t.address, t.port));
        return;
      }
    }
    this.connecting = false;
    this.established = true;
    this.cacheNames();
    this.ev.activity();
    this.ev.connect();
  }

  private pumpWrites(): void {
    const s = this.sock;
    while (s !== null && !this.closed && this.wq.length > 0) {
      if (!(s.poll() & (POLLOUT | POLLERR))) return;
      const w = this.wq[0] as PendingWrite;
      let n: number;
      try {
        n = s.send(w.buf, w.off, w.buf.length - w.off);
      } catch (e) {
        const code = codeOf(e);
        if (code === 'EAGAIN') return;
        this.wq.length = 0;
        this.ev.error(netError(code, 'write'));
        return;
      }
      w.off += n;
      this.bytesSent += n;
      if (n > 0) this.ev.activity();
      if (w.off === w.buf.length) {
        this.wq.shift();
        w.cb();
      } else if (n === 0) return;
    }
    if (this.finalCb !== null && !this.closed && this.wq.length === 0) {
      const cb = this.finalCb;
      this.finalCb = null;
      this.shutdownWrite(cb);
    }
  }

  private pumpRead(): void {
    while (this.readWanted && !this.eof && !this.closed) {
      const s = this.sock as TcpSocket;
      if (!(s.poll() & (POLLIN | POLLERR | POLLHUP))) return;
      let data: Uint8Array;
      try {
        data = s.recv(READ_CHUNK);
      } catch (e) {
        const code = codeOf(e);
        if (code === 'EAGAIN') return;
        this.ev.error(netError(code, 'read'));
        return;
      }
      if (data.length === 0) {
        this.eof = true;
        this.readWanted = false;
        this.ev.end();
        return;
      }
      this.bytesRead += data.length;
      this.ev.activity();
      this.readWanted = this.ev.data(data);
    }
  }

  private shutdownWrite(cb: () => void): void {
    try {
      this.sock?.shutdown(SHUT_WR);
    } catch {
      /* ENOTCONN: the connection is already gone; the read side reports it */
    }
    this.ctx.kick();
    cb();
  }
}

function endpoint(n: SockName): Endpoint {
  return { address: n.address, family: n.family, port: n.port };
}

function codeOf(e: unknown): string {
  const c = (e as { code?: unknown }).code;
  if (typeof c === 'string') return c;
  throw e;
}
