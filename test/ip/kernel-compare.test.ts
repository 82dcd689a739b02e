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

async function collect(tun: TunLink, want: number, ms = 3000): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  tun.onReceive = (f) => {
    if (toPeer(f)) got.push(f.slice());
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
