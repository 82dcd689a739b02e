import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IcmpErr, IpRx } from '../../src/ip/types.js';
import { formatAddr } from '../../src/wire/addr.js';
import { newIcmpHeader, parseIcmp4, parseIcmp6 } from '../../src/wire/icmp.js';
import { newIpv4Header, parseIpv4 } from '../../src/wire/ipv4.js';
import { newIpv6Header, parseIpv6 } from '../../src/wire/ipv6.js';
import { A4, A6, B4, B6, bytes, harness, icmp4, icmp6, udp, v4, v6 } from './harness.js';

function lastIcmp4(sent: Uint8Array[]) {
  const f = sent[sent.length - 1];
  const ip = newIpv4Header();
  assert.equal(parseIpv4(f, ip), null);
  assert.equal(ip.proto, 1);
  const h = newIcmpHeader();
  assert.equal(parseIcmp4(f, h, ip.headerLen, ip.totalLen - ip.headerLen), null);
  return { ip, h, frame: f };
}

function lastIcmp6(sent: Uint8Array[]) {
  const f = sent[sent.length - 1];
  const ip = newIpv6Header();
  assert.equal(parseIpv6(f, ip), null);
  assert.equal(ip.proto, 58);
  const h = newIcmpHeader();
  assert.equal(parseIcmp6(f, h, ip.src, ip.dst, ip.headerLen, 40 + ip.payloadLen - ip.headerLen), null);
  return { ip, h, frame: f };
}

test('IPv4 header validation: each fault dropped and counted under its nstat name', () => {
  const { stack, link } = harness();
  const good = v4(udp(1, 2, bytes(4), B4, A4));
  const badSum = good.slice();
  badSum[10] ^= 0xff;
  stack.receive('eth0', badSum);
  assert.equal(stack.counters.get('IpInHdrErrors'), 1);
  assert.equal(stack.counters.get('IpExtInCsumErrors'), 1);
  stack.receive('eth0', good.subarray(0, good.length - 1));
  assert.equal(stack.counters.get('IpExtInTruncatedPkts'), 1);
  stack.receive('eth0', good.subarray(0, 10));
  assert.equal(stack.counters.get('IpInHdrErrors'), 2);
  stack.receive('eth0', v4(bytes(8), { dst: Uint8Array.from([198, 18, 0, 9]) }));
  assert.equal(stack.counters.get('IpInAddrErrors'), 1, 'not ours: we do not forward');
  assert.equal(stack.counters.get('IpInReceives'), 4);
  assert.equal(stack.counters.get('IpInDelivers'), 0);
  assert.equal(link.sent.length, 0, 'no ICMP about malformed packets');
  // Trailing bytes after the total length (link padding) are ignored.
  const padded = new Uint8Array(good.length + 6);
  padded.set(good);
  stack.receive('eth0', padded);
  assert.equal(stack.counters.get('IpInDelivers'), 1);
});

test('IPv6 header validation: truncated, multicast source, not ours', () => {
  const { stack } = harness();
  const good = v6(udp(1, 2, bytes(4), B6, A6));
  stack.receive('eth0', good.subarray(0, good.length - 1));
  assert.equal(stack.counters.get('Ip6InTruncatedPkts'), 1);
  stack.receive('eth0', v6(bytes(8), 17, Uint8Array.from([0xff, 2, ...new Array(13).fill(0), 1])));
  assert.equal(stack.counters.get('Ip6InHdrErrors'), 1);
  stack.receive('eth0', v6(bytes(8), 17, B6, Uint8Array.from([0xfd, ...new Array(14).fill(0), 9])));
  assert.equal(stack.counters.get('Ip6InAddrErrors'), 1);
  assert.equal(stack.counters.get('Ip6InReceives'), 3);
});

test('echo requests are answered with the same id, seq, data and TOS; icmp_echo_ignore_all', () => {
  const { stack, link } = harness();
  const data = bytes(56);
  stack.receive('eth0', v4(icmp4(8, 0, (0xbeef << 16) | 3, data), { proto: 1, tos: 0x10 }));
  const { ip, h, frame } = lastIcmp4(link.sent);
  assert.equal(h.type, 0);
  assert.equal(h.id, 0xbeef);
  assert.equal(h.seq, 3);
  assert.deepEqual(frame.subarray(28), data);
  assert.equal(formatAddr(ip.src), '198.18.0.1');
  assert.equal(formatAddr(ip.dst), '198.18.0.2');
  assert.equal(ip.tos, 0x10);
  assert.equal(ip.ttl, 64);
  assert.equal(stack.counters.get('IcmpInEchos'), 1);
  assert.equal(stack.counters.get('IcmpOutEchoReps'), 1);
  assert.equal(stack.counters.get('IcmpMsgInType8'), 1);
  assert.equal(stack.counters.get('IcmpMsgOutType0'), 1);
  stack.sysctl.set('net.ipv4.icmp_echo_ignore_all', 1);
  stack.receive('eth0', v4(icmp4(8, 0, 1, data), { proto: 1 }));
  assert.equal(link.sent.length, 1);
  // A corrupted ICMP message is counted, not answered.
  const bad = icmp4(8, 0, 1, data);
  bad[9] ^= 1;
  stack.sysctl.set('net.ipv4.icmp_echo_ignore_all', 0);
  stack.receive('eth0', v4(bad, { proto: 1 }));
  assert.equal(stack.counters.get('IcmpInCsumErrors'), 1);
  assert.equal(stack.counters.get('IcmpInErrors'), 1);
  assert.equal(link.sent.length, 1);
});

test('ICMPv6 echo request answered; tclass kept; hop limit from sysctl', () => {
  const { stack, link } = harness({ sysctl: { 'net.ipv6.conf.default.hop_limit': 50 } });
  const pkt = v6(icmp6(128, 0, (9 << 16) | 4, bytes(10)), 58);
  pkt[0] = 0x62; // traffic class 0x20
  stack.receive('eth0', pkt);
  const { ip, h } = lastIcmp6(link.sent);
  assert.equal(h.type, 129);
  assert.deepEqual([h.id, h.seq], [9, 4]);
  assert.equal(ip.trafficClass, 0x20);
  assert.equal(ip.hopLimit, 50);
  assert.equal(stack.counters.get('Icmp6InEchos'), 1);
  assert.equal(stack.counters.get('Icmp6OutEchoReplies'), 1);
});

test('unknown protocol: IpInUnknownProtos and ICMP protocol unreachable quoting the packet', () => {
  const { stack, link } = harness();
  const pkt = v4(bytes(40), { proto: 200 });
  stack.receive('eth0', pkt);
  assert.equal(stack.counters.get('IpInUnknownProtos'), 1);
  const { ip, h, frame } = lastIcmp4(link.sent);
  assert.deepEqual([h.type, h.code], [3, 2]);
  assert.equal(ip.tos, 0xc0, 'precedence internetwork control');
  assert.deepEqual(frame.subarray(28), pkt, 'the whole (short) datagram is quoted');
  // IPv6: parameter problem code 1 pointing at the Next Header field (offset 6).
  stack.receive('eth0', v6(bytes(16), 200));
  assert.equal(stack.counters.get('Ip6InUnknownProtos'), 1);
  const r = lastIcmp6(link.sent);
  assert.deepEqual([r.h.type, r.h.code, r.h.pointer], [4, 1, 6]);
});

test('no ICMP error about an ICMP error', () => {
  const { stack, link } = harness();
  // An ICMP destination unreachable to a port nobody listens on: the quoted
  // packet is ours, no transport handles proto 17 errors... UDP does; use proto 200.
  const quoted = v4(bytes(8), { src: A4, dst: B4, proto: 200 });
  stack.receive('eth0', v4(icmp4(3, 3, 0, quoted), { proto: 1 }));
  assert.equal(link.sent.length, 0);
  // A UDP datagram to a closed port gets port unreachable...
  stack.receive('eth0', v4(udp(5, 9, bytes(3), B4, A4)));
  assert.equal(link.sent.length, 1);
  const { h, frame } = lastIcmp4(link.sent);
  assert.deepEqual([h.type, h.code], [3, 3]);
  // That error quoted back to us gets no error in return.
  stack.receive('eth0', v4(frame.subarray(20).slice(), { proto: 1 }));
  assert.equal(link.sent.length, 1);
});

test('ICMP errors reach the handler of the quoted protocol with Linux errno; PMTU is learned', () => {
  const { stack } = harness();
  const errs: { errno: number; fatal: boolean; mtu: number; sport: number; dport: number; dst: string }[] =
    [];
  stack.ip.register(6, {
    input(_rx: IpRx) {},
    icmpError(e: IcmpErr) {
      errs.push({
        errno: e.errno,
        fatal: e.fatal,
        mtu: e.mtu,
        sport: e.sport,
        dport: e.dport,
        dst: formatAddr(e.dst),
      });
    },
  });
  const seg = new Uint8Array(20);
  seg.set([0x9c, 0x40, 0x00, 0x50, 1, 2, 3, 4]);
  const quoted = v4(seg, { src: A4, dst: Uint8Array.from([198, 18, 0, 99]), proto: 6, ff: 0x4000 });
  stack.receive('eth0', v4(icmp4(3, 3, 0, quoted), { proto: 1 }));
  stack.receive('eth0', v4(icmp4(3, 1, 0, quoted), { proto: 1 }));
  stack.receive('eth0', v4(icmp4(11, 0, 0, quoted), { proto: 1 }));
  assert.deepEqual(
    errs.map((e) => [e.errno, e.fatal]),
    [
      [111, true], // ECONNREFUSED
      [113, false], // EHOSTUNREACH
      [113, false], // time exceeded
    ],
  );
  assert.deepEqual([errs[0].sport, errs[0].dport, errs[0].dst], [40000, 80, '198.18.0.99']);
  // Fragmentation needed, next-hop MTU 1400: the route's MTU drops to 1400.
  assert.equal(stack.ip.route(Uint8Array.from([198, 18, 0, 99]))?.mtu, 1500);
  stack.receive('eth0', v4(icmp4(3, 4, 1400, quoted), { proto: 1 }));
  assert.equal(errs[3].errno, 90); // EMSGSIZE
  assert.equal(errs[3].mtu, 1400);
  assert.equal(stack.ip.route(Uint8Array.from([198, 18, 0, 99]))?.mtu, 1400);
  // Below net.ipv4.route.min_pmtu (552) the MTU is clamped to 552.
  stack.receive('eth0', v4(icmp4(3, 4, 300, quoted), { proto: 1 }));
  assert.equal(errs[4].mtu, 552);
  // It expires after net.ipv4.route.mtu_expires (600 s).
  stack.advance(600_001);
  assert.equal(stack.ip.route(Uint8Array.from([198, 18, 0, 99]))?.mtu, 1500);
  // An error quoting a packet that is not from one of our addresses is ignored.
  const foreign = v4(seg, { src: Uint8Array.from([198, 18, 0, 50]), dst: B4, proto: 6 });
  stack.receive('eth0', v4(icmp4(3, 3, 0, foreign), { proto: 1 }));
  assert.equal(errs.length, 5);
  // IPv6 packet too big below 1280 changes nothing (as Linux); 1300 is learned.
  const q6 = v6(seg, 6, A6, B6);
  stack.receive('eth0', v6(icmp6(2, 0, 1000, q6), 58));
  assert.deepEqual([errs[5].errno, errs[5].mtu], [90, 1500]);
  assert.equal(stack.ip.route(B6)?.mtu, 1500);
  stack.receive('eth0', v6(icmp6(2, 0, 1300, q6), 58));
  assert.deepEqual([errs[6].errno, errs[6].mtu], [90, 1300]);
  assert.equal(stack.ip.route(B6)?.mtu, 1300);
  stack.receive('eth0', v6(icmp6(1, 4, 0, q6), 58));
  assert.deepEqual([errs[7].errno, errs[7].fatal], [111, true]);
});

test('routes: longest prefix wins, gateways, no route, local addresses via lo', () => {
  const { stack } = harness();
  const p = (s: string) => {
    const r = stack.ip.route(Uint8Array.from(s.split('.').map(Number)));
    return r && `${r.ifname} ${formatAddr(r.src)} ${formatAddr(r.nexthop)} ${r.local}`;
  };
  assert.equal(p('198.18.0.77'), 'eth0 198.18.0.1 198.18.0.77 false');
  assert.equal(p('198.19.5.5'), null);
  assert.equal(stack.ip.output(new Uint8Array(40), 20, 20, 17, A4, Uint8Array.from([198, 19, 5, 5])), 101);
  assert.equal(stack.counters.get('IpOutNoRoutes'), 1);
  stack.addRoute('0.0.0.0/0', { dev: 'eth0', via: '198.18.0.254' });
  stack.addRoute('198.19.0.0/16', { dev: 'eth0', via: '198.18.0.253' });
  assert.equal(p('198.19.5.5'), 'eth0 198.18.0.1 198.18.0.253 false');
  assert.equal(p('203.0.113.1'), 'eth0 198.18.0.1 198.18.0.254 false');
  assert.equal(p('198.18.0.1'), 'lo 198.18.0.1 198.18.0.1 true');
  assert.equal(p('127.9.9.9'), 'lo 127.9.9.9 127.9.9.9 true');
  assert.ok(stack.ip.isLocal(A4));
  assert.ok(stack.ip.isLocal(A6));
  assert.ok(!stack.ip.isLocal(B4));
  assert.equal(stack.ip.headroom(4), 20);
  assert.equal(stack.ip.headroom(6), 40);
});

test('output: DF and too big → EMSGSIZE; otherwise fragments of 8-byte multiples with the same id', () => {
  const { stack, link } = harness({}, 1000);
  const buf = new Uint8Array(20 + 2500);
  buf.set(bytes(2500), 20);
  assert.equal(stack.ip.output(buf, 20, 2500, 17, A4, B4, { df: true }), 90);
  assert.equal(stack.counters.get('IpFragFails'), 1);
  assert.equal(stack.ip.output(buf, 20, 2500, 17, A4, B4, { ttl: 9, tos: 4 }), 0);
  assert.equal(link.sent.length, 3);
  const hs = link.sent.map((f) => {
    const h = newIpv4Header();
    assert.equal(parseIpv4(f, h), null);
    return h;
  });
  assert.deepEqual(
    hs.map((h) => [h.totalLen, h.fragOffset, h.mf, h.ttl, h.tos]),
    [
      [996, 0, true, 9, 4],
      [996, 976, true, 9, 4],
      [568, 1952, false, 9, 4],
    ],
  );
  assert.ok(hs.every((h) => h.id === hs[0].id));
  assert.deepEqual(new Uint8Array(Buffer.concat(link.sent.map((f) => f.subarray(20)))), bytes(2500));
  assert.equal(stack.counters.get('IpFragOKs'), 1);
  assert.equal(stack.counters.get('IpFragCreates'), 3);
  assert.equal(stack.ip.output(buf, 10, 20, 17, A4, B4), 22, 'no headroom: EINVAL');
});

test('a path MTU update is undone when the transport finds no socket (Linux updates only for a socket)', () => {
  const { stack } = harness();
  let found = false;
  stack.ip.register(6, {
    input() {},
    icmpError: () => found,
  });
  const seg = new Uint8Array(20);
  const peer = Uint8Array.from([198, 18, 0, 99]);
  const quoted = v4(seg, { src: A4, dst: peer, proto: 6, ff: 0x4000 });
  stack.receive('eth0', v4(icmp4(3, 4, 1200, quoted), { proto: 1 }));
  assert.equal(stack.ip.route(peer)?.mtu, 1500, 'no socket: nothing learned');
  assert.equal(stack.counters.get('IcmpInErrors'), 1);
  found = true;
  stack.receive('eth0', v4(icmp4(3, 4, 1200, quoted), { proto: 1 }));
  assert.equal(stack.ip.route(peer)?.mtu, 1200);
  found = false;
  stack.receive('eth0', v4(icmp4(3, 4, 1000, quoted), { proto: 1 }));
  assert.equal(stack.ip.route(peer)?.mtu, 1200, 'the earlier value is restored');
});

test('global ICMP rate limit: icmp_msgs_burst credit, refilled at icmp_msgs_per_sec; echo replies are not limited', () => {
  const { stack, link } = harness({
    sysctl: {
      'net.ipv4.icmp_msgs_burst': 5,
      'net.ipv4.icmp_msgs_per_sec': 100,
      'net.ipv4.icmp_ratelimit': 0,
    },
  });
  for (let i = 0; i < 30; i++) stack.receive('eth0', v4(udp(1000 + i, 9, bytes(4), B4, A4), { id: i }));
  const sent = link.sent.length;
  assert.ok(sent >= 3 && sent <= 12, `a burst of about 5 credits (0..2 each): ${sent}`);
  assert.equal(stack.counters.get('IcmpOutRateLimitGlobal'), 30 - sent);
  assert.equal(
    stack.counters.get('IcmpOutRateLimitHost'),
    0,
    'icmp_ratelimit 0 disables the per-host bucket',
  );
  // Pings are answered regardless (not in icmp_ratemask).
  for (let i = 0; i < 10; i++) stack.receive('eth0', v4(icmp4(8, 0, i, bytes(8)), { proto: 1, id: 100 + i }));
  assert.equal(link.sent.length, sent + 10);
  // 50 ms at 100/s gives 5 more credits.
  stack.advance(50);
  for (let i = 0; i < 30; i++) stack.receive('eth0', v4(udp(2000 + i, 9, bytes(4), B4, A4), { id: 200 + i }));
  const more = link.sent.length - sent - 10;
  assert.ok(more >= 2 && more <= 12, `refilled: ${more}`);
});
