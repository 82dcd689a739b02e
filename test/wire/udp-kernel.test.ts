/**
 * Ground truth for the UDP codec and its checksum rules: a Linux UDP echo
 * socket behind a TUN device (in a namespace we create) gets datagrams built
 * with emitUdp/udpFillChecksum. The kernel must echo the good ones (our
 * checksums are right), its echoes must pass udpChecksumOk, and it must treat
 * the doubtful ones exactly as udpChecksumOk does: a zero checksum is
 * accepted over IPv4 and dropped over IPv6; a wrong one is dropped.
 * Needs root, /dev/net/tun, ip and python3; skipped with the reason otherwise.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { test } from 'node:test';
import { kernelTestsAvailable, Netns } from '../../src/node/netns.js';
import type { TunLink } from '../../src/node/tun.js';
import { pseudoSumV4, pseudoSumV6 } from '../../src/wire/checksum.js';
import { emitIpv4Fast, newIpv4Header, parseIpv4 } from '../../src/wire/ipv4.js';
import { emitIpv6Fast, newIpv6Header, parseIpv6 } from '../../src/wire/ipv6.js';
import { emitUdp, newUdpHeader, parseUdp, udpChecksumOk, udpFillChecksum } from '../../src/wire/udp.js';
import { spawnPython, untilReady } from './netns-python.js';

const avail = kernelTestsAvailable();
const skip = avail.ok ? false : `needs root, /dev/net/tun, ip and python3: ${avail.reason}`;

const K4 = Uint8Array.from([198, 18, 0, 1]);
const P4 = Uint8Array.from([198, 18, 0, 2]);
const K6 = Uint8Array.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const P6 = Uint8Array.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
const PORT = 5001;

type Csum = 'good' | 'zero' | 'bad';

function datagram(v6: boolean, text: string, csum: Csum, id: number): Uint8Array {
  const payload = new TextEncoder().encode(text);
  const ihl = v6 ? 40 : 20;
  const len = 8 + payload.length;
  const buf = new Uint8Array(ihl + len);
  const h = newUdpHeader();
  Object.assign(h, { srcPort: 40000, dstPort: PORT, length: len, checksum: 0 });
  emitUdp(h, buf, ihl);
  buf.set(payload, ihl + 8);
  if (csum !== 'zero') {
    const ps = v6 ? pseudoSumV6(P6, K6, 17, len) : pseudoSumV4(P4, K4, 17, len);
    udpFillChecksum(buf, ihl, len, ps);
    if (csum === 'bad') buf[ihl + 7] ^= 0x01;
  }
  if (v6) emitIpv6Fast(buf, 0, len, 17, 64, 0, 0, P6, K6);
  else emitIpv4Fast(buf, 0, 20 + len, id, 0x4000, 64, 17, 0, P4, K4);
  return buf;
}

/** Echoed payload text (checked with udpChecksumOk), or null for anything else. */
function echo(f: Uint8Array): string | null {
  const u = newUdpHeader();
  if (f[0] >> 4 === 4) {
    const ip = newIpv4Header();
    if (parseIpv4(f, ip) !== null || ip.proto !== 17) return null;
    const len = ip.totalLen - ip.headerLen;
    assert.equal(parseUdp(f, u, ip.headerLen, len), null);
    assert.ok(udpChecksumOk(f, ip.headerLen, len, pseudoSumV4(K4, P4, 17, len), 4), 'kernel v4 checksum');
    assert.notEqual(u.checksum, 0, 'Linux fills the UDP checksum over IPv4');
  } else {
    const ip = newIpv6Header();
    if (parseIpv6(f, ip) !== null || ip.proto !== 17) return null;
    const len = 40 + ip.payloadLen - ip.headerLen;
    assert.equal(parseUdp(f, u, ip.headerLen, len), null);
    assert.ok(udpChecksumOk(f, ip.headerLen, len, pseudoSumV6(K6, P6, 17, len), 6), 'kernel v6 checksum');
  }
  if (u.srcPort !== PORT) return null;
  return new TextDecoder().decode(u.payload);
}

test('UDP checksums against the kernel: ours accepted, its verify, zero/wrong treated alike', {
  skip,
  timeout: 60_000,
}, async () => {
  const ns = Netns.create('wireudp');
  let server: ChildProcess | null = null;
  let tun: TunLink | null = null;
  try {
    tun = await ns.openTun({ nameInNetns: 'tun0', addrs: ['198.18.0.1/24', 'fd00::1/64'] });
    const echoed: string[] = [];
    tun.onReceive = (f) => {
      const t = echo(f);
      if (t !== null) echoed.push(t);
    };
    server = spawnPython(
      ns,
      [
        'import socket, select, signal',
        'signal.alarm(60)',
        `a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(("0.0.0.0", ${PORT}))`,
        `b = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); b.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1); b.bind(("::", ${PORT}))`,
        'print("ready", flush=True)',
        'while True:',
        '    for s in select.select([a, b], [], [])[0]:',
        '        d, peer = s.recvfrom(2048)',
        '        s.sendto(d, peer)',
      ],
      'ignore',
    );
    const ready = await untilReady(server);
    assert.ok(ready, 'echo server started');
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    let id = 1;
    // Both families answer (retries bound the wait for the device to settle).
    for (const v6 of [false, true]) {
      const probe = v6 ? 'probe6' : 'probe4';
      for (let i = 0; i < 50 && !echoed.includes(probe); i++) {
        tun.transmit(datagram(v6, probe, 'good', id++));
        await sleep(100);
      }
      assert.ok(echoed.includes(probe), `kernel echoes over IPv${v6 ? 6 : 4}`);
    }
    echoed.length = 0;
    const cases: [boolean, Csum][] = [
      [false, 'good'],
      [false, 'zero'],
      [false, 'bad'],
      [true, 'good'],
      [true, 'zero'],
      [true, 'bad'],
    ];
    for (const [v6, c] of cases) {
      const f = datagram(v6, `v${v6 ? 6 : 4}-${c}`, c, id++);
      // What our own receive-side rule says about the same datagram.
      const ihl = v6 ? 40 : 20;
      const len = f.length - ihl;
      const ps = v6 ? pseudoSumV6(P6, K6, 17, len) : pseudoSumV4(P4, K4, 17, len);
      const ours = udpChecksumOk(f, ihl, len, ps, v6 ? 6 : 4);
      assert.equal(ours, c === 'good' || (c === 'zero' && !v6));
      tun.transmit(f);
    }
    // A last pair of good ones: once they are back, everything before them was handled.
    tun.transmit(datagram(false, 'v4-last', 'good', id++));
    tun.transmit(datagram(true, 'v6-last', 'good', id++));
    for (let i = 0; i < 300 && !(echoed.includes('v4-last') && echoed.includes('v6-last')); i++)
      await sleep(10);
    await sleep(100);
    assert.deepEqual(echoed.sort(), ['v4-good', 'v4-last', 'v4-zero', 'v6-good', 'v6-last']);
  } finally {
    if (server && server.exitCode === null) server.kill('SIGKILL');
    if (tun) await tun.close();
    ns.delete();
  }
});
