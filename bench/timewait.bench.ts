/**
 * TIME_WAIT at scale: bytes per entry and lookup cost with 1,000,000
 * entries in usnet's compact table (through InetTables, bind bucket
 * accounting included), beside a plain Map of objects keyed by a 4-tuple
 * string (the obvious JavaScript design) measured in the same run; and the
 * time to create and to expire them all in virtual time.
 *
 *   node --expose-gc --import tsx bench/timewait.bench.ts [entries=1000000]
 *
 * (Without --expose-gc the memory figures include garbage and are rough.)
 */
import { Counters } from '../src/counters.js';
import { type InetSock, InetTables } from '../src/inet/inet-tables.js';
import { newTimeWaitInit } from '../src/inet/timewait-table.js';
import { Rng } from '../src/rng.js';
import { Sysctl } from '../src/sysctl.js';
import { TimerWheel } from '../src/time/timer-wheel.js';
import { u32ToV4 } from '../src/wire/addr.js';

const N = Number(process.argv[2] ?? 1_000_000);
const gc = (globalThis as { gc?: () => void }).gc;
const mem = (): number => {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

// Server-side TIME_WAIT: 198.18.0.1:80 to N clients (remote address and port vary).
const LADDR = 0xc6120001;
const raddrOf = (i: number) => (0x0a000000 + Math.floor(i / 60000)) >>> 0;
const rportOf = (i: number) => 1024 + (i % 60000);

const host = {
  now: 0,
  sysctl: new Sysctl({ 'net.ipv4.tcp_max_tw_buckets': 2 * N }),
  counters: new Counters(),
  rng: new Rng(1),
  timers: new TimerWheel(0),
  ip: { route: () => null, isLocal: () => true },
};

const base = mem();
const tables = new InetTables<InetSock>(host);
const e = newTimeWaitInit();
e.laddr = u32ToV4(LADDR);
e.lport = 80;
e.hasTs = true;
let t0 = performance.now();
for (let i = 0; i < N; i++) {
  e.raddr = u32ToV4(raddrOf(i)); // one small array per entry here, garbage afterwards
  e.rport = rportOf(i);
  e.sndNxt = i;
  e.rcvNxt = i * 7;
  e.tsRecent = i;
  host.now = (i / N) * 1000; // created over one second
  tables.addTimeWait(e, host.now);
}
const createMs = performance.now() - t0;
const used = mem() - base;
const tw4 = tables.tw4;
const tableBytesPerEntry = tw4.bytes / tw4.size;

// Lookups: random existing tuples, on the packet path's word API and on the byte-address API.
const rng = new Rng(2);
const K = 1 << 16;
const idx = new Uint32Array(K);
for (let k = 0; k < K; k++) idx[k] = rng.below(N);
// The packet path hands addresses as views into the received packet: one
// buffer, rewritten per lookup here, as a packet's header would be.
const pkt = new Uint8Array(8);
const laddrView = pkt.subarray(0, 4);
const raddrView = pkt.subarray(4, 8);
laddrView.set(u32ToV4(LADDR));
let sink = 0;
function bestOf(f: () => number, iters: number, rounds = 5): number {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const s = performance.now();
    sink ^= f();
    best = Math.min(best, ((performance.now() - s) * 1e6) / iters);
  }
  return best;
}
const ITER = 2_000_000;
const nsWords = bestOf(() => {
  let acc = 0;
  for (let j = 0; j < ITER; j++) {
    const i = idx[j & (K - 1)];
    acc += tw4.findV4(LADDR, raddrOf(i), ((80 << 16) | rportOf(i)) >>> 0);
  }
  return acc;
}, ITER);
const nsBytes = bestOf(() => {
  let acc = 0;
  for (let j = 0; j < ITER; j++) {
    const i = idx[j & (K - 1)];
    const r = raddrOf(i);
    pkt[4] = r >>> 24;
    pkt[5] = r >>> 16;
    pkt[6] = r >>> 8;
    pkt[7] = r;
    acc += tables.lookupTimeWait(4, laddrView, 80, raddrView, rportOf(i));
  }
  return acc;
}, ITER);
// Latency: each lookup's tuple depends on the previous result, so the CPU
// cannot overlap the cache misses of consecutive lookups (the loops above
// measure throughput).
const nsChain = bestOf(() => {
  let acc = 0;
  let k = 0;
  for (let j = 0; j < ITER; j++) {
    const i = idx[k];
    const r = raddrOf(i);
    pkt[4] = r >>> 24;
    pkt[5] = r >>> 16;
    pkt[6] = r >>> 8;
    pkt[7] = r;
    const row = tables.lookupTimeWait(4, laddrView, 80, raddrView, rportOf(i));
    k = (k + 1 + (row & 1)) & (K - 1);
    acc += row;
  }
  return acc;
}, ITER);
const misses = bestOf(() => {
  let acc = 0;
  for (let j = 0; j < ITER; j++) acc += tw4.findV4(LADDR, 0x0b000000 + j, 80 << 16);
  return acc;
}, ITER);

// Expire them all: 60 s after the last one was made, in virtual time.
t0 = performance.now();
host.now = 61_001;
host.timers.advance(host.now);
const expireMs = performance.now() - t0;
const left = tables.timeWaitCount;

// Reference: Map<string, object> holding the same fields.
interface TwObj {
  laddr: string;
  raddr: string;
  lport: number;
  rport: number;
  sndNxt: number;
  rcvNxt: number;
  rcvWnd: number;
  tsRecent: number;
  tsRecentStamp: number;
  tsOffset: number;
  entryStamp: number;
  lastOow: number;
  flags: number;
  deadline: number;
}
const v4s = (n: number) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
const base2 = mem();
const ref = new Map<string, TwObj>();
t0 = performance.now();
for (let i = 0; i < N; i++) {
  const la = v4s(LADDR);
  const ra = v4s(raddrOf(i));
  ref.set(`${la}:80-${ra}:${rportOf(i)}`, {
    laddr: la,
    raddr: ra,
    lport: 80,
    rport: rportOf(i),
    sndNxt: i,
    rcvNxt: i * 7,
    rcvWnd: 65535,
    tsRecent: i,
    tsRecentStamp: 0,
    tsOffset: 0,
    entryStamp: 0,
    lastOow: 0,
    flags: 0,
    deadline: 60_000,
  });
}
const refCreateMs = performance.now() - t0;
const refUsed = mem() - base2;
const laS = v4s(LADDR);
const nsRef = bestOf(() => {
  let acc = 0;
  for (let j = 0; j < ITER; j++) {
    const i = idx[j & (K - 1)];
    acc += ref.get(`${laS}:80-${v4s(raddrOf(i))}:${rportOf(i)}`)!.sndNxt;
  }
  return acc;
}, ITER);
const refKeys = Array.from({ length: K }, (_, k) => `${laS}:80-${v4s(raddrOf(idx[k]))}:${rportOf(idx[k])}`);
const nsRefPrebuilt = bestOf(() => {
  let acc = 0;
  for (let j = 0; j < ITER; j++) acc += ref.get(refKeys[j & (K - 1)])!.sndNxt;
  return acc;
}, ITER);

const f = (x: number, d = 0) => x.toFixed(d);
console.log(
  `TIME_WAIT entries: ${N.toLocaleString('en')} (IPv4, one server port)${gc ? '' : '  [run with --expose-gc for exact memory]'}`,
);
console.log(`usnet compact table`);
console.log(`  table columns + chain heads : ${f(tableBytesPerEntry, 1)} B/entry (capacity ${tw4.capacity})`);
console.log(`  measured heap+buffers       : ${f(used / N, 1)} B/entry (tables, buckets, timer wheel)`);
console.log(`  lookup hit (packet path)    : ${f(nsWords, 1)} ns   (words: findV4)`);
console.log(
  `  lookup hit (byte addresses) : ${f(nsBytes, 1)} ns   (InetTables.lookupTimeWait on packet views)`,
);
console.log(`  lookup hit, dependent chain : ${f(nsChain, 1)} ns   (latency: no overlap between lookups)`);
console.log(`  lookup miss                 : ${f(misses, 1)} ns`);
console.log(
  `  create ${N.toLocaleString('en')}              : ${f(createMs)} ms (${f((createMs * 1e6) / N)} ns each)`,
);
console.log(
  `  expire all (virtual 60 s)   : ${f(expireMs)} ms (${f((expireMs * 1e6) / N)} ns each), ${left} left`,
);
console.log(`reference Map<string, object>`);
console.log(`  measured heap               : ${f(refUsed / N, 1)} B/entry`);
console.log(`  lookup hit, key built       : ${f(nsRef, 1)} ns`);
console.log(`  lookup hit, key prebuilt    : ${f(nsRefPrebuilt, 1)} ns`);
console.log(`  create                      : ${f(refCreateMs)} ms`);
console.log(
  `ratios (reference / usnet): memory ${f(refUsed / used, 1)}x, lookup ${f(nsRef / nsBytes, 1)}x (byte API), ${f(nsRef / nsWords, 1)}x (words)`,
);
if (sink === 0.5) console.log('');
