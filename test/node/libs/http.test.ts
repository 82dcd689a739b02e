/**
 * node:http unchanged over usnet: the server is fed usnet sockets through its
 * 'connection' event, the client gets them from an http.Agent's
 * createConnection. Keep-alive reuses one TCP connection; chunked bodies in
 * both directions arrive intact.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { after, before, test } from 'node:test';
import { ADDR_B } from '../../../src/node/net/two-hosts.js';
import { body, type HttpOnUsnet, httpOnUsnet, PORT, sha256 } from './helpers.js';

const BIG = body(2 << 20, 7);
let h: HttpOnUsnet;
let agent: http.Agent;

before(async () => {
  h = await httpOnUsnet((req, res) => {
    if (req.url === '/big') {
      // No Content-Length: Transfer-Encoding: chunked, in uneven pieces.
      res.setHeader('Content-Type', 'application/octet-stream');
      let off = 0;
      let i = 0;
      const next = () => {
        while (off < BIG.length) {
          const n = Math.min(1000 + ((i++ * 7919) % 60000), BIG.length - off);
          const ok = res.write(BIG.subarray(off, off + n));
          off += n;
          if (!ok) {
            res.once('drain', next);
            return;
          }
        }
        res.end();
      };
      next();
      return;
    }
    if (req.url === '/echo' && req.method === 'POST') {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        const b = Buffer.concat(parts);
        res.setHeader('X-Request-Chunked', String(req.headers['transfer-encoding'] === 'chunked'));
        res.setHeader('X-Sha256', sha256(b));
        res.end(b);
      });
      return;
    }
    res.setHeader('Content-Type', 'text/plain');
    res.end(
      `hello ${req.url} from ${req.socket.localAddress}:${req.socket.localPort} to ${req.socket.remoteAddress}\n`,
    );
  });
  agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  (agent as unknown as { createConnection: unknown }).createConnection = (o: net.NetConnectOpts) =>
    h.hosts.netA.connect(o as { port: number; host: string });
});

after(async () => {
  agent.destroy();
  await h.close();
});

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  localPort: number;
}

function request(path: string, method = 'GET', send?: Buffer[]): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: ADDR_B, port: PORT, path, method, agent }, (res) => {
      const parts: Buffer[] = [];
      const localPort = (res.socket as unknown as { localPort: number }).localPort;
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), localPort }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    for (const p of send ?? []) req.write(p);
    req.end();
  });
}

test('GET with Content-Length: text body, addresses seen by the server', { timeout: 20_000 }, async () => {
  const r = await request('/hi');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-length'], String(r.body.length));
  assert.equal(r.body.toString(), `hello /hi from 198.18.0.2:${PORT} to 198.18.0.1\n`);
});

test('GET of a 2 MiB chunked body arrives intact', { timeout: 30_000 }, async () => {
  const r = await request('/big');
  assert.equal(r.status, 200);
  assert.equal(r.headers['transfer-encoding'], 'chunked');
  assert.equal(r.body.length, BIG.length);
  assert.equal(sha256(r.body), sha256(BIG));
});

test('POST with a chunked request body is echoed intact', { timeout: 30_000 }, async () => {
  const parts = [body(100, 1), body(70_000, 2), body(1, 3), body(300_000, 4)];
  const all = Buffer.concat(parts);
  const r = await request('/echo', 'POST', parts);
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-request-chunked'], 'true');
  assert.equal(r.headers['x-sha256'], sha256(all));
  assert.ok(r.body.equals(all));
});

test('keep-alive: ten requests reuse one TCP connection', { timeout: 30_000 }, async () => {
  const ports = new Set<number>();
  for (let i = 0; i < 10; i++) {
    const r = await request(`/k${i}`);
    assert.equal(r.status, 200);
    assert.match(r.body.toString(), new RegExp(`^hello /k${i} `));
    ports.add(r.localPort);
  }
  assert.equal(ports.size, 1);
  // Every request of this file went over the one connection the server accepted.
  assert.equal(h.accepted.length, 1);
  const row = (h.hosts.a.tcp as unknown as { list(): { state: string; lport: number }[] })
    .list()
    .find((x) => x.lport === [...ports][0]);
  assert.equal(row?.state, 'ESTAB');
});

test('http.request({ createConnection }) without an agent: one connection per request', {
  timeout: 20_000,
}, async () => {
  const before = h.accepted.length;
  for (const path of ['/x', '/y']) {
    const text = await new Promise<string>((resolve, reject) => {
      const req = http.request(
        {
          host: ADDR_B,
          port: PORT,
          path,
          createConnection: (o: http.ClientRequestArgs) =>
            h.hosts.netA.connect({ port: Number(o.port), host: String(o.host) }) as unknown as net.Socket,
        },
        (res) => {
          let b = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            b += d;
          });
          res.on('end', () => resolve(b));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.match(text, new RegExp(`^hello ${path} from 198\\.18\\.0\\.2:${PORT} to 198\\.18\\.0\\.1\\n$`));
  }
  assert.equal(h.accepted.length - before, 2);
});
