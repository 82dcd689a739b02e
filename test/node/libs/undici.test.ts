/**
 * undici over usnet: an Agent whose `connect` hands undici a usnet socket.
 * request() and fetch() move real data to and from a node:http server on
 * the other stack, over one kept-alive connection.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Agent, fetch, request } from 'undici';
import { ADDR_B } from '../../../src/node/net/two-hosts.js';
import { body, type HttpOnUsnet, httpOnUsnet, PORT, sha256 } from './helpers.js';

const BIG = body(1 << 20, 11);
const BASE = `http://${ADDR_B}:${PORT}`;
let h: HttpOnUsnet;
let agent: Agent;

before(async () => {
  h = await httpOnUsnet((req, res) => {
    if (req.url === '/big') {
      res.write(BIG.subarray(0, 1000)); // chunked: no Content-Length
      res.end(BIG.subarray(1000));
      return;
    }
    if (req.url === '/json') {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ path: req.url, from: req.socket.remoteAddress }));
      return;
    }
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const b = Buffer.concat(parts);
      res.setHeader('X-Sha256', sha256(b));
      res.end(b);
    });
  });
  agent = new Agent({
    connections: 1, // a pool of one: every request must reuse the kept-alive connection
    // undici's connector contract: call back with a connected socket or an error.
    connect: (opts, cb) => {
      const s = h.hosts.netA.connect({ port: Number(opts.port), host: opts.hostname });
      const onError = (e: Error) => cb(e, null);
      s.once('error', onError);
      s.once('connect', () => {
        s.removeListener('error', onError);
        cb(null, s as never);
      });
    },
  });
});

after(async () => {
  await agent.close();
  await h.close();
});

test('undici request(): JSON, a 1 MiB chunked body, a POST echoed back', { timeout: 30_000 }, async () => {
  const j = await request(`${BASE}/json`, { dispatcher: agent });
  assert.equal(j.statusCode, 200);
  assert.deepEqual(await j.body.json(), { path: '/json', from: '198.18.0.1' });

  const big = await request(`${BASE}/big`, { dispatcher: agent });
  assert.equal(big.headers['transfer-encoding'], 'chunked');
  const got = Buffer.from(await big.body.arrayBuffer());
  assert.equal(sha256(got), sha256(BIG));

  const payload = body(300_000, 5);
  const echo = await request(`${BASE}/echo`, { dispatcher: agent, method: 'POST', body: payload });
  assert.equal(echo.headers['x-sha256'], sha256(payload));
  assert.ok(Buffer.from(await echo.body.arrayBuffer()).equals(payload));
});

test('undici fetch() over the same dispatcher; one connection for everything', {
  timeout: 30_000,
}, async () => {
  const r = await fetch(`${BASE}/json`, { dispatcher: agent });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/json');
  assert.deepEqual(await r.json(), { path: '/json', from: '198.18.0.1' });
  const b = await fetch(`${BASE}/big`, { dispatcher: agent });
  assert.equal(sha256(Buffer.from(await b.arrayBuffer())), sha256(BIG));
  assert.equal(h.accepted.length, 1, 'undici kept the connection alive');
});
