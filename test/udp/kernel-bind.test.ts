/**
 * Ground truth for UDP bind(): the same sequences of binds (families,
 * wildcard / specific / v4-mapped addresses, SO_REUSEADDR, IPV6_V6ONLY) run
 * on Linux sockets in a namespace we create and on usnet sockets; the
 * outcome of every call (ok or the errno) must be the same. Needs root, ip
 * and python3; skipped with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSysError } from '../../src/errno.js';
import { kernelTestsAvailable, Netns } from '../../src/node/netns.js';
import { Stack } from '../../src/stack.js';
import { CaptureLink } from '../ip/harness.js';

const avail = kernelTestsAvailable();
const skip = avail.ok ? false : `needs root, /dev/net/tun, ip and python3: ${avail.reason}`;

interface Bind {
  fam: 4 | 6;
  addr: string;
  port: number;
  reuse?: boolean;
  v6only?: boolean;
}

const ANY4 = '0.0.0.0';
const ANY6 = '::';
const b = (fam: 4 | 6, addr: string, more: Partial<Bind> = {}): Bind => ({ fam, addr, port: 5000, ...more });

const SCENARIOS: Bind[][] = [
  [b(4, ANY4), b(4, ANY4)],
  [b(4, ANY4, { reuse: true }), b(4, ANY4, { reuse: true })],
  [b(4, ANY4, { reuse: true }), b(4, ANY4)],
  [b(4, '198.18.0.1'), b(4, ANY4)],
  [b(4, ANY4), b(4, '198.18.0.1')],
  [b(4, '198.18.0.1'), b(4, '127.0.0.1')],
  [b(6, ANY6), b(4, ANY4)],
  [b(6, ANY6, { v6only: true }), b(4, ANY4)],
  [b(4, ANY4), b(6, ANY6)],
  [b(4, ANY4), b(6, ANY6, { v6only: true })],
  [b(6, '::ffff:198.18.0.1'), b(4, '198.18.0.1')],
  [b(6, 'fd00::1'), b(6, ANY6)],
  [b(6, 'fd00::1'), b(4, ANY4)],
  [b(6, 'fd00::1'), b(6, '::1')],
  [b(4, '198.51.100.1')],
  [b(6, '::ffff:198.51.100.1')],
  [b(6, 'fd00::9')],
  [b(6, '::ffff:198.18.0.1', { v6only: true })],
  [b(4, '127.0.0.2')],
  [b(6, ANY6, { reuse: true }), b(4, '198.18.0.1', { reuse: true })],
];

const BIND_PY = `
import errno, json, socket, sys
res = []
for sc in json.loads(sys.argv[1]):
    socks, out = [], []
    for b in sc:
        fam = socket.AF_INET6 if b['fam'] == 6 else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM)
        if b.get('reuse'):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if b.get('v6only') else 0)
        try:
            s.bind((b['addr'], b['port']))
            out.append('ok')
        except OSError as e:
            out.append(errno.errorcode[e.errno])
        socks.append(s)
    for s in socks:
        s.close()
    res.append(out)
print(json.dumps(res))
`;

function usnetOutcomes(): string[][] {
  return SCENARIOS.map((sc) => {
    const stack = new Stack({ seed: 1 });
    stack.addInterface('d0', new CaptureLink(), { addrs: ['198.18.0.1/24', 'fd00::1/64'] });
    return sc.map((x) => {
      const s = stack.socket('udp', x.fam);
      s.reuseAddr = x.reuse ?? false;
      if (x.fam === 6) s.v6only = x.v6only ?? false;
      try {
        s.bind(x.addr, x.port);
        return 'ok';
      } catch (e) {
        if (isSysError(e)) return e.code;
        throw e;
      }
    });
  });
}

test('UDP bind(): outcomes match Linux for families, wildcards, v4-mapped, SO_REUSEADDR, IPV6_V6ONLY', {
  skip,
  timeout: 60_000,
}, async () => {
  const ns = Netns.create('udpbind');
  try {
    const tun = await ns.openTun({ nameInNetns: 'd0', addrs: ['198.18.0.1/24', 'fd00::1/64'] });
    let r: Awaited<ReturnType<typeof ns.exec>>;
    try {
      r = await ns.exec(['python3', '-c', BIND_PY, JSON.stringify(SCENARIOS)], { timeoutMs: 20000 });
    } finally {
      await tun.close();
    }
    assert.equal(r.code, 0, r.stderr);
    const kernel = JSON.parse(r.stdout) as string[][];
    const ours = usnetOutcomes();
    const diffs = SCENARIOS.map((sc, i) => ({
      sc: JSON.stringify(sc),
      kernel: kernel[i],
      usnet: ours[i],
    })).filter((d) => JSON.stringify(d.kernel) !== JSON.stringify(d.usnet));
    assert.deepEqual(diffs, []);
  } finally {
    ns.delete();
  }
});

const RCVBUF_PY = `
import socket, sys, time
rcvbuf = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if rcvbuf > 0:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
s.bind(('198.18.0.1', 6000))
s.sendto(b'r', ('198.18.0.2', 9))
time.sleep(1.0)
s.setblocking(False)
n = 0
while True:
    try:
        s.recv(65536)
        n += 1
    except BlockingIOError:
        break
print(n)
`;

test('UDP SO_RCVBUF: Linux and usnet queue the same number of datagrams before dropping', {
  skip,
  timeout: 60_000,
}, async () => {
  const { udp, v4 } = await import('../ip/harness.js');
  const P = Uint8Array.from([198, 18, 0, 2]);
  const K = Uint8Array.from([198, 18, 0, 1]);
  const diffs: string[] = [];
  const ns = Netns.create('rcvbuf');
  try {
    const tun = await ns.openTun({ nameInNetns: 'tun0', addrs: ['198.18.0.1/24'] });
    try {
      for (const [rcvbuf, size] of [
        [0, 1000],
        [0, 100],
        [16384, 1400],
        [4096, 10],
      ] as const) {
        let ready: () => void = () => {};
        const isReady = new Promise<void>((r) => {
          ready = r;
        });
        tun.onReceive = (f) => {
          if (f[0] >> 4 === 4 && f[9] === 17 && f[19] === 2) ready();
        };
        const run = ns.exec(['python3', '-c', RCVBUF_PY, String(rcvbuf)], { timeoutMs: 10000 });
        await isReady;
        const pkts = Array.from({ length: 200 }, (_, i) =>
          v4(udp(40000, 6000, new Uint8Array(size).fill(i), P, K), { src: P, dst: K, id: i }),
        );
        for (const p of pkts) tun.transmit(p);
        const r = await run;
        assert.equal(r.code, 0, r.stderr);
        const kernel = Number(r.stdout.trim());

        const stack = new Stack({ seed: 1 });
        stack.addInterface('tun0', new CaptureLink(), { addrs: ['198.18.0.1/24'] });
        const s = stack.socket('udp', 4);
        if (rcvbuf > 0) s.setRcvbuf(rcvbuf);
        s.bind('198.18.0.1', 6000);
        for (const p of pkts) stack.receive('tun0', p.slice());
        let ours = 0;
        for (;;) {
          try {
            s.recv();
            ours++;
          } catch {
            break;
          }
        }
        if (ours !== kernel)
          diffs.push(`rcvbuf ${rcvbuf || 'default'}, ${size}-byte datagrams: usnet ${ours}, Linux ${kernel}`);
      }
    } finally {
      await tun.close();
    }
  } finally {
    ns.delete();
  }
  assert.deepEqual(diffs, []);
});
