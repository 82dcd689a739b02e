/**
 * ws over usnet: a WebSocketServer in noServer mode takes upgrades from the
 * node:http server fed by usnet; the client dials through `createConnection`.
 * Text and a 1 MiB binary message go both ways; the close handshake carries
 * its code and reason.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { ClientRequestArgs } from 'node:http';
import { after, before, test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { ADDR_B } from '../../../src/node/net/two-hosts.js';
import { body, type HttpOnUsnet, httpOnUsnet, PORT, sha256 } from './helpers.js';

let h: HttpOnUsnet;
let wss: WebSocketServer;
const serverClose: { code: number; reason: string }[] = [];

before(async () => {
  h = await httpOnUsnet((_req, res) => res.writeHead(426).end());
  wss = new WebSocketServer({ noServer: true });
  h.app.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  wss.on('connection', (ws, req) => {
    ws.send(`welcome ${req.socket.remoteAddress}`);
    ws.on('message', (data, isBinary) => {
      const b = data as Buffer;
      if (isBinary) ws.send(Buffer.concat([Buffer.from(sha256(b)), b]), { binary: true });
      else ws.send(`echo: ${b.toString()}`);
    });
    ws.on('close', (code, reason) => serverClose.push({ code, reason: reason.toString() }));
  });
});

after(async () => {
  wss.close();
  await h.close();
});

test('ws: text and a 1 MiB binary message both ways, then a clean close', { timeout: 30_000 }, async () => {
  const ws = new WebSocket(`ws://${ADDR_B}:${PORT}/chat`, {
    createConnection: (o: ClientRequestArgs) =>
      h.hosts.netA.connect({ port: Number(o.port), host: String(o.host) }) as never,
  });
  const inbox: (string | Buffer)[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (d, isBinary) => {
    inbox.push(isBinary ? (d as Buffer) : d.toString());
    waiters.shift()?.();
  });
  const next = async () => {
    if (inbox.length === 0) await new Promise<void>((r) => waiters.push(r));
    return inbox.shift() as string | Buffer;
  };
  await once(ws, 'open');
  assert.equal(await next(), 'welcome 198.18.0.1');
  ws.send('hello over usnet');
  assert.equal(await next(), 'echo: hello over usnet');
  const big = body(1 << 20, 3);
  ws.send(big);
  const back = (await next()) as Buffer;
  assert.equal(back.subarray(0, 64).toString(), sha256(big));
  assert.ok(back.subarray(64).equals(big));
  ws.close(4000, 'bye');
  const [code, reason] = await once(ws, 'close');
  assert.equal(code, 4000);
  assert.equal(reason.toString(), 'bye');
  for (let i = 0; i < 200 && serverClose.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(serverClose, [{ code: 4000, reason: 'bye' }]);
});
