// TunLink against the real kernel: a TUN device in a namespace we create,
// the kernel's ICMP echo (a raw-socket ping run inside the namespace) answered
// through the link. Needs root, /dev/net/tun, ip and python3; skipped with
// the reason otherwise. Every namespace is deleted by name in finally.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { isSysError } from '../../src/errno.js';
import { kernelTestsAvailable, Netns, netnsExists } from '../../src/node/netns.js';
import { TunLink } from '../../src/node/tun.js';
import { checksum } from '../../src/wire/checksum.js';
import { PING_PY } from './ping-py.js';

const avail = kernelTestsAvailable();
const skip = avail.ok ? false : `needs root, /dev/net/tun, ip and python3: ${avail.reason}`;

/** Answers an ICMPv4 echo request in place-copied form: swap addresses, type 0, new checksums. */
function echoReply(req: Uint8Array): Uint8Array | null {
  if (req.length < 28 || req[0]! >> 4 !== 4 || req[9] !== 1) return null;
  const ihl = (req[0]! & 0xf) * 4;
  if (req[ihl] !== 8) return null;
  const r = Uint8Array.from(req);
  r.set(req.subarray(16, 20), 12);
  r.set(req.subarray(12, 16), 16);
  r[8] = 64;
  r[10] = 0;
  r[11] = 0;
  const ipc = checksum(r, 0, ihl);
  r[10] = ipc >> 8;
  r[11] = ipc & 0xff;
  r[ihl] = 0;
  r[ihl + 2] = 0;
  r[ihl + 3] = 0;
  const c = checksum(r, ihl, r.length - ihl);
  r[ihl + 2] = c >> 8;
  r[ihl + 3] = c & 0xff;
  return r;
}

test('TunLink carries the kernel ping both ways, honours MTU, and its device goes away on close', {
  skip,
  timeout: 30000,
}, async () => {
  const ns = Netns.create('tun');
  try {
    const tun = await ns.openTun({ nameInNetns: 'tun0', addrs: ['198.18.0.1/24'], mtu: 1400 });
    try {
      assert.equal(tun.name, 'tun0');
      assert.equal(tun.mtu, 1400);
      assert.match(ns.ipSync(['-o', 'link', 'show', 'tun0']), /<[A-Z_,]*\bUP\b[A-Z_,]*> mtu 1400 /);
      // The device lives only in our namespace.
      assert.equal(spawnSync('ip', ['link', 'show', 'tun0'], { stdio: 'ignore' }).status !== 0, true);

      let requests = 0;
      tun.onReceive = (frame) => {
        const reply = echoReply(frame);
        if (reply) {
          requests++;
          tun.transmit(reply);
        }
      };
      const ping = await ns.exec(['python3', '-c', PING_PY, '198.18.0.2', '3'], { timeoutMs: 10000 });
      assert.equal(ping.code, 0, `ping failed: ${ping.stdout} ${ping.stderr}`);
      assert.equal(ping.stdout.trim().split('\n').length, 3);
      assert.match(ping.stdout, /reply from 198\.18\.0\.2 seq=2/);
      assert.equal(requests, 3);
      assert.equal(tun.stats.txPackets, 3);

      // A frame over the MTU is dropped and counted, like a NIC would.
      tun.transmit(new Uint8Array(1401));
      assert.equal(tun.stats.txDropped, 1);
      assert.equal(tun.stats.txPackets, 3);
    } finally {
      await tun.close();
    }
    assert.notEqual(spawnSync('ip', ['-n', ns.name, 'link', 'show', 'tun0'], { stdio: 'ignore' }).status, 0);
  } finally {
    ns.delete();
  }
  assert.equal(netnsExists(ns.name), false);
});

test('TunLink.open reports bad requests as SysError', { skip, timeout: 30000 }, async () => {
  await assert.rejects(TunLink.open({ name: 'a-name-longer-than-15' }), (e) => isSysError(e, 'EINVAL'));
  // TUNSETIFF refuses a name with '/' (not a valid interface name).
  await assert.rejects(TunLink.open({ name: 'usnt/bad' }), (e) => isSysError(e) && e.syscall === 'TUNSETIFF');
  // Moving into a namespace that does not exist fails, and the device is removed again.
  const ghost = `usnet-none-${process.pid}`;
  await assert.rejects(TunLink.open({ name: 'usntghost0', netns: ghost }), (e) => isSysError(e, 'EIO'));
  assert.notEqual(spawnSync('ip', ['link', 'show', 'usntghost0'], { stdio: 'ignore' }).status, 0);
});

test('TunLink.open on a system without TUN fails with a SysError naming the reason (no root needed)', async () => {
  const desc = Object.getOwnPropertyDescriptor(process, 'platform')!;
  Object.defineProperty(process, 'platform', { value: 'darwin' });
  try {
    await assert.rejects(
      TunLink.open(),
      (e) => isSysError(e, 'ENOSYS') && e.syscall === 'tun_open' && /Linux/.test(e.message),
    );
  } finally {
    Object.defineProperty(process, 'platform', desc);
  }
});
