/**
 * node:http unchanged over usnet: the server takes usnet connections through
 * its 'connection' event, the client gets them from an Agent's
 * createConnection, and keep-alive reuses one TCP connection.
 *
 *   node --import tsx examples/http.ts
 */
import http from 'node:http';
import type net from 'node:net';
import { twoHosts } from '../src/node/net/two-hosts.js';

const hosts = twoHosts();

const app = http.createServer((req, res) => {
  res.setHeader('Content-Type', 'text/plain');
  res.end(`you asked for ${req.url}, from ${req.socket.remoteAddress}\n`);
});
// Feed the http server from usnet instead of the kernel.
const server = hosts.netB.createServer((socket) => app.emit('connection', socket));

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
(agent as unknown as { createConnection: unknown }).createConnection = (opts: net.NetConnectOpts) =>
  hosts.netA.connect(opts as { host: string; port: number });

function get(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '198.18.0.2', port: 80, path, agent }, (res) => {
        let body = '';
        const via = (res.socket as unknown as { localPort: number }).localPort;
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve(`${res.statusCode} (client port ${via}) ${body.trim()}`));
      })
      .on('error', reject);
  });
}

server.listen(80, '198.18.0.2', async () => {
  for (const path of ['/', '/about', '/api/items']) console.log(`GET ${path} -> ${await get(path)}`);
  agent.destroy();
  server.close(() => {
    console.log('done: three requests over one keep-alive connection');
    hosts.close();
  });
});
