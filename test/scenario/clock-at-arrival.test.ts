/**
 * A stack receives a frame with its clock at the frame's arrival time, even
 * when it had nothing due before (World.step brings stacks up to the event
 * time before links deliver). Without that, the handshake's RTT sample reads
 * the time since the stack's last own event instead of the path's RTT.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { POLLIN, POLLOUT, Stack, TcpLayer } from '../../src/index.js';
import { MemoryWire } from '../../src/link/memory-wire.js';
import { World } from '../../src/sim/world.js';

test('RTT measured over a 10 ms one-way wire is 20 ms, whatever the order members were added in', () => {
  for (const wireFirst of [true, false]) {
    const world = new World();
    const wire = new MemoryWire({ delay: 10 });
    if (wireFirst) world.add(wire);
    const a = world.add(new Stack({ seed: 1, name: 'a' }));
    const b = world.add(new Stack({ seed: 2, name: 'b' }));
    if (!wireFirst) world.add(wire);
    a.addInterface('eth0', wire.a, { addrs: ['198.18.0.1/24'] });
    b.addInterface('eth0', wire.b, { addrs: ['198.18.0.2/24'] });
    const l = new TcpLayer(b).socket(4);
    l.bind('198.18.0.2', 80);
    l.listen(8);
    const c = new TcpLayer(a).socket(4);
    world.run({ until: 1000 }); // both stacks idle for a second first
    assert.throws(() => c.connect('198.18.0.2', 80), { code: 'EINPROGRESS' });
    assert.ok(
      world.runUntil(() => (c.poll() & POLLOUT) !== 0 && (l.poll() & POLLIN) !== 0, { timeout: 1000 }),
    );
    const info = c.getsockopt('TCP_INFO') as Record<string, number>;
    assert.equal(info.tcpi_rtt, 20_000, `wireFirst=${wireFirst}: tcpi_rtt ${info.tcpi_rtt} µs`);
  }
});
