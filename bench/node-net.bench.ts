/**
 * What the node:net-compatible API delivers: a one-way bulk transfer through
 *   (kernel) node:net over the kernel loopback (127.0.0.1), and
 *   (usnet)  createNet() sockets on two usnet stacks on a MemoryWire
 *            (no delay, no rate limit) driven in real time by RealtimeDriver,
 * both in this process, same stream code (write with backpressure, 'data').
 * Prints MB/s of each and the ratio usnet / kernel. (For scale: raw
 * TcpSockets pumped in virtual time reach about the same MB/s as the usnet
 * line here, see bench/web-net.bench.ts: the stack, not the adapter, sets it.)
 * USNET_BENCH_QUICK=1 moves 8 MiB instead of 64 MiB.
 */
import { once } from 'node:events';
import net from 'node:net';
import { twoHosts } from '../src/node/net/two-hosts.js';

const TOTAL = (process.env.USNET_BENCH_QUICK ? 8 : 64) << 20;
const CHUNK = Buffer.alloc(64 * 1024, 0x5a);

// biome-ignore lint/suspicious/noExplicitAny: either implementation's objects
type AnyNet = { createServer: (...a: any[]) => any; connect: (...a: any[]) => any };

async function run(server: AnyNet, client: AnyNet, host: string): Promise<number> {
  let received = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => {
    done = r;
  });
  // biome-ignore lint/suspicious/noExplicitAny: as above
  const srv = server.createServer((s: any) => {
    s.on('data', (d: Buffer) => {
      received += d.length;
    });
    s.on('end', () => {
      s.end();
      done();
    });
  });
  srv.listen(0, host);
  await once(srv, 'listening');
  const c = client.connect(srv.address().port, host);
  await once(c, 'connect');
  const t0 = performance.now();
  let sent = 0;
  while (sent < TOTAL) {
    sent += CHUNK.length;
    if (!c.write(CHUNK)) await once(c, 'drain');
  }
  c.end();
  await finished;
  const ms = performance.now() - t0;
  if (received !== TOTAL) throw new Error(`received ${received} of ${TOTAL}`);
  srv.close();
  c.destroy();
  return TOTAL / 1e6 / (ms / 1000);
}

const kernel = await run(net, net, '127.0.0.1');
const h = twoHosts({ wire: { delay: 0 } });
const usnet = await run(h.netB, h.netA, '198.18.0.2');
h.close();
console.log(`bulk transfer, ${TOTAL >> 20} MiB one way, 64 KiB writes`);
console.log(`  node:net over the kernel loopback   ${kernel.toFixed(0).padStart(6)} MB/s`);
console.log(`  usnet createNet(), MemoryWire       ${usnet.toFixed(0).padStart(6)} MB/s`);
console.log(`  ratio usnet / kernel                ${(usnet / kernel).toFixed(3)}`);
