/**
 * Shared set-up for the library tests: two usnet hosts in real time and a
 * node:http server on host b fed by usnet's net-compatible server (the
 * 'connection' event), exactly as an http.Server would be fed by node:net.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { UsnetServer, UsnetSocket } from '../../../src/node/net/index.js';
import { ADDR_B, type TwoHosts, twoHosts } from '../../../src/node/net/two-hosts.js';

export const PORT = 8080;

export interface HttpOnUsnet {
  hosts: TwoHosts;
  app: http.Server;
  server: UsnetServer;
  /** Connections the usnet server accepted. */
  accepted: UsnetSocket[];
  close(): Promise<void>;
}

export async function httpOnUsnet(handler: http.RequestListener): Promise<HttpOnUsnet> {
  const hosts = twoHosts({ wire: { delay: 0.2 } });
  const app = http.createServer(handler);
  const accepted: UsnetSocket[] = [];
  const server = hosts.netB.createServer((s) => {
    accepted.push(s);
    app.emit('connection', s);
  });
  server.listen(PORT, ADDR_B);
  await once(server, 'listening');
  return {
    hosts,
    app,
    server,
    accepted,
    async close() {
      for (const s of accepted) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      hosts.close();
    },
  };
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** A deterministic pseudo-random body (xorshift32), `n` bytes. */
export function body(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}
