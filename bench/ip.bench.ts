/**
 * IP and UDP packet-path cost: ns per datagram for IPv4 output (header +
 * checksum + transmit to a null link), a UDP sendto through the whole stack,
 * the receive path of a UDP datagram up to recv(), and an ICMP echo answered,
 * each beside a Uint8Array.set copy of the same packet measured in the same
 * run (the reference).
 *
 *   node --import tsx bench/ip.bench.ts
 */
import type { Link } from '../src/link/link.js';
import { Stack } from '../src/stack.js';
import { checksum, fold16, pseudoSumV4, sum16 } from '../src/wire/checksum.js';
import { emitIpv4Fast } from '../src/wire/ipv4.js';

let sink = 0;
type Loop = (n: number) => number;

function measureAll(cases: [Loop, number][], rounds = 7): number[] {
  const best = cases.map(() => Infinity);
  for (let r = 0; r <= rounds; r++) {
    cases.forEach(([loop, iters], i) => {
      const t0 = process.hrtime.bigint();
      sink ^= loop(iters);
      const ns = Number(process.hrtime.bigint() - t0) / iters;
      if (r > 0 && ns < best[i]) best[i] = ns;
    });
  }
  return best;
}

class NullLink implements Link {
  readonly mtu = 1500;
  onReceive: ((frame: Uint8Array) => void) | null = null;
  sent = 0;
  last: Uint8Array | null = null;
  transmit(frame: Uint8Array): void {
    this.sent += frame.length;
    this.last = frame;
  }
}

const A = Uint8Array.from([198, 18, 0, 1]);
const B = Uint8Array.from([198, 18, 0, 2]);
const PAYLOAD = 64;

const link = new NullLink();
const stack = new Stack({ seed: 1 });
stack.addInterface('eth0', link, { addrs: ['198.18.0.1/24'] });
const srv = stack.socket('udp', 4);
srv.bind(null, 9000);
const cli = stack.socket('udp', 4);
cli.bind(null, 9001);

// A UDP datagram from B to A:9000, and an echo request from B.
function datagram(): Uint8Array {
  const len = 8 + PAYLOAD;
  const f = new Uint8Array(20 + len);
  const u = 20;
  f[u] = 0x9c;
  f[u + 1] = 0x40;
  f[u + 2] = 9000 >> 8;
  f[u + 3] = 9000 & 0xff;
  f[u + 4] = len >> 8;
  f[u + 5] = len;
  const c = ~fold16(sum16(f, u, len, pseudoSumV4(B, A, 17, len))) & 0xffff;
  f[u + 6] = c >> 8;
  f[u + 7] = c;
  emitIpv4Fast(f, 0, f.length, 1, 0, 64, 17, 0, B, A);
  return f;
}
function echo(): Uint8Array {
  const f = new Uint8Array(20 + 8 + PAYLOAD);
  f[20] = 8;
  const c = checksum(f, 20, 8 + PAYLOAD);
  f[22] = c >> 8;
  f[23] = c;
  emitIpv4Fast(f, 0, f.length, 1, 0, 64, 1, 0, B, A);
  return f;
}
const dg = datagram();
const ping = echo();
const src = new Uint8Array(dg.length);
const dst = new Uint8Array(dg.length);
const obuf = new Uint8Array(20 + 8 + PAYLOAD);
const data = new Uint8Array(PAYLOAD);

const cases: [string, Loop, number][] = [
  [
    `copy ${dg.length} B (reference)`,
    (n) => {
      for (let i = 0; i < n; i++) {
        src[0] = i;
        dst.set(src);
      }
      return dst[0];
    },
    2_000_000,
  ],
  [
    'ip.output (IPv4 header + transmit)',
    (n) => {
      for (let i = 0; i < n; i++) stack.ip.output(obuf, 20, 8 + PAYLOAD, 17, A, B);
      return link.sent;
    },
    500_000,
  ],
  [
    'udp sendto (UDP checksum + IP + transmit)',
    (n) => {
      for (let i = 0; i < n; i++) cli.sendto(data, B, 9000);
      return link.sent;
    },
    300_000,
  ],
  [
    'receive UDP datagram + recv()',
    (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) {
        stack.receive('eth0', dg);
        s += srv.recv().length;
      }
      return s;
    },
    300_000,
  ],
  [
    'receive echo request + reply transmitted',
    (n) => {
      for (let i = 0; i < n; i++) stack.receive('eth0', ping);
      return link.sent;
    },
    300_000,
  ],
];

const ns = measureAll(cases.map(([, loop, iters]) => [loop, iters]));
const ref = ns[0];
for (let i = 0; i < cases.length; i++) {
  console.log(
    `${cases[i][0].padEnd(44)} ${ns[i].toFixed(1).padStart(8)} ns/op   ${(ns[i] / ref).toFixed(1).padStart(6)}× copy`,
  );
}
if (sink === 0.5) console.log(sink);
