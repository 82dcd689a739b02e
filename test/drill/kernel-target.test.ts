// The kernel target through the Target interface alone (no parser/runner):
// a passive open and a close against real kernel sockets in a fresh
// namespace, with hand-built segments. Needs root, /dev/net/tun, python3.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultConfig } from '../../src/drill/config.js';
import { runOne } from '../../src/drill/drill.js';
import { KernelTarget } from '../../src/drill/kernel/kernel-target.js';
import type { OutboundPacket, TargetConfig } from '../../src/drill/target.js';
import { isSysError } from '../../src/errno.js';
import { kernelTestsAvailable, liveNetns, netnsExists } from '../../src/node/netns.js';
import { checksum, pseudoSumV4, pseudoSumV6 } from '../../src/wire/checksum.js';
import { tcpFillChecksum } from '../../src/wire/tcp.js';

const avail = kernelTestsAvailable();
const skip = avail.ok ? false : `kernel tests need root, /dev/net/tun, ip and python3: ${avail.reason}`;

const LOCAL = [192, 168, 0, 1];
const REMOTE = [192, 0, 2, 1];

const config: TargetConfig = {
  ipVersion: 'ipv4',
  localIp: '192.168.0.1',
  remoteIp: '192.0.2.1',
  gatewayIp: '192.168.0.1',
  netmaskIp: '255.255.0.0',
  mtu: 1500,
  defines: { USNET_TEST_DEFINE: 'yes' },
  verbose: false,
  cwd: '/tmp',
};

/** An IPv4+TCP segment from REMOTE:40000 to LOCAL:8080. */
function seg(flags: number, seq: number, ack: number, opts: number[] = [], payload = 0): Uint8Array {
  const tcpLen = 20 + opts.length + payload;
  const b = new Uint8Array(20 + tcpLen);
  b[0] = 0x45;
  b[2] = (20 + tcpLen) >> 8;
  b[3] = (20 + tcpLen) & 0xff;
  b[6] = 0x40;
  b[8] = 64;
  b[9] = 6;
  b.set(REMOTE, 12);
  b.set(LOCAL, 16);
  const c = checksum(b, 0, 20);
  b[10] = c >> 8;
  b[11] = c & 0xff;
  const t = 20;
  b[t] = 40000 >> 8;
  b[t + 1] = 40000 & 0xff;
  b[t + 2] = 8080 >> 8;
  b[t + 3] = 8080 & 0xff;
  new DataView(b.buffer).setUint32(t + 4, seq >>> 0);
  new DataView(b.buffer).setUint32(t + 8, ack >>> 0);
  b[t + 12] = ((20 + opts.length) / 4) << 4;
  b[t + 13] = flags;
  b[t + 14] = 0xff;
  b[t + 15] = 0xff;
  b.set(opts, t + 20);
  tcpFillChecksum(b, t, tcpLen, pseudoSumV4(b, b, 6, tcpLen, 12, 16));
  return b;
}

const LOCAL6 = parseV6('fd3d:fa7b:d17d::1');
const REMOTE6 = parseV6('2001:db8::1');

function parseV6(s: string): Uint8Array {
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const words = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t].map((w) => Number.parseInt(w, 16));
  const b = new Uint8Array(16);
  words.forEach((w, i) => {
    b[2 * i] = w >> 8;
    b[2 * i + 1] = w & 0xff;
  });
  return b;
}

/** The same segment over IPv6, from REMOTE6 to LOCAL6. */
function seg6(flags: number, seq: number, ack: number, opts: number[] = []): Uint8Array {
  const v4 = seg(flags, seq, ack, opts);
  const tcp = v4.subarray(20);
  const b = new Uint8Array(40 + tcp.length);
  b[0] = 0x60;
  b[4] = tcp.length >> 8;
  b[5] = tcp.length & 0xff;
  b[6] = 6;
  b[7] = 64;
  b.set(REMOTE6, 8);
  b.set(LOCAL6, 24);
  b.set(tcp, 40);
  tcpFillChecksum(b, 40, tcp.length, pseudoSumV6(REMOTE6, LOCAL6, 6, tcp.length));
  return b;
}

function tcpOf(p: OutboundPacket) {
  const b = p.bytes;
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const ihl = b[0]! >> 4 === 6 ? 40 : (b[0]! & 0xf) * 4;
  return {
    version: b[0]! >> 4,
    sport: dv.getUint16(ihl),
    dport: dv.getUint16(ihl + 2),
    seq: dv.getUint32(ihl + 4),
    ack: dv.getUint32(ihl + 8),
    flags: b[ihl + 13]!,
    len: b.length - ihl - (b[ihl + 12]! >> 4) * 4,
  };
}

async function expectOutbound(t: KernelTarget, withinMs: number): Promise<OutboundPacket> {
  await t.advanceTo(t.nowUs() + withinMs * 1000, true);
  const p = t.takeOutbound();
  assert.ok(p, `no packet from the kernel within ${withinMs} ms`);
  return p;
}

test('kernel target: passive open, data, close, shell inside the namespace', {
  skip,
  timeout: 30000,
}, async () => {
  const t = new KernelTarget();
  let nsName = '';
  try {
    await t.start(config);
    nsName = liveNetns().find((n) => n.startsWith('usnet-drill-')) ?? '';
    assert.ok(netnsExists(nsName));
    const int = (v: number) => ({ t: 'int' as const, v });
    const s = await t.syscall({ name: 'socket', args: [int(2), int(1), int(6)], where: 't:1' });
    assert.equal(s.ret, 3);
    const on = await t.syscall({
      name: 'setsockopt',
      args: [int(3), int(1), int(2), { t: 'list', items: [int(1)] }, int(4)],
      where: 't:2',
    });
    assert.deepEqual(on, { ret: 0, errno: null });
    const addr = { t: 'sockaddr' as const, family: 4 as const, port: 8080, addr: '192.168.0.1' };
    assert.equal((await t.syscall({ name: 'bind', args: [int(3), addr, int(16)], where: 't:3' })).ret, 0);
    assert.equal((await t.syscall({ name: 'listen', args: [int(3), int(1)], where: 't:4' })).ret, 0);

    // Blocking accept: pending while the handshake happens.
    const acc = t.syscall({
      name: 'accept',
      args: [int(3), { t: 'ellipsis' }, { t: 'ellipsis' }],
      where: 't:5',
    });
    let accepted = false;
    acc.then(() => (accepted = true));
    await t.settle();
    assert.equal(accepted, false, 'accept on an empty queue blocks');

    // SYN with MSS 1000: the kernel answers SYN-ACK acking our ISN + 1.
    await t.inject(seg(0x02, 1000, 0, [2, 4, 0x03, 0xe8]));
    const synack = tcpOf(await expectOutbound(t, 1000));
    assert.equal(synack.flags, 0x12);
    assert.equal(synack.ack, 1001);
    assert.equal(synack.sport, 8080);
    assert.equal(synack.dport, 40000);

    await t.inject(seg(0x10, 1001, synack.seq + 1));
    const a = await acc;
    assert.equal(a.ret, 4);
    assert.deepEqual(a.out?.[1], { t: 'sockaddr', family: 4, port: 40000, addr: '192.0.2.1' });

    // 100 bytes out: one segment carrying them.
    const w = await t.syscall({ name: 'write', args: [int(4), { t: 'ellipsis' }, int(100)], where: 't:6' });
    assert.equal(w.ret, 100);
    const data = tcpOf(await expectOutbound(t, 1000));
    assert.equal(data.len, 100);
    assert.equal(data.seq, synack.seq + 1);

    // TCP_INFO through getsockopt: ESTABLISHED (1), peer MSS 1000.
    const info = await t.syscall({
      name: 'getsockopt',
      args: [int(4), int(6), int(11), { t: 'ellipsis' }, { t: 'ellipsis' }],
      where: 't:7',
    });
    assert.equal(info.ret, 0);
    const fields = info.out?.[3];
    assert.ok(fields && fields.t === 'struct');
    assert.deepEqual(fields.fields.tcpi_state, { t: 'int', v: 1 });
    assert.deepEqual(fields.fields.tcpi_snd_mss, { t: 'int', v: 1000 });

    // Commands run inside the namespace, with the defines in the environment.
    const ss = await t.shell('ss -tanH state established; echo "$USNET_TEST_DEFINE"; ip -o link show tun0');
    assert.equal(ss.status, 0);
    assert.match(ss.stdout, /192\.168\.0\.1:8080\s+192\.0\.2\.1:40000/);
    assert.match(ss.stdout, /^yes$/m);
    assert.match(ss.stdout, /tun0:.*mtu 1500/);
    assert.equal((await t.shell('sysctl -n net.ipv4.tcp_congestion_control')).stdout.trim(), 'reno');

    // An unknown fd is EBADF, like a C program's.
    const bad = await t.syscall({ name: 'close', args: [int(9)], where: 't:8' });
    assert.deepEqual(bad, { ret: -1, errno: 'EBADF' });

    // close() with 100 unacked bytes: FIN follows the data.
    assert.equal((await t.syscall({ name: 'close', args: [int(4)], where: 't:9' })).ret, 0);
    const fin = tcpOf(await expectOutbound(t, 1000));
    assert.equal(fin.flags & 0x01, 0x01);
    assert.equal(fin.seq, synack.seq + 101);
  } finally {
    await t.close();
  }
  assert.equal(netnsExists(nsName), false, 'namespace deleted');
});

test('kernel target: an idle IPv4 run puts nothing on the wire (IPv6 is off in its namespace)', {
  skip,
  timeout: 30000,
}, async () => {
  const t = new KernelTarget();
  try {
    await t.start(config);
    await t.advanceTo(t.nowUs() + 300_000);
    assert.equal(t.takeOutbound(), null);
  } finally {
    await t.close();
  }
});

for (const version of ['ipv6', 'ipv4-mapped-ipv6'] as const) {
  test(`kernel target: ${version} handshake on the wire`, { skip, timeout: 30000 }, async () => {
    const t = new KernelTarget();
    const v6 = version === 'ipv6';
    try {
      await t.start(
        v6
          ? {
              ...config,
              ipVersion: 'ipv6',
              localIp: 'fd3d:fa7b:d17d::1',
              remoteIp: '2001:db8::1',
              netmaskIp: '48',
            }
          : { ...config, ipVersion: 'ipv4-mapped-ipv6' },
      );
      const int = (v: number) => ({ t: 'int' as const, v });
      const s = await t.syscall({ name: 'socket', args: [{ t: 'ellipsis' }, int(1), int(6)], where: 't:1' });
      assert.equal(s.ret, 3);
      const addr = {
        t: 'sockaddr' as const,
        family: 6 as const,
        port: 8080,
        addr: v6 ? 'fd3d:fa7b:d17d::1' : '::ffff:192.168.0.1',
      };
      assert.deepEqual(await t.syscall({ name: 'bind', args: [int(3), addr, int(28)], where: 't:2' }), {
        ret: 0,
        errno: null,
      });
      assert.equal((await t.syscall({ name: 'listen', args: [int(3), int(1)], where: 't:3' })).ret, 0);
      await t.inject(v6 ? seg6(0x02, 1000, 0, [2, 4, 0x03, 0xe8]) : seg(0x02, 1000, 0, [2, 4, 0x03, 0xe8]));
      const synack = tcpOf(await expectOutbound(t, 1000));
      assert.equal(synack.version, v6 ? 6 : 4);
      assert.equal(synack.flags, 0x12);
      assert.equal(synack.ack, 1001);
      await t.inject(v6 ? seg6(0x10, 1001, synack.seq + 1) : seg(0x10, 1001, synack.seq + 1));
      const a = await t.syscall({
        name: 'accept',
        args: [int(3), { t: 'ellipsis' }, { t: 'ellipsis' }],
        where: 't:4',
      });
      assert.equal(a.ret, 4);
      assert.deepEqual(a.out?.[1], {
        t: 'sockaddr',
        family: 6,
        port: 40000,
        addr: v6 ? '2001:db8::1' : '::ffff:192.0.2.1',
      });
      // Nothing else on the wire: neighbour discovery and MLD are filtered out.
      await t.advanceTo(t.nowUs() + 200_000);
      assert.equal(t.takeOutbound(), null);
    } finally {
      await t.close();
    }
  });
}

test('kernel target: a set-up that fails leaves no namespace behind and says why', {
  skip,
  timeout: 30000,
}, async () => {
  const before = new Set(liveNetns());
  const t = new KernelTarget();
  await assert.rejects(
    t.start({ ...config, localIp: '300.1.2.3' }),
    (e) => isSysError(e) && /300\.1\.2\.3/.test(e.message),
  );
  await t.close();
  assert.deepEqual(
    liveNetns().filter((n) => !before.has(n)),
    [],
  );
});

test('kernel target, TSO mode (as packetdrill sets up its TUN): a 3000-byte write leaves as super-segments', {
  skip,
  timeout: 30000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'usnet-tso-'));
  try {
    const file = join(dir, 'tso.pkt');
    writeFileSync(
      file,
      `\`${join(import.meta.dirname, 'defaults.sh')}\`
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
   +0 < S 0:0(0) win 65535 <mss 1000,sackOK,nop,nop,nop,wscale 7>
   +0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 7>
 +.01 < . 1:1(0) ack 1 win 502
   +0 accept(3, ..., ...) = 4
   +0 write(4, ..., 3000) = 3000
   +0 > P. 1:2001(2000) ack 1
   +0 > P. 2001:3001(1000) ack 1
 +.01 < . 1:1(0) ack 3001 win 502
`,
    );
    const tso = await runOne(file, {
      target: 'kernel',
      config: defaultConfig(),
      makeTarget: () => new KernelTarget({ tso: true }),
    });
    assert.equal(tso.error, null);
    // Without TSO (the default) the same write leaves in MSS-sized segments
    // (seen one by one with the runner's TSO coalescing turned off).
    const plain = await runOne(file, {
      target: 'kernel',
      config: { ...defaultConfig(), tsoCoalesce: false },
      makeTarget: () => new KernelTarget(),
    });
    assert.match(plain.error ?? '', /expected: P\. vs actual: \.[\s\S]*1:1001\(1000\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
