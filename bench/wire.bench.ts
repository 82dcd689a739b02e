/**
 * Wire codec speed: Internet checksum throughput beside a Uint8Array.set copy
 * of the same size (measured in the same run; the goal is checksum ≥ 0.5× copy),
 * and ns per parse / build of a TCP header with Linux's options.
 *
 *   node --import tsx bench/wire.bench.ts
 */
import { checksum, checksumBackend, sum16Portable, wireBuffer } from '../src/wire/checksum.js';
import { emitTcp, newTcpHeader, parseTcp, TCP_ACK, TCP_SYN, tcpFillChecksum } from '../src/wire/tcp.js';

let sink = 0;

/** Run `fn` `iters` times per round; report the best of `rounds` rounds in ns per call. */
function measure(fn: () => void, iters: number, rounds = 7): number {
  for (let i = 0; i < iters; i++) fn(); // warm up / optimise
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iters; i++) fn();
    const ns = Number(process.hrtime.bigint() - t0) / iters;
    if (ns < best) best = ns;
  }
  return best;
}

function fillRandom(b: Uint8Array): void {
  let x = 0x9e3779b9;
  for (let i = 0; i < b.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
}

const rows: string[][] = [['what', 'throughput', 'time/op', 'speed vs copy (goal ≥ 0.5)']];
function row(...cols: string[]): void {
  rows.push(cols);
}

for (const size of [1500, 65536]) {
  const src = new Uint8Array(size);
  const dst = new Uint8Array(size);
  const arena = wireBuffer(size);
  fillRandom(src);
  arena.set(src);
  const iters = size === 1500 ? 400_000 : 10_000;
  const tCopy = measure(() => {
    dst.set(src);
  }, iters);
  const tInPlace = measure(() => {
    sink ^= checksum(arena, 0, size);
  }, iters);
  const tStaged = measure(() => {
    sink ^= checksum(src, 0, size);
  }, iters);
  const tJs = measure(() => {
    sink ^= sum16Portable(src, 0, size);
  }, iters);
  const gb = (t: number) => `${(size / t).toFixed(2)} GB/s`;
  const ratio = (t: number) => (tCopy / t).toFixed(2);
  row(`Uint8Array.set copy, ${size} B`, gb(tCopy), `${tCopy.toFixed(1)} ns`, '1.00 (reference)');
  row(
    `checksum, wireBuffer (in place), ${size} B`,
    gb(tInPlace),
    `${tInPlace.toFixed(1)} ns`,
    ratio(tInPlace),
  );
  row(`checksum, plain Uint8Array, ${size} B`, gb(tStaged), `${tStaged.toFixed(1)} ns`, ratio(tStaged));
  row(`checksum, portable JS only, ${size} B`, gb(tJs), `${tJs.toFixed(1)} ns`, ratio(tJs));
}

// TCP header with Linux's data-segment options (nop, nop, TS, nop, nop, SACK x2) and a SYN's options.
{
  const buf = new Uint8Array(2048);
  const h = newTcpHeader();
  h.srcPort = 40000;
  h.dstPort = 80;
  h.seq = 0x12345678;
  h.ack = 0x9abcdef0;
  h.flags = TCP_ACK;
  h.window = 502;
  h.hasTs = true;
  h.tsVal = 1000;
  h.tsEcr = 2000;
  h.sackCount = 2;
  h.sackBlocks.set([1, 2, 3, 4]);
  const seglen = 32 + 12 + 20 + 1448;
  const pseudo = 0x1234;
  const tBuild = measure(() => {
    h.seq = (h.seq + 1) >>> 0;
    const n = emitTcp(h, buf, 40);
    sink ^= n;
  }, 1_000_000);
  const hlen = emitTcp(h, buf, 40);
  tcpFillChecksum(buf, 40, seglen, pseudo);
  const seg = buf.subarray(40, 40 + seglen);
  const out = newTcpHeader();
  const tParse = measure(() => {
    parseTcp(seg, out);
    sink ^= out.tsVal;
  }, 1_000_000);
  const tParseOff = measure(() => {
    parseTcp(buf, out, 40, seglen);
    sink ^= out.tsVal;
  }, 1_000_000);
  row('', '', '', '');
  row(`TCP build (hdr ${hlen} B: TS + 2 SACK)`, '', `${tBuild.toFixed(1)} ns`, '');
  row(`TCP parse (same, view)`, '', `${tParse.toFixed(1)} ns`, '');
  row(`TCP parse (same, buf+off+len)`, '', `${tParseOff.toFixed(1)} ns`, '');

  const s = newTcpHeader();
  s.srcPort = 40000;
  s.dstPort = 80;
  s.flags = TCP_SYN;
  s.window = 64240;
  s.mss = 1460;
  s.sackOk = true;
  s.hasTs = true;
  s.tsVal = 1;
  s.wscale = 7;
  const tSyn = measure(() => {
    s.tsVal = (s.tsVal + 1) >>> 0;
    sink ^= emitTcp(s, buf, 40);
  }, 1_000_000);
  const synLen = emitTcp(s, buf, 40);
  const syn = buf.subarray(40, 40 + synLen);
  const tSynParse = measure(() => {
    parseTcp(syn, out);
    sink ^= out.mss;
  }, 1_000_000);
  const tCsum = measure(() => {
    sink ^= tcpFillChecksum(buf, 40, seglen, pseudo);
  }, 200_000);
  row(`TCP build SYN (hdr ${synLen} B)`, '', `${tSyn.toFixed(1)} ns`, '');
  row(`TCP parse SYN`, '', `${tSynParse.toFixed(1)} ns`, '');
  row(`TCP fill checksum (${seglen} B segment)`, '', `${tCsum.toFixed(1)} ns`, '');
}

const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c].length)));
console.log(`node ${process.version}, ${process.arch}, checksum backend: ${checksumBackend()}`);
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  '));
if (sink === 0.5) console.log(sink); // keep results observable
