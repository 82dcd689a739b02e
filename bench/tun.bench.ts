/**
 * TUN link speed (needs root, /dev/net/tun, python3; everything happens in a
 * namespace created for the run and deleted after it).
 *
 * - transmit: TunLink.transmit() of 64-byte UDP/IPv4 packets into the
 *   kernel, packets/s, beside the same-size fs.writeSync() to /dev/null
 *   (the bare system-call cost) measured in the same run;
 * - receive: a python3 sender in the namespace blasts 64-byte UDP datagrams
 *   that are routed into the TUN; packets/s delivered to onReceive, beside
 *   the rate the sender achieved (the reference), and how many arrived.
 *
 *   node --import tsx bench/tun.bench.ts
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { kernelTestsAvailable, Netns } from '../src/node/netns.js';
import { checksum } from '../src/wire/checksum.js';

const avail = kernelTestsAvailable();
if (!avail.ok) {
  console.log(`tun bench skipped: ${avail.reason}`);
  process.exit(0);
}

const N_TX = 200_000;
const N_RX = 100_000;

function udpPacket(): Uint8Array {
  const b = new Uint8Array(64);
  b[0] = 0x45;
  b[3] = 64;
  b[8] = 64;
  b[9] = 17;
  b.set([198, 18, 0, 2], 12);
  b.set([198, 18, 0, 1], 16);
  const c = checksum(b, 0, 20);
  b[10] = c >> 8;
  b[11] = c & 0xff;
  b[20] = 0x30;
  b[21] = 0x39; // sport 12345
  b[22] = 0;
  b[23] = 9; // discard
  b[25] = 44; // UDP length, checksum 0 (none)
  return b;
}

const SENDER_PY = `
import socket, sys, time
n = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
d = bytes(36)
t0 = time.monotonic()
for i in range(n):
    try:
        s.sendto(d, ('198.18.0.2', 9))
    except OSError:
        pass
print(n / (time.monotonic() - t0))
`;

const ns = Netns.create('bench', { 'net.ipv6.conf.default.disable_ipv6': 1 });
try {
  const tun = await ns.openTun({ nameInNetns: 'tun0', addrs: ['198.18.0.1/24'] });
  ns.ipSync(['link', 'set', 'tun0', 'txqueuelen', '10000']);
  try {
    // transmit
    const pkt = udpPacket();
    const devnull = openSync('/dev/null', 'w');
    let t0 = performance.now();
    for (let i = 0; i < N_TX; i++) writeSync(devnull, pkt, 0, pkt.length);
    const refTx = N_TX / ((performance.now() - t0) / 1000);
    closeSync(devnull);
    t0 = performance.now();
    for (let i = 0; i < N_TX; i++) tun.transmit(pkt);
    const tx = N_TX / ((performance.now() - t0) / 1000);
    const rxAtKernel = Number(
      ns.execSync(['cat', '/sys/class/net/tun0/statistics/rx_packets']).stdout.trim(),
    );

    // receive
    let got = 0;
    let first = 0;
    let last = 0;
    tun.onReceive = (f) => {
      if (f[9] !== 17) return;
      if (got++ === 0) first = performance.now();
      last = performance.now();
    };
    const r = await ns.exec(['python3', '-c', SENDER_PY, String(N_RX)], { timeoutMs: 60000 });
    const sendRate = Number(r.stdout.trim());
    const until = performance.now() + 2000;
    while (got < N_RX && performance.now() < until) await new Promise((res) => setTimeout(res, 10));
    const rx = got > 1 ? (got - 1) / ((last - first) / 1000) : 0;

    const f = (x: number) => `${Math.round(x).toLocaleString('en-US')} pkt/s`;
    console.log('what                                   rate             ratio');
    console.log(`fs.writeSync 64 B to /dev/null         ${f(refTx).padEnd(16)} 1`);
    console.log(
      `TunLink.transmit 64 B UDP              ${f(tx).padEnd(16)} ${(tx / refTx).toFixed(2)} of writeSync`,
    );
    console.log(`  kernel counted ${rxAtKernel} of ${N_TX} on tun0 (rx_packets)`);
    console.log(`python3 sender into the TUN (ref)      ${f(sendRate).padEnd(16)} 1`);
    console.log(
      `TunLink receive -> onReceive          ${f(rx).padEnd(16)} ${(rx / sendRate).toFixed(2)} of sender; ${got}/${N_RX} delivered`,
    );
  } finally {
    await tun.close();
  }
} finally {
  ns.delete();
}
