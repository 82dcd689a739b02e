import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSysError } from '../../src/errno.js';
import { MemoryWire } from '../../src/link/memory-wire.js';
import { World } from '../../src/sim/world.js';
import { Stack } from '../../src/stack.js';
import { TcpLayer } from '../../src/tcp/tcp.js';

test('a hard ICMP error (protocol unreachable from a host without TCP) aborts a connect in SYN_SENT', () => {
  const world = new World();
  const wire = world.add(new MemoryWire({ delay: 1, mtu: 1500, clock: world.clock }));
  const a = world.add(new Stack({ seed: 1 }));
  const b = world.add(new Stack({ seed: 2 }));
  a.addInterface('eth0', wire.a, { addrs: ['198.18.0.1/24'] });
  b.addInterface('eth0', wire.b, { addrs: ['198.18.0.2/24'] });
  const ta = new TcpLayer(a);
  const c = ta.socket(4);
  assert.throws(
    () => c.connect('198.18.0.2', 80),
    (e) => isSysError(e, 'EINPROGRESS'),
  );
  world.run({ until: 100 });
  assert.equal(c.state, 'CLOSED');
  assert.throws(
    () => c.connect('198.18.0.2', 80),
    (e) => isSysError(e) && e.code !== 'EALREADY' && e.code !== 'EINPROGRESS',
  );
});
