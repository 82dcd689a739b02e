/**
 * Two stacks on a MemoryWire driven in real time by the BrowserDriver, each
 * with the web net API: client a (198.18.0.1), server b (198.18.0.2).
 */
import { MemoryWire, type MemoryWireOptions } from '../../src/link/memory-wire.js';
import { Stack } from '../../src/stack.js';
import type { TcpLayer } from '../../src/tcp/tcp.js';
import { BrowserDriver } from '../../src/web/driver.js';
import type { Emitter } from '../../src/web/emitter.js';
import { createNet, type Net } from '../../src/web/net.js';

export const A = '198.18.0.1';
export const B = '198.18.0.2';

export interface WebPair {
  driver: BrowserDriver;
  wire: MemoryWire;
  a: Stack;
  b: Stack;
  netA: Net;
  netB: Net;
  stop(): void;
}

export function webPair(wire: MemoryWireOptions = {}): WebPair {
  const driver = new BrowserDriver();
  const a = driver.add(new Stack({ seed: 1, name: 'a', now: 0 }));
  const b = driver.add(new Stack({ seed: 2, name: 'b', now: 0 }));
  const w = driver.add(new MemoryWire({ delay: 1, mtu: 1500, ...wire, clock: driver.clock }));
  a.addInterface('eth0', w.a, { addrs: [`${A}/24`] });
  b.addInterface('eth0', w.b, { addrs: [`${B}/24`] });
  const netA = createNet(a, driver);
  const netB = createNet(b, driver);
  driver.start();
  return { driver, wire: w, a, b, netA, netB, stop: () => driver.stop() };
}

/** Resolves with the event's arguments; rejects after `ms` (a bound, not a timing assertion). */
export function once(e: Emitter, event: string, ms = 10_000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no '${event}' within ${ms} ms`)), ms);
    e.once(event, (...args: unknown[]) => {
      clearTimeout(t);
      resolve(args);
    });
  });
}

/** Polls `pred` every few ms until true; rejects after `ms`. */
export function until(pred: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (pred()) resolve();
      else if (Date.now() > end) reject(new Error(`${what} not reached within ${ms} ms`));
      else setTimeout(poll, 2);
    };
    poll();
  });
}

export function states(s: Stack): string[] {
  return (s.tcp as TcpLayer).list().map((r) => r.state);
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
