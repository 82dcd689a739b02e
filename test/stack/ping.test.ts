import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EchoReply } from '../../src/ip/icmp-service.js';
import { MemoryWire } from '../../src/link/memory-wire.js';
import { World } from '../../src/sim/world.js';
import { Stack } from '../../src/stack.js';
import { formatAddr } from '../../src/wire/addr.js';

function pair(opts: { delay?: number; mtu?: number } = {}) {
  const world = new World();
  const wire = world.add(
    new MemoryWire({ delay: opts.delay ?? 1, mtu: opts.mtu ?? 1500, clock: world.clock }),
  );
  const a = world.add(new Stack({ seed: 1, name: 'a' }));
  const b = world.add(new Stack({ seed: 2, name: 'b' }));
  a.addInterface('eth0', wire.a, { addrs: ['198.18.0.1/24', 'fd00::1/64'] });
  b.addInterface('eth0', wire.b, { addrs: ['198.18.0.2/24', 'fd00::2/64'] });
  return { world, wire, a, b };
}

test('two stacks ping each other over IPv4 and IPv6', () => {
  const { world, a, b } = pair();
  const got: EchoReply[] = [];
  a.onEchoReply = (r) => got.push(r);
  b.onEchoReply = (r) => got.push(r);
  const data = new TextEncoder().encode('hello usnet');
  assert.equal(a.ping('198.18.0.2', 0x1234, 1, data), 0);
  assert.equal(a.ping('fd00::2', 0x1234, 2, data), 0);
  assert.equal(b.ping('198.18.0.1', 7, 3, data), 0);
  assert.equal(b.ping('fd00::1', 7, 4, data), 0);
  world.run({ until: 100 });
  const seen = got
    .map((r) => `${formatAddr(r.from)} ${r.id} ${r.seq} ${new TextDecoder().decode(r.data)}`)
    .sort();
  assert.deepEqual(seen, [
    '198.18.0.1 7 3 hello usnet',
    '198.18.0.2 4660 1 hello usnet',
    'fd00::1 7 4 hello usnet',
    'fd00::2 4660 2 hello usnet',
  ]);
  assert.equal(b.counters.get('IcmpInEchos'), 1);
  assert.equal(b.counters.get('IcmpOutEchoReps'), 1);
  assert.equal(b.counters.get('Icmp6InEchos'), 1);
  assert.equal(b.counters.get('Icmp6OutEchoReplies'), 1);
  assert.equal(a.counters.get('IpInReceives'), 2);
  assert.equal(a.counters.get('IpInDelivers'), 2);
  assert.equal(a.counters.get('Ip6InReceives'), 2);
});
