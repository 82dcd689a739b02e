// A usnet Stack attached to a TUN device in a namespace we create, driven
// in real time, answers the kernel's ping. Needs root, /dev/net/tun, ip and
// python3; skipped with the reason otherwise.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kernelTestsAvailable, Netns } from '../../src/node/netns.js';
import { RealtimeDriver } from '../../src/node/realtime.js';
import { Stack } from '../../src/stack.js';
import { PING_PY } from './ping-py.js';

const avail = kernelTestsAvailable();
const skip = avail.ok ? false : `needs root, /dev/net/tun, ip and python3: ${avail.reason}`;

test('a usnet Stack on a TUN device answers the kernel ping', { skip, timeout: 30000 }, async () => {
  const ns = Netns.create('tunstack');
  try {
    const tun = await ns.openTun({ nameInNetns: 'tun0', addrs: ['198.18.0.1/24'] });
    const stack = new Stack({ seed: 7, name: 'usnet' });
    const drv = new RealtimeDriver([stack]);
    try {
      stack.addInterface('tun0', tun, { addrs: ['198.18.0.2/24'] });
      drv.attach(tun);
      drv.start();
      const ping = await ns.exec(['python3', '-c', PING_PY, '198.18.0.2', '3'], { timeoutMs: 10000 });
      assert.equal(ping.code, 0, `ping failed: ${ping.stdout} ${ping.stderr}`);
      assert.equal(ping.stdout.trim().split('\n').length, 3);
      assert.equal(stack.counters.get('IcmpInEchos'), 3);
      assert.equal(stack.counters.get('IcmpOutEchoReps'), 3);
      // An address the stack does not own gets no answer.
      const other = await ns.exec(['python3', '-c', PING_PY, '198.18.0.3', '1'], { timeoutMs: 10000 });
      assert.equal(other.code, 1);
    } finally {
      drv.stop();
      await tun.close();
    }
  } finally {
    ns.delete();
  }
});
