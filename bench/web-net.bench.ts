/**
 * What the browser adapter costs: a one-way bulk transfer between two stacks
 * on a MemoryWire (no delay, no rate limit) through
 *   (ref)  raw TcpSockets pumped by hand in virtual time (World), and
 *   (web)  the web net API (Socket.write with backpressure / 'data' events)
 *          driven in real time by BrowserDriver,
 * both in this process. Prints MB/s of each and the ratio web / ref.
 * USNET_BENCH_QUICK=1 moves 8 MiB instead of 64 MiB.
 */
import { MemoryWire } from '../src/link/memory-wire.js';
import { Stack } from '../src/stack.js';
import { BrowserDriver } from '../src/web/driver.js';
import { createNet } from '../src/web/net.js';
import { BulkReceiver, BulkSender, connectPair } from '../test/scenario/transfer-harness.js';

let cpuShare = 0;
const TOTAL = (process.env.USNET_BENCH_QUICK ? 8 : 64) << 20;

function reference(): number {
  const p = connectPair({ wire: { delay: 0 } });
  const s = new BulkSender(p.ca, TOTAL, 1, false);
  const r = new BulkReceiver(p.cb, false);
  p.ca.onEvent = () => s.pump();
  p.cb.onEvent = () => r.pump();
  const t0 = performance.now();
  s.pump();
  p.world.runUntil(() => r.eof, { timeout: 3_600_000, maxSteps: 1e9 });
  const ms = performance.now() - t0;
  if (r.received !== TOTAL) throw new Error(`ref: received ${r.received}`);
  return TOTAL / 1e6 / (ms / 1000);
}

async function web(): Promise<number> {
  const driver = new BrowserDriver();
  const a = driver.add(new Stack({ seed: 1, now: 0 }));
  const b = driver.add(new Stack({ seed: 2, now: 0 }));
  const wire = driver.add(new MemoryWire({ delay: 0, mtu: 1500, clock: driver.clock }));
  a.addInterface('eth0', wire.a, { addrs: ['198.18.0.1/24'] });
  b.addInterface('eth0', wire.b, { addrs: ['198.18.0.2/24'] });
  const netA = createNet(a, driver);
  const netB = createNet(b, driver);
  driver.start();
  let received = 0;
  const done = new Promise<void>((resolve) => {
    netB
      .createServer((s) => {
        s.on('data', (d: Uint8Array) => {
          received += d.length;
        });
        s.on('end', () => resolve());
      })
      .listen(5001, '198.18.0.2');
  });
  const chunk = new Uint8Array(65536);
  const c = netA.connect(5001, '198.18.0.2');
  await new Promise((r) => c.once('connect', r));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let sent = 0;
  while (sent < TOTAL) {
    sent += chunk.length;
    if (!c.write(chunk)) await new Promise((r) => c.once('drain', r));
  }
  c.end();
  await done;
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  cpuShare = (cpu.user + cpu.system) / 1000 / ms;
  driver.stop();
  if (received !== TOTAL) throw new Error(`web: received ${received}`);
  return TOTAL / 1e6 / (ms / 1000);
}

const ref = reference();
const w = await web();
console.log(`bulk transfer of ${TOTAL >> 20} MiB, one direction, MemoryWire without delay`);
console.log(`  ref  raw TcpSocket pumps, virtual time   ${ref.toFixed(0).padStart(6)} MB/s`);
console.log(
  `  web  web net API, BrowserDriver (real)   ${w.toFixed(0).padStart(6)} MB/s   ratio web/ref ${(w / ref).toFixed(2)}`,
);
console.log(`       (process CPU time / wall time during the web run: ${(cpuShare * 100).toFixed(0)}%)`);
