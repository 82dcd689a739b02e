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
