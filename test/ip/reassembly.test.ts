import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newIcmpHeader, parseIcmp4, parseIcmp6 } from '../../src/wire/icmp.js';
import { newIpv4Header, parseIpv4 } from '../../src/wire/ipv4.js';
import { newIpv6Header, parseIpv6 } from '../../src/wire/ipv6.js';
import { A4, B4, bytes, harness, udp, v4, v6frag } from './harness.js';

/** A UDP datagram to `port` split into IPv4 fragments of `per` data bytes. */
function fragments4(dgram: Uint8Array, per: number, id = 42): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < dgram.length; o += per) {
    const n = Math.min(per, dgram.length - o);
    out.push(v4(dgram.subarray(o, o + n), { id, ff: (o + n < dgram.length ? 0x2000 : 0) | (o >> 3) }));
  }
  return out;
}

function udpServer(stack: ReturnType<typeof harness>['stack'], family: 4 | 6 = 4) {
  const s = stack.socket('udp', family);
  s.bind(null, 7777);
  return s;
}

test('IPv4 fragments reassemble in any order; duplicates are harmless', () => {
  const { stack } = harness();
  const srv = udpServer(stack);
  const data = bytes(3000);
  const frags = fragments4(udp(1000, 7777, data, B4, A4), 1200);
  assert.equal(frags.length, 3);
  stack.receive('eth0', frags[2]);
  stack.receive('eth0', frags[0]);
  stack.receive('eth0', frags[0].slice());
  assert.equal(stack.ip.reasm.queues, 1);
  stack.receive('eth0', frags[1]);
  assert.deepEqual(srv.recv(), data);
  assert.equal(stack.counters.get('IpReasmReqds'), 4);
  assert.equal(stack.counters.get('IpReasmOKs'), 1);
  assert.equal(stack.counters.get('IpReasmFails'), 0);
  assert.equal(stack.ip.reasm.queues, 0);
  assert.equal(stack.ip.reasm.memory(4), 0, 'memory released');
});

test('overlapping IPv4 fragments discard the whole datagram (IpExtReasmOverlaps)', () => {
  const { stack } = harness();
  const srv = udpServer(stack);
  const dgram = udp(1000, 7777, bytes(2000), B4, A4);
  const frags = fragments4(dgram, 800);
  stack.receive('eth0', frags[0]);
  // Data at offset 400..1200 overlaps the first fragment partially.
  stack.receive('eth0', v4(dgram.subarray(400, 1200), { id: 42, ff: 0x2000 | (400 >> 3) }));
  assert.equal(stack.counters.get('IpExtReasmOverlaps'), 1);
  assert.equal(stack.counters.get('IpReasmFails'), 1);
  assert.equal(stack.ip.reasm.queues, 0);
  stack.receive('eth0', frags[1]);
  stack.receive('eth0', frags[2]);
  assert.throws(() => srv.recv(), /EAGAIN/);
  assert.equal(stack.ip.reasm.queues, 1, 'a fresh queue without the first fragment');
});

test('a reassembly that does not complete in ipfrag_time fails with ICMP time exceeded (code 1)', () => {
  const { stack, link } = harness();
  udpServer(stack);
  const frags = fragments4(udp(1000, 7777, bytes(2000), B4, A4), 800);
  stack.receive('eth0', frags[0]);
  stack.receive('eth0', frags[2]);
  assert.ok(stack.nextDeadline() <= 30_000, 'due by ipfrag_time');
  stack.advance(29_999);
  assert.equal(stack.counters.get('IpReasmTimeout'), 0);
  stack.advance(30_000);
  assert.equal(stack.counters.get('IpReasmTimeout'), 1);
  assert.equal(stack.counters.get('IpReasmFails'), 1);
  assert.equal(link.sent.length, 1);
  const ip = newIpv4Header();
  assert.equal(parseIpv4(link.sent[0], ip), null);
  const h = newIcmpHeader();
  assert.equal(parseIcmp4(link.sent[0], h, 20, ip.totalLen - 20), null);
  assert.deepEqual([h.type, h.code], [11, 1]);
  // The quote starts with the first fragment's header.
  assert.deepEqual(link.sent[0].subarray(28, 48), frags[0].subarray(0, 20));
  // Without the first fragment: the queue expires silently.
  stack.receive('eth0', fragments4(udp(1000, 7777, bytes(2000), B4, A4), 800, 43)[1]);
  stack.advance(60_000);
  assert.equal(stack.counters.get('IpReasmTimeout'), 2);
  assert.equal(link.sent.length, 1);
});

test('memory above ipfrag_high_thresh: fragments are dropped and counted', () => {
  const { stack } = harness({ sysctl: { 'net.ipv4.ipfrag_high_thresh': 5000 } });
  for (let id = 0; id < 10; id++)
    stack.receive('eth0', fragments4(udp(1, 7777, bytes(2000), B4, A4), 800, id)[0]);
  const mem = stack.ip.reasm.memory(4);
  assert.ok(mem > 5000 && mem < 5000 + 2000, `memory ${mem} bounded near the threshold`);
  const queued = stack.ip.reasm.queues;
  assert.ok(queued < 10);
  assert.equal(stack.counters.get('IpReasmFails'), 10 - queued);
  // When the queues time out, memory comes back and fragments are accepted again.
  stack.advance(31_000);
  assert.equal(stack.ip.reasm.memory(4), 0);
  stack.receive('eth0', fragments4(udp(1, 7777, bytes(2000), B4, A4), 800, 99)[0]);
  assert.equal(stack.ip.reasm.queues, 1);
});

test('a fragment whose end contradicts the last fragment discards the queue', () => {
  const { stack } = harness();
  const frags = fragments4(udp(1, 7777, bytes(2000), B4, A4), 800);
  stack.receive('eth0', frags[2]); // last: total 2008
  stack.receive('eth0', v4(bytes(800), { id: 42, ff: 0x2000 | (1600 >> 3) })); // ends at 2400
  assert.equal(stack.counters.get('IpReasmFails'), 1);
  assert.equal(stack.ip.reasm.queues, 0);
});

test('IPv6 fragments reassemble; a non-last fragment not a multiple of 8 gets a parameter problem', () => {
  const { stack, link } = harness();
  const srv = udpServer(stack, 6);
  const B6 = Uint8Array.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
  const A6 = Uint8Array.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  const data = bytes(2500);
  const dgram = udp(1000, 7777, data, B6, A6);
  stack.receive('eth0', v6frag(dgram.subarray(1200), 1200, false, 5));
  stack.receive('eth0', v6frag(dgram.subarray(0, 1200), 0, true, 5));
  assert.deepEqual(srv.recv(), data);
  assert.equal(stack.counters.get('Ip6ReasmOKs'), 1);
  stack.receive('eth0', v6frag(dgram.subarray(0, 1001), 0, true, 6));
  assert.equal(stack.counters.get('Ip6ReasmFails'), 1);
  const f = link.sent[link.sent.length - 1];
  const ip = newIpv6Header();
  assert.equal(parseIpv6(f, ip), null);
  const h = newIcmpHeader();
  assert.equal(parseIcmp6(f, h, ip.src, ip.dst, 40, ip.payloadLen), null);
  assert.deepEqual([h.type, h.code, h.pointer], [4, 0, 4], 'points at the payload length');
  // Timeout: ip6frag_time (60 s), time exceeded code 1.
  stack.receive('eth0', v6frag(dgram.subarray(0, 1200), 0, true, 7));
  stack.advance(60_000);
  assert.equal(stack.counters.get('Ip6ReasmTimeout'), 1);
  const t = link.sent[link.sent.length - 1];
  assert.equal(parseIpv6(t, ip), null);
  assert.equal(parseIcmp6(t, h, ip.src, ip.dst, 40, ip.payloadLen), null);
  assert.deepEqual([h.type, h.code], [3, 1]);
});
