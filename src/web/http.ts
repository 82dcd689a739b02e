/**
 * A minimal HTTP/1.1 server and client written over the net-style API
 * (src/web/net.ts), for the browser demo and its tests: enough of RFC 9112
 * for GET/HEAD/POST with Content-Length bodies, persistent connections
 * (keep-alive is the HTTP/1.1 default, §9.3) and `Connection: close`.
 * Not a general HTTP implementation: no chunked coding, no pipelined
 * client, no header folding.
 */
import { Emitter } from './emitter.js';
import type { Net, Server, Socket } from './net.js';

export interface HttpRequest {
  method: string;
  path: string;
  version: string;
  /** Field names in lower case. */
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface HttpResponse {
  status: number;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
}

export interface HttpClientResponse {
  status: number;
  statusText: string;
  headers: Record<string, string>;
  body: Uint8Array;
  /** The connection's local port: shows that keep-alive reused it. */
  localPort: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
/** A request or status line plus fields longer than this is refused (431 / error). */
const MAX_HEAD = 16384;

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
};

/** Grows a byte buffer; `take(n)` removes bytes from the front. */
class ByteQueue {
  buf = new Uint8Array(4096);
  len = 0;
  push(d: Uint8Array): void {
    if (this.len + d.length > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < this.len + d.length) cap *= 2;
      const n = new Uint8Array(cap);
      n.set(this.buf.subarray(0, this.len));
      this.buf = n;
    }
    this.buf.set(d, this.len);
    this.len += d.length;
  }
  /** Offset just past the first CRLFCRLF, or -1. */
  headEnd(): number {
    const b = this.buf;
    for (let i = 3; i < this.len; i++)
      if (b[i] === 10 && b[i - 1] === 13 && b[i - 2] === 10 && b[i - 3] === 13) return i + 1;
    return -1;
  }
  take(n: number): Uint8Array {
    const out = this.buf.slice(0, n);
    this.buf.copyWithin(0, n, this.len);
    this.len -= n;
    return out;
  }
}

function parseHead(text: string): { first: string; headers: Record<string, string> } | null {
  const lines = text.split('\r\n');
  const first = lines[0];
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i];
    if (l === '') continue;
    const c = l.indexOf(':');
    if (c <= 0) return null;
    headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
  }
  return { first, headers };
}

function contentLength(h: Record<string, string>): number | null {
  const v = h['content-length'];
  if (v === undefined) return 0;
  return /^\d+$/.test(v) ? Number(v) : null;
}

function wantsClose(version: string, h: Record<string, string>): boolean {
  const c = (h.connection ?? '').toLowerCase();
  if (c.includes('close')) return true;
  // HTTP/1.0 closes unless it asked for keep-alive (RFC 9112 §9.3).
  return version === 'HTTP/1.0' && !c.includes('keep-alive');
}

export interface HttpServerOptions {
  /**
   * When the client ends its side first, wait this long (ms) before ending
   * ours, so the server's CLOSE-WAIT is visible (a half-open connection, as
   * `allowHalfOpen`). Default 0: end at once.
   */
  closeDelayMs?: number;
}

/** An HTTP/1.1 server: `handler` answers each request; the server adds Content-Length and Connection. */
export function createHttpServer(
  net: Net,
  handler: (req: HttpRequest) => HttpResponse | Promise<HttpResponse>,
  opts: HttpServerOptions = {},
): Server {
  const delay = opts.closeDelayMs ?? 0;
  return net.createServer({ allowHalfOpen: true }, (sock) => serveConnection(sock, handler, delay));
}

function serveConnection(
  sock: Socket,
  handler: (req: HttpRequest) => HttpResponse | Promise<HttpResponse>,
  closeDelayMs: number,
): void {
  const q = new ByteQueue();
  let busy = false;
  let closing = false;
  sock.on('error', () => sock.destroy());
  sock.on('end', () => {
    // The client is done sending; finish what is in progress, then end our side.
    const finish = () => {
      if (!busy && !sock.writableEnded) sock.end();
      else if (busy) closing = true;
    };
    if (closeDelayMs > 0) setTimeout(finish, closeDelayMs);
    else finish();
  });
  const next = async (): Promise<void> => {
    if (busy || sock.destroyed) return;
    const he = q.headEnd();
    if (he < 0) {
      if (q.len > MAX_HEAD) reply(sock, { status: 431 }, 'HTTP/1.1', true);
      return;
    }
    const head = parseHead(dec.decode(q.buf.subarray(0, he - 4)));
    const parts = head?.first.split(' ') ?? [];
    const blen = head === null ? null : contentLength(head.headers);
    if (head === null || parts.length !== 3 || !parts[2].startsWith('HTTP/1.') || blen === null) {
      reply(sock, { status: 400 }, 'HTTP/1.1', true);
      return;
    }
    if (q.len < he + blen) return; // the body is still on its way
    q.take(he);
    const req: HttpRequest = {
      method: parts[0],
      path: parts[1],
      version: parts[2],
      headers: head.headers,
      body: q.take(blen),
    };
    busy = true;
    let res: HttpResponse;
    try {
      res = await handler(req);
    } catch {
      res = { status: 500 };
    }
    busy = false;
    const close = wantsClose(req.version, req.headers) || closing;
    reply(sock, res, req.version, close, req.method === 'HEAD');
    if (!close) void next();
  };
  sock.on('data', (d: Uint8Array) => {
    q.push(d);
    void next();
  });
}

function reply(sock: Socket, res: HttpResponse, version: string, close: boolean, head = false): void {
  if (sock.destroyed || sock.writableEnded) return;
  const body = typeof res.body === 'string' ? enc.encode(res.body) : (res.body ?? new Uint8Array(0));
  const h: Record<string, string> = { ...(res.headers ?? {}) };
  h['Content-Length'] = String(body.length);
  h.Connection = close ? 'close' : 'keep-alive';
  let text = `${version === 'HTTP/1.0' ? 'HTTP/1.0' : 'HTTP/1.1'} ${res.status} ${STATUS_TEXT[res.status] ?? ''}\r\n`;
  for (const k of Object.keys(h)) text += `${k}: ${h[k]}\r\n`;
  text += '\r\n';
  sock.write(text);
  if (!head && body.length > 0) sock.write(body);
  if (close) sock.end();
}

export interface HttpClientOptions {
  host: string;
  port: number;
}

/**
 * A client on one persistent connection: requests run one after another
 * over it (opened on first use, reopened if the server closed it).
 */
export class HttpClient extends Emitter {
  private sock: Socket | null = null;
  private readonly q = new ByteQueue();
  private chain: Promise<unknown> = Promise.resolve();
  private pending: {
    resolve: (r: HttpClientResponse) => void;
    reject: (e: Error) => void;
    head: boolean;
  } | null = null;
  private eof = false;
  /** Connections opened so far. */
  connections = 0;

  constructor(
    readonly net: Net,
    readonly opts: HttpClientOptions,
  ) {
    super();
  }

  get socket(): Socket | null {
    return this.sock;
  }

  get(path: string, headers: Record<string, string> = {}): Promise<HttpClientResponse> {
    return this.request('GET', path, headers);
  }

  request(
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body?: Uint8Array | string,
  ): Promise<HttpClientResponse> {
    const run = this.chain.then(() => this.send(method, path, headers, body));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Ends the connection (FIN) and resolves once it has closed. */
  close(): Promise<void> {
    const done = this.chain.then(
      () =>
        new Promise<void>((resolve) => {
          const s = this.sock;
          if (s === null || s.destroyed) {
            resolve();
            return;
          }
          s.once('close', () => resolve());
          s.end();
        }),
    );
    this.chain = done;
    return done;
  }

  private connect(): Promise<Socket> {
    const s0 = this.sock;
    if (s0 !== null && !s0.destroyed && !s0.writableEnded && !this.eof) return Promise.resolve(s0);
    return new Promise<Socket>((resolve, reject) => {
      this.q.len = 0;
      this.eof = false;
      const s = this.net.connect(this.opts.port, this.opts.host);
      this.sock = s;
      this.connections++;
      const onErr = (e: Error) => reject(e);
      s.once('error', onErr);
      s.once('connect', () => {
        s.off('error', onErr);
        this.emit('connect', s);
        resolve(s);
      });
      s.on('data', (d: Uint8Array) => {
        this.q.push(d);
        this.parse();
      });
      s.on('end', () => {
        this.eof = true;
        this.parse();
      });
      s.on('error', (e: Error) => this.fail(e));
      s.on('close', () => this.fail(new Error('connection closed before the response')));
    });
  }

  private async send(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: Uint8Array | string,
  ): Promise<HttpClientResponse> {
    const s = await this.connect();
    const b = typeof body === 'string' ? enc.encode(body) : body;
    const h: Record<string, string> = { Host: `${this.opts.host}:${this.opts.port}`, ...headers };
    if (b !== undefined) h['Content-Length'] = String(b.length);
    let text = `${method} ${path} HTTP/1.1\r\n`;
    for (const k of Object.keys(h)) text += `${k}: ${h[k]}\r\n`;
    text += '\r\n';
    return new Promise<HttpClientResponse>((resolve, reject) => {
      this.pending = { resolve, reject, head: method === 'HEAD' };
      s.write(text);
      if (b !== undefined && b.length > 0) s.write(b);
      this.parse();
    });
  }

  private fail(e: Error): void {
    const p = this.pending;
    this.pending = null;
    if (p !== null) p.reject(e);
  }

  private parse(): void {
    const p = this.pending;
    if (p === null) return;
    const he = this.q.headEnd();
    if (he < 0) {
      if (this.eof) this.fail(new Error('connection ended before the response head'));
      return;
    }
    const head = parseHead(dec.decode(this.q.buf.subarray(0, he - 4)));
    const m = head === null ? null : /^(HTTP\/1\.[01]) (\d{3}) ?(.*)$/.exec(head.first);
    if (head === null || m === null) {
      this.fail(new Error('malformed response head'));
      this.sock?.destroy();
      return;
    }
    let blen: number | null = p.head ? 0 : contentLength(head.headers);
    if (head.headers['content-length'] === undefined && !p.head) {
      // No length: the body runs to the end of the connection (RFC 9112 §6.3, last rule).
      if (!this.eof) return;
      blen = this.q.len - he;
    }
    if (blen === null) {
      this.fail(new Error('bad Content-Length'));
      return;
    }
    if (this.q.len < he + blen) {
      if (this.eof) this.fail(new Error('connection ended inside the body'));
      return;
    }
    this.q.take(he);
    const body = this.q.take(blen);
    this.pending = null;
    p.resolve({
      status: Number(m[2]),
      statusText: m[3],
      headers: head.headers,
      body,
      localPort: this.sock?.localPort ?? 0,
    });
    if (wantsClose(m[1], head.headers)) this.sock?.end();
  }
}
