/**
 * Ground truth (DESIGN principle 3): the Linux kernel, behind a TUN device in
 * a namespace we create, and a usnet stack with the same addresses get the
 * same packets (or send the same datagram); what they put on the wire must
 * agree on everything but the IPv4 Identification and the IPv6 flow label
 * value (random / keyed hashes in both). Needs root, /dev/net/tun, ip and
 * python3; skipped with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kernelTestsAvailable, Netns } from '../../src/node/netns.js';
import type { TunLink } from '../../src/node/tun.js';
import { Stack } from '../../src/stack.js';
import { newIcmpHeader, parseIcmp4, parseIcmp6 } from '../../src/wire/icmp.js';
import { newIpv4Header, parseIpv4 } from '../../src/wire/ipv4.js';
import { newIpv6Header, parseIpv6 } from '../../src/wire/ipv6.js';
import { bytes, CaptureLink, icmp4, icmp6, udp, v4, v6 } from './harness.js';

const avail = kernelTestsAvailable();
const skip = avail.ok ? false : `needs root, /dev/net/tun, ip and python3: ${avail.reason}`;

const K4 = Uint8Array.from([198, 18, 0, 1]); // the kernel's (and the usnet twin's) address
const P4 = Uint8Array.from([198, 18, 0, 2]); // the peer we pretend to be
const K6 = Uint8Array.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const P6 = Uint8Array.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);

/** What we compare of an answer: every header field but the IPv4 id, and the ICMP message bytes. */
function describe(f: Uint8Array): Record<string, unknown> {
  if (f[0] >> 4 === 4) {
    const ip = newIpv4Header();
    assert.equal(parseIpv4(f, ip), null);
    const h = newIcmpHeader();
    const icmpOk = ip.proto === 1 && parseIcmp4(f, h, ip.headerLen, ip.totalLen - ip.headerLen) === null;
    return {
      tos: ip.tos,
      ttl: ip.ttl,
      df: ip.df,
      totalLen: ip.totalLen,
      proto: ip.proto,
      icmpOk,
      message: Buffer.from(f.subarray(ip.headerLen, ip.totalLen)).toString('hex'),
    };
  }
  const ip = newIpv6Header();
  assert.equal(parseIpv6(f, ip), null);
  const h = newIcmpHeader();
  const icmpOk =
    ip.proto === 58 &&
    parseIcmp6(f, h, ip.src, ip.dst, ip.headerLen, 40 + ip.payloadLen - ip.headerLen) === null;
  return {
    tclass: ip.trafficClass,
    // Linux auto flow labels hash the flow with a boot-time secret: compare presence only.
    flowLabelSet: ip.flowLabel !== 0,
    hopLimit: ip.hopLimit,
    plen: ip.payloadLen,
    proto: ip.proto,
    icmpOk,
    message: Buffer.from(f.subarray(ip.headerLen)).toString('hex'),
  };
}

const PROBES: [string, Uint8Array][] = [
  [
    'echo v4 (tos 0x10, DF)',
    v4(icmp4(8, 0, (0x77 << 16) | 1, bytes(56)), {
      src: P4,
      dst: K4,
      proto: 1,
      tos: 0x10,
      ff: 0x4000,
      id: 11,
    }),
  ],
  ['udp v4 to a closed port', v4(udp(40000, 9, bytes(20), P4, K4), { src: P4, dst: K4, tos: 0x08, id: 12 })],
  [
    'udp v4, 1400 bytes, to a closed port',
    v4(udp(40000, 9, bytes(1400), P4, K4), { src: P4, dst: K4, id: 13 }),
  ],
  ['v4 unknown protocol 253', v4(bytes(30), { src: P4, dst: K4, proto: 253, id: 14 })],
  ['echo v6', v6(icmp6(128, 0, (0x78 << 16) | 2, bytes(56), P6, K6), 58, P6, K6)],
  ['udp v6 to a closed port', v6(udp(40000, 9, bytes(20), P6, K6), 17, P6, K6)],
  ['udp v6, 1400 bytes, to a closed port', v6(udp(40000, 9, bytes(1400), P6, K6), 17, P6, K6)],
  ['v6 unknown next header 253', v6(bytes(30), 253, P6, K6)],
];

/** Is this frame an answer to us (not the kernel's own router solicitations / MLD)? */
function toPeer(f: Uint8Array): boolean {
  if (f[0] >> 4 === 4) return f[16] === 198 && f[19] === 2;
  if (f[0] >> 4 !== 6 || f.length < 48) return false;
  return f[24] === 0xfd && f[39] === 2;
}

test('ICMP answers match the Linux kernel: echo, port and protocol unreachable, v4 and v6', {
  skip,
  timeout: 60_000,
}, async () => {
  const ns = Netns.create('icmpcmp');
  try {
    const tun = await ns.openTun({ nameInNetns: 'tun0', addrs: ['198.18.0.1/24', 'fd00::1/64'] });
    try {
      const got: Uint8Array[] = [];
      tun.onReceive = (f) => {
        if (toPeer(f)) got.push(f.slice());
      };
      const kernel: Record<string, unknown>[] = [];
      for (const [name, pkt] of PROBES) {
        const before = got.length;
        tun.transmit(pkt);
        const deadline = Date.now() + 3000;
        while (got.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        assert.equal(got.length, before + 1, `kernel answered ${name}`);
        kernel.push(describe(got[before]));
      }
      // The usnet twin, fed the same packets.
      const link = new CaptureLink(1500);
      const stack = new Stack({ seed: 3 });
      stack.addInterface('tun0', link, { addrs: ['198.18.0.1/24', 'fd00::1/64'] });
      for (const [name, pkt] of PROBES) {
        const before = link.sent.length;
        stack.receive('tun0', pkt.slice());
        assert.equal(link.sent.length, before + 1, `usnet answered ${name}`);
      }
      const ours = link.sent.map(describe);
      const diffs = [];
      for (let i = 0; i < PROBES.length; i++)
        if (JSON.stringify(ours[i]) !== JSON.stringify(kernel[i]))
          diffs.push({ probe: PROBES[i][0], ours: ours[i], kernel: kernel[i] });
      assert.deepEqual(diffs, []);
    } finally {
      await tun.close();
    }
  } finally {
    ns.delete();
  }
});

/** Sends one UDP datagram of n pattern bytes from (src, 40000) to (dst, 9) with the kernel's own socket. */
const SEND_PY = `
import socket, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ':' in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((src, 40000))
s.sendto(bytes((i * 31 + 1) & 0xff for i in range(n)), (dst, 9))
`;

/**
 * As SEND_PY, but first sends a 1-byte "ready" datagram from the bound socket
 * and waits 0.5 s: the test answers the ready datagram with an ICMP error
 * while the socket exists, then the big datagram follows.
 */
const PMTU_PY = `
import socket, sys, time
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ':' in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((src, 40000))
s.sendto(b'r', (dst, 9))
time.sleep(0.5)
s.sendto(bytes((i * 31 + 1) & 0xff for i in range(n)), (dst, 9))
`;

async function collect(
  tun: TunLink,
  want: number,
  ms = 3000,
  accept: (f: Uint8Array) => boolean = toPeer,
): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  tun.onReceive = (f) => {
    if (accept(f)) got.push(f.slice());
  };
  const deadline = Date.now() + ms;
  while (got.length < want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return got;
}

function fragSummary(f: Uint8Array): unknown[] {
  if (f[0] >> 4 === 4) {
    const ip = newIpv4Header();
    assert.equal(parseIpv4(f, ip), null);
    return [
      ip.totalLen,
      ip.df,
      ip.mf,
      ip.fragOffset,
      ip.ttl,
      ip.tos,
      ip.proto,
      Buffer.from(f.subarray(20)).toString('hex'),
    ];
  }
  const ip = newIpv6Header();
  assert.equal(parseIpv6(f, ip), null);
  return [
    ip.payloadLen,
    ip.nextHeader,
    ip.hopLimit,
    ip.flowLabel !== 0,
    ip.hasFragment && ip.fragOffset,
    ip.mf,
    ip.proto,
    Buffer.from(f.subarray(ip.headerLen)).toString('hex'),
  ];
}

test('a UDP datagram larger than the MTU is fragmented exactly as Linux does (v4, v6)', {
  skip,
  timeout: 60_000,
}, async () => {
  const ns = Netns.create('fragcmp');
  try {
    const tun = await ns.openTun({ nameInNetns: 'tun0', addrs: ['198.18.0.1/24', 'fd00::1/64'] });
    try {
      for (const [src, dst] of [
        ['198.18.0.1', '198.18.0.2'],
        ['fd00::1', 'fd00::2'],
      ]) {
        const pending = collect(tun, 3);
        const r = await ns.exec(['python3', '-c', SEND_PY, src, dst, '4000'], { timeoutMs: 10000 });
        assert.equal(r.code, 0, r.stderr);
        const kernel = await pending;
        assert.equal(kernel.length, 3, `kernel sent 3 fragments for ${dst}`);
        const link = new CaptureLink(1500);
        const stack = new Stack({ seed: 5 });
        stack.addInterface('tun0', link, { addrs: ['198.18.0.1/24', 'fd00::1/64'] });
        const sock = stack.socket('udp', src.includes(':') ? 6 : 4);
        sock.bind(src, 40000);
        sock.sendto(bytes(4000), dst, 9);
        assert.deepEqual(link.sent.map(fragSummary), kernel.map(fragSummary));
        const ids = new Set(link.sent.map((f) => (f[0] >> 4 === 4 ? (f[4] << 8) | f[5] : -1)));
        assert.equal(ids.size, 1, 'one Identification for all fragments');
      }
    } finally {
      await tun.close();
    }
  } finally {
    ns.delete();
  }
});

test('ICMP errors to one host: Linux and usnet both answer a burst of 10 with 6 (icmp_ratelimit)', {
  skip,
  timeout: 60_000,
}, async () => {
  const ns = Netns.create('ratecmp');
  try {
    const tun = await ns.openTun({ nameInNetns: 'tun0', addrs: ['198.18.0.1/24'] });
    try {
      const probe = (i: number) => v4(udp(40000 + i, 9, bytes(8), P4, K4), { src: P4, dst: K4, id: 100 + i });
      const pending = collect(tun, 10, 1500);
      for (let i = 0; i < 10; i++) tun.transmit(probe(i));
      const kernel = await pending;
      const link = new CaptureLink(1500);
      const stack = new Stack({ seed: 5 });
      stack.addInterface('tun0', link, { addrs: ['198.18.0.1/24'] });
      for (let i = 0; i < 10; i++) stack.receive('tun0', probe(i));
      assert.equal(kernel.length, 6);
      assert.equal(link.sent.length, kernel.length);
      assert.equal(stack.counters.get('IcmpOutRateLimitHost'), 4);
    } finally {
      await tun.close();
    }
  } finally {
    ns.delete();
  }
});

/** IPv4 fragments of `msg` (an ICMP message) for the given [offset, end) pieces. */
function pieces4(msg: Uint8Array, cuts: [number, number][], id: number): Uint8Array[] {
  return cuts.map(([o, e]) =>
    v4(msg.subarray(o, e), { src: P4, dst: K4, proto: 1, id, ff: (e < msg.length ? 0x2000 : 0) | (o >> 3) }),
  );
}

const SCENARIOS: { name: string; cuts: [number, number][] }[] = [
  {
    name: 'in order',
    cuts: [
      [0, 1480],
      [1480, 2960],
      [2960, 3008],
    ],
  },
  {
    name: 'reversed',
    cuts: [
      [2960, 3008],
      [1480, 2960],
      [0, 1480],
    ],
  },
  {
    name: 'duplicate middle',
    cuts: [
      [0, 1480],
      [1480, 2960],
      [1480, 2960],
      [2960, 3008],
    ],
  },
  {
    name: 'a piece inside data already queued',
    cuts: [
      [0, 1480],
      [1480, 2960],
      [800, 2000],
      [2960, 3008],
    ],
  },
  {
    name: 'partial overlap',
    cuts: [
      [0, 1480],
      [1000, 2000],
      [1480, 2960],
      [2960, 3008],
    ],
  },
];

test('fragmented echo requests: reassembly, duplicates, overlaps and the fragmented reply match Linux', {
  skip,
  timeout: 60_000,
}, async () => {
  const ns = Netns.create('reasmcmp', { 'net.ipv4.ipfrag_time': 1 });
  try {
    const tun = await ns.openTun({ nameInNetns: 'tun0', addrs: ['198.18.0.1/24'] });
    try {
      for (let i = 0; i < SCENARIOS.length; i++) {
        const sc = SCENARIOS[i];
        const msg = icmp4(8, 0, ((0x100 + i) << 16) | 1, bytes(3000, i));
        const frags = pieces4(msg, sc.cuts, 500 + i);
        const pending = collect(tun, 3, 500);
        for (const f of frags) tun.transmit(f);
        const kernel = await pending;
        const link = new CaptureLink(1500);
        const stack = new Stack({ seed: 5 });
        stack.addInterface('tun0', link, { addrs: ['198.18.0.1/24'] });
        for (const f of frags) stack.receive('tun0', f.slice());
        assert.deepEqual(link.sent.map(fragSummary), kernel.map(fragSummary), sc.name);
        assert.equal(kernel.length, sc.name === 'partial overlap' ? 0 : 3, `${sc.name}: kernel replies`);
      }
    } finally {
      await tun.close();
    }
  } finally {
    ns.delete();
  }
});

test('an incomplete datagram times out with the same ICMP time exceeded as Linux (v4, v6)', {
  skip,
  timeout: 60_000,
}, async () => {
  const ns = Netns.create('fragtime', { 'net.ipv4.ipfrag_time': 1, 'net.ipv6.ip6frag_time': 1 });
  try {
    const tun = await ns.openTun({ nameInNetns: 'tun0', addrs: ['198.18.0.1/24', 'fd00::1/64'] });
    try {
      const first4 = v4(udp(40000, 9, bytes(2000), P4, K4).subarray(0, 1480), {
        src: P4,
        dst: K4,
        id: 77,
        ff: 0x2000,
      });
      const dgram6 = udp(40000, 9, bytes(2000), P6, K6);
      const first6 = new Uint8Array(48 + 1448);
      first6.set(v6(new Uint8Array(8 + 1448), 44, P6, K6));
      first6.set([17, 0, 0, 1, 0, 0, 0, 77], 40); // Fragment header: next 17, offset 0, M=1, id 77
      first6.set(dgram6.subarray(0, 1448), 48);
      for (const [name, first] of [
        ['v4', first4],
        ['v6', first6],
      ] as const) {
        const pending = collect(tun, 1, 3000);
        tun.transmit(first);
        const kernel = await pending;
        assert.equal(kernel.length, 1, `kernel sent time exceeded (${name})`);
        const link = new CaptureLink(1500);
        const stack = new Stack({
          seed: 5,
          sysctl: { 'net.ipv4.ipfrag_time': 1, 'net.ipv6.ip6frag_time': 1 },
        });
        stack.addInterface('tun0', link, { addrs: ['198.18.0.1/24', 'fd00::1/64'] });
        stack.receive('tun0', first.slice());
        stack.advance(1000);
        assert.equal(link.sent.length, 1, `usnet sent time exceeded (${name})`);
        assert.deepEqual(describe(link.sent[0]), describe(kernel[0]), name);
      }
    } finally {
      await tun.close();
    }
  } finally {
    ns.delete();
  }
});

/** `nstat -asz` inside the namespace: absolute values, history untouched. */
async function nstat(ns: Netns): Promise<Map<string, number>> {
  const r = await ns.exec(['nstat', '-asz'], { timeoutMs: 10000 });
  assert.equal(r.code, 0, r.stderr);
  const m = new Map<string, number>();
  for (const line of r.stdout.split('\n')) {
    const [name, value] = line.trim().split(/\s+/);
    if (name && value && /^\d+$/.test(value)) m.set(name, Number(value));
  }
  return m;
}

/** Counters compared (v6 output totals are left out: the kernel sends its own MLD/RS). */
const COMPARED = [
  'IpInReceives',
  'IpInHdrErrors',
  'IpInAddrErrors',
  'IpInUnknownProtos',
  'IpInDelivers',
  'IpOutRequests',
  'IpExtInTruncatedPkts',
  'IpExtInCsumErrors',
  'IpReasmReqds',
  'IpReasmOKs',
  'IpReasmFails',
  'IcmpInMsgs',
  'IcmpInErrors',
  'IcmpInCsumErrors',
  'IcmpInEchos',
  'IcmpOutMsgs',
  'IcmpOutEchoReps',
  'IcmpOutDestUnreachs',
  'IcmpMsgInType8',
  'IcmpMsgOutType0',
  'IcmpMsgOutType3',
  'UdpNoPorts',
  'UdpInErrors',
  'UdpInCsumErrors',
  'Ip6InReceives',
  'Ip6InHdrErrors',
  'Ip6InAddrErrors',
  'Ip6InTruncatedPkts',
  'Ip6InUnknownProtos',
  'Ip6InDelivers',
  'Ip6ReasmReqds',
  'Ip6ReasmOKs',
  'Icmp6InMsgs',
  'Icmp6InErrors',
  'Icmp6InCsumErrors',
  'Icmp6InEchos',
  'Icmp6OutEchoReplies',
  'Icmp6OutDestUnreachs',
  'Icmp6OutParmProblems',
  'Udp6NoPorts',
  'Udp6InErrors',
  'Udp6InCsumErrors',
  'IpExtReasmOverlaps',
  'Ip6ReasmFails',
  'IcmpInDestUnreachs',
  'IcmpInTimeExcds',
  'Icmp6InDestUnreachs',
  'Icmp6InPktTooBigs',
];

function badPackets(): [string, Uint8Array][] {
  const out: [string, Uint8Array][] = [];
  const corrupt = (p: Uint8Array, i: number) => {
    const c = p.slice();
    c[i] ^= 0x5a;
    return c;
  };
  const echo4 = v4(icmp4(8, 0, (9 << 16) | 1, bytes(32)), { src: P4, dst: K4, proto: 1, id: 1 });
  out.push(['v4 echo', echo4]);
  out.push(['v4 bad header checksum', corrupt(echo4, 10)]);
  out.push(['v4 truncated', echo4.subarray(0, echo4.length - 4)]);
  const ihl = echo4.slice();
  ihl[0] = 0x44;
  out.push(['v4 IHL 4', ihl]);
  out.push([
    'v4 not ours',
    v4(udp(1, 2, bytes(8), P4, K4), { src: P4, dst: Uint8Array.from([198, 18, 0, 77]), id: 2 }),
  ]);
  out.push(['v4 unknown protocol', v4(bytes(20), { src: P4, dst: K4, proto: 253, id: 3 })]);
  const u = udp(40000, 9, bytes(10), P4, K4);
  out.push(['v4 udp bad checksum', v4(corrupt(u, 9), { src: P4, dst: K4, id: 4 })]);
  out.push(['v4 udp closed port', v4(u, { src: P4, dst: K4, id: 5 })]);
  out.push([
    'v4 icmp bad checksum',
    v4(corrupt(icmp4(8, 0, 1, bytes(8)), 9), { src: P4, dst: K4, proto: 1, id: 6 }),
  ]);
  out.push(['v4 multicast source', v4(u, { src: Uint8Array.from([224, 0, 0, 5]), dst: K4, id: 7 })]);
  const big = udp(40001, 9, bytes(2000), P4, K4);
  for (const [o, e] of [
    [0, 1480],
    [1480, big.length],
  ])
    out.push([
      `v4 fragment ${o}`,
      v4(big.subarray(o, e), { src: P4, dst: K4, id: 8, ff: (e < big.length ? 0x2000 : 0) | (o >> 3) }),
    ]);
  const echo6 = v6(icmp6(128, 0, (9 << 16) | 2, bytes(32), P6, K6), 58, P6, K6);
  out.push(['v6 echo', echo6]);
  out.push(['v6 truncated', echo6.subarray(0, echo6.length - 4)]);
  out.push([
    'v6 not ours',
    v6(udp(1, 2, bytes(8), P6, K6), 17, P6, Uint8Array.from([0xfd, ...new Array(14).fill(0), 0x77])),
  ]);
  out.push(['v6 unknown next header', v6(bytes(20), 253, P6, K6)]);
  const u6 = udp(40000, 9, bytes(10), P6, K6);
  out.push(['v6 udp bad checksum', v6(corrupt(u6, 9), 17, P6, K6)]);
  out.push(['v6 udp closed port', v6(u6, 17, P6, K6)]);
  const zero = u6.slice();
  zero[6] = 0;
  zero[7] = 0;
  out.push(['v6 udp zero checksum', v6(zero, 17, P6, K6)]);
  out.push(['v6 icmp bad checksum', v6(corrupt(icmp6(128, 0, 1, bytes(8), P6, K6), 9), 58, P6, K6)]);
  // Overlapping v4 fragments (the queue is discarded).
  const ov = udp(40002, 9, bytes(2000), P4, K4);
  out.push(['v4 overlap a', v4(ov.subarray(0, 1480), { src: P4, dst: K4, id: 9, ff: 0x2000 })]);
  out.push(['v4 overlap b', v4(ov.subarray(1000, 2008), { src: P4, dst: K4, id: 9, ff: 1000 >> 3 })]);
  // v6 fragments, reassembled.
  const big6 = udp(40003, 9, bytes(2000), P6, K6);
  for (const [o, e, m] of [
    [0, 1448, true],
    [1448, big6.length, false],
  ] as const) {
    const f = new Uint8Array(48 + e - o);
    f.set(v6(new Uint8Array(8 + e - o), 44, P6, K6));
    f.set([17, 0, (o >> 8) & 0xff, (o & 0xf8) | (m ? 1 : 0), 0, 0, 0, 99], 40);
    f.set(big6.subarray(o, e), 48);
    out.push([`v6 fragment ${o}`, f]);
  }
  // ICMP errors about packets "we" sent: port unreachable, time exceeded, packet too big.
  const q4 = v4(udp(9, 40000, bytes(8), K4, P4), { src: K4, dst: P4, id: 10 });
  out.push(['v4 dest unreachable in', v4(icmp4(3, 3, 0, q4), { src: P4, dst: K4, proto: 1, id: 11 })]);
  out.push(['v4 time exceeded in', v4(icmp4(11, 0, 0, q4), { src: P4, dst: K4, proto: 1, id: 12 })]);
  const q6 = v6(udp(9, 40000, bytes(8), K6, P6), 17, K6, P6);
  out.push(['v6 dest unreachable in', v6(icmp6(1, 4, 0, q6, P6, K6), 58, P6, K6)]);
  out.push(['v6 packet too big in', v6(icmp6(2, 0, 1280, q6, P6, K6), 58, P6, K6)]);
  return out;
}

test('nstat counters move as Linux moves them for good, malformed and undeliverable packets', {
  skip,
  timeout: 60_000,
}, async () => {
  const ns = Netns.create('nstatcmp');
  try {
    const tun = await ns.openTun({ nameInNetns: 'tun0', addrs: ['198.18.0.1/24', 'fd00::1/64'] });
    try {
      tun.onReceive = () => {};
      await new Promise((r) => setTimeout(r, 300));
      const before = await nstat(ns);
      const pkts = badPackets();
      for (const [, p] of pkts) tun.transmit(p);
      await new Promise((r) => setTimeout(r, 500));
      const after = await nstat(ns);
      const kernel: Record<string, number> = {};
      for (const n of COMPARED) kernel[n] = (after.get(n) ?? 0) - (before.get(n) ?? 0);

      const stack = new Stack({ seed: 5 });
      stack.addInterface('tun0', new CaptureLink(1500), { addrs: ['198.18.0.1/24', 'fd00::1/64'] });
      for (const [, p] of pkts) stack.receive('tun0', p.slice());
      const ours: Record<string, number> = {};
      for (const n of COMPARED) ours[n] = stack.counters.get(n);
      assert.deepEqual(ours, kernel);
    } finally {
      await tun.close();
    }
  } finally {
    ns.delete();
  }
});

/** An IPv6 echo request behind one extension header of type `type` holding `body` (after next/len). */
function withExt(type: number, body: number[], seq: number): Uint8Array {
  const total = 2 + body.length;
  assert.equal(total % 8, 0, 'extension header length is a multiple of 8');
  const ext = [58, total / 8 - 1, ...body];
  const echo = icmp6(128, 0, (0x55 << 16) | seq, bytes(16, seq), P6, K6);
  return v6(Uint8Array.from([...ext, ...echo]), type, P6, K6);
}

const OPTION_PROBES: [string, Uint8Array][] = [
  ['HBH unknown 00 (skip)', withExt(0, [0x3e, 2, 0, 0, 1, 0], 1)],
  ['HBH unknown 01 (drop)', withExt(0, [0x7e, 2, 0, 0, 1, 0], 2)],
  ['HBH unknown 10 (ICMP)', withExt(0, [0xbe, 2, 0, 0, 1, 0], 3)],
  ['HBH unknown 11 (ICMP)', withExt(0, [0xfe, 2, 0, 0, 1, 0], 4)],
  ['DST unknown 00', withExt(60, [0x3e, 2, 0, 0, 1, 0], 5)],
  ['DST unknown 10', withExt(60, [1, 0, 0xbe, 2, 0, 0], 6)],
  ['PadN with non-zero bytes', withExt(0, [1, 4, 0, 7, 0, 0], 7)],
  ['14 bytes of padding', withExt(0, [1, 6, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0], 8)],
  ['9 options', withExt(0, [...new Array(9).fill([0x3e, 0]).flat(), 1, 2, 0, 0], 9)],
  ['Router Alert', withExt(0, [5, 2, 0, 0, 1, 0], 10)],
  ['Router Alert, wrong length', withExt(0, [5, 4, 0, 0, 0, 0], 11)],
  ['Routing type 0, segments left 1', withExt(43, [0, 1, 0, 0, 0, 0, ...new Array(16).fill(0)], 12)],
  ['Routing type 253, segments left 0', withExt(43, [253, 0, 0, 0, 0, 0], 13)],
];

test('IPv6 extension-header options (RFC 8200 §4.2) and routing headers are handled as Linux does', {
  skip,
  timeout: 60_000,
}, async () => {
  const ns = Netns.create('optcmp');
  try {
    const tun = await ns.openTun({ nameInNetns: 'tun0', addrs: ['fd00::1/64'] });
    try {
      const names = ['Ip6InHdrErrors', 'Icmp6OutParmProblems', 'Icmp6InEchos', 'Icmp6OutEchoReplies'];
      const kernel: unknown[] = [];
      const ours: unknown[] = [];
      const stack = new Stack({ seed: 5 });
      const link = new CaptureLink(1500);
      stack.addInterface('tun0', link, { addrs: ['fd00::1/64'] });
      for (const [name, pkt] of OPTION_PROBES) {
        const before = await nstat(ns);
        const pending = collect(tun, 1, 300);
        tun.transmit(pkt);
        const got = await pending;
        const after = await nstat(ns);
        kernel.push({
          name,
          answer: got.map(describe),
          ...Object.fromEntries(names.map((n) => [n, (after.get(n) ?? 0) - (before.get(n) ?? 0)])),
        });
        const c0 = names.map((n) => stack.counters.get(n));
        const s0 = link.sent.length;
        stack.receive('tun0', pkt.slice());
        ours.push({
          name,
          answer: link.sent.slice(s0).map(describe),
          ...Object.fromEntries(names.map((n, i) => [n, stack.counters.get(n) - c0[i]])),
        });
      }
      if (process.env.SHOW_KERNEL)
        console.log(
          JSON.stringify(
            kernel.map((k) => ({
              ...(k as object),
              answer: (k as { answer: { message: string }[] }).answer.map((a) => a.message.slice(0, 16)),
            })),
          ),
        );
      assert.deepEqual(ours, kernel);
    } finally {
      await tun.close();
    }
  } finally {
    ns.delete();
  }
});

test('path MTU learned from frag-needed / packet-too-big shapes later fragments as in Linux', {
  skip,
  timeout: 60_000,
}, async () => {
  const ns = Netns.create('pmtucmp');
  try {
    const tun = await ns.openTun({ nameInNetns: 'tun0', addrs: ['198.18.0.1/24', 'fd00::1/64'] });
    try {
      const stack = new Stack({ seed: 5 });
      const link = new CaptureLink(1500);
      stack.addInterface('tun0', link, { addrs: ['198.18.0.1/24', 'fd00::1/64'] });
      const cases: [string, number][] = [
        ['198.18.0.3', 1000],
        ['198.18.0.4', 300],
        ['fd00::3', 1400],
        ['fd00::4', 1000],
      ];
      for (const [peer, mtu] of cases) {
        const v6peer = peer.includes(':');
        const P = Uint8Array.from(
          v6peer
            ? [0xfd, ...new Array(14).fill(0), Number(peer.slice(-1))]
            : [198, 18, 0, Number(peer.slice(-1))],
        );
        const K = v6peer ? K6 : K4;
        const quoted = v6peer
          ? v6(udp(40000, 9, bytes(1400), K, P), 17, K, P)
          : v4(udp(40000, 9, bytes(1400), K, P), { src: K, dst: P, ff: 0x4000 });
        const icmp = v6peer
          ? v6(icmp6(2, 0, mtu, quoted.subarray(0, 1232), P, K), 58, P, K)
          : v4(icmp4(3, 4, mtu, quoted.subarray(0, 548)), { src: P, dst: K, proto: 1 });
        const sock = stack.socket('udp', v6peer ? 6 : 4);
        sock.bind(v6peer ? 'fd00::1' : '198.18.0.1', 40000);
        stack.receive('tun0', icmp.slice());
        const s0 = link.sent.length;
        sock.sendto(bytes(3000), peer, 9);
        sock.close();
        const ours = link.sent.slice(s0);

        const last = P[P.length - 1];
        const toP = (f: Uint8Array) => (f[0] >> 4 === 6 ? f.length >= 40 && f[39] === last : f[19] === last);
        // The kernel learns a path MTU only for a socket that exists: its
        // "ready" datagram says it is bound; the ICMP error goes in then.
        const ready = collect(tun, 1, 5000, toP);
        const run = ns.exec(['python3', '-c', PMTU_PY, v6peer ? 'fd00::1' : '198.18.0.1', peer, '3000'], {
          timeoutMs: 10000,
        });
        assert.equal((await ready).length, 1, 'ready datagram');
        const pending = collect(tun, ours.length, 3000, toP);
        tun.transmit(icmp);
        const r = await run;
        assert.equal(r.code, 0, r.stderr);
        const kernel = await pending;
        await new Promise((res) => setTimeout(res, 100)); // anything extra shows up as a difference
        assert.deepEqual(ours.map(fragSummary), kernel.map(fragSummary), `${peer} after mtu ${mtu}`);
      }
    } finally {
      await tun.close();
    }
  } finally {
    ns.delete();
  }
});

test('reassembly memory: ipfrag_high_thresh turns fragments away after the same number of queues as Linux', {
  skip,
  timeout: 120_000,
}, async () => {
  // Known difference, not asserted: for full-size IPv6 fragments (1496-byte
  // frames) Linux charges about 2,380-2,500 bytes per queue where this model
  // charges 2,560, so Linux admits one more queue per ~20 kB of threshold.
  const cases: [4 | 6, number, number][] = [
    [4, 20000, 1480],
    [4, 20000, 200],
    [4, 50000, 8],
    [6, 30000, 16],
    [6, 20000, 200],
  ];
  const diffs: string[] = [];
  for (const [family, thresh, size] of cases) {
    const sysctls: Record<string, number> =
      family === 4
        ? { 'net.ipv4.ipfrag_low_thresh': 1000, 'net.ipv4.ipfrag_high_thresh': thresh }
        : { 'net.ipv6.ip6frag_low_thresh': 1000, 'net.ipv6.ip6frag_high_thresh': thresh };
    const frags = Array.from({ length: 60 }, (_, i) => {
      if (family === 4)
        return v4(udp(1, 9, bytes(size + 100), P4, K4).subarray(0, size), {
          src: P4,
          dst: K4,
          id: 1000 + i,
          ff: 0x2000,
        });
      const f = new Uint8Array(48 + size);
      f.set(v6(new Uint8Array(8 + size), 44, P6, K6));
      f.set([17, 0, 0, 1, 0, 0, 0x10, i], 40);
      f.set(udp(1, 9, bytes(size + 100), P6, K6).subarray(0, size), 48);
      return f;
    });
    const fails = family === 4 ? 'IpReasmFails' : 'Ip6ReasmFails';
    const ns = Netns.create('fragmem', sysctls);
    let kernel: number;
    try {
      const tun = await ns.openTun({ nameInNetns: 'tun0', addrs: ['198.18.0.1/24', 'fd00::1/64'] });
      try {
        tun.onReceive = () => {};
        const before = (await nstat(ns)).get(fails) ?? 0;
        for (const f of frags) tun.transmit(f);
        await new Promise((r) => setTimeout(r, 300));
        kernel = ((await nstat(ns)).get(fails) ?? 0) - before;
      } finally {
        await tun.close();
      }
    } finally {
      ns.delete();
    }
    const stack = new Stack({
      seed: 5,
      sysctl:
        family === 4 ? { 'net.ipv4.ipfrag_high_thresh': thresh } : { 'net.ipv6.ip6frag_high_thresh': thresh },
    });
    stack.addInterface('tun0', new CaptureLink(1500), { addrs: ['198.18.0.1/24', 'fd00::1/64'] });
    for (const f of frags) stack.receive('tun0', f.slice());
    const ours = stack.counters.get(fails);
    if (ours !== kernel)
      diffs.push(
        `IPv${family}, high_thresh ${thresh}, ${size}-byte fragments: usnet ${ours}, Linux ${kernel}`,
      );
  }
  assert.deepEqual(diffs, []);
});
