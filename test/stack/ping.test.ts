import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EchoReply } from '../../src/ip/icmp-service.js';
import { formatAddr } from '../../src/wire/addr.js';
import { twoStacks } from './helpers.js';

test('two stacks ping each other over IPv4 and IPv6', () => {
  const { world, a, b } = twoStacks();
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
