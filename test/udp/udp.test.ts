import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSysError } from '../../src/errno.js';
import { Stack } from '../../src/stack.js';
import { POLLERR, POLLIN } from '../../src/udp/udp-socket.js';
import { formatAddr } from '../../src/wire/addr.js';
import { twoStacks } from '../stack/helpers.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

for (const family of [4, 6] as const) {
  const aAddr = family === 4 ? '198.18.0.1' : 'fd00::1';
  const bAddr = family === 4 ? '198.18.0.2' : 'fd00::2';
  const P = family === 4 ? 'Udp' : 'Udp6';

  test(`UDP/IPv${family}: sendto and recvfrom between two stacks, both ways`, () => {
    const { world, a, b } = twoStacks();
    const srv = b.socket('udp', family);
    srv.bind(bAddr, 5353);
    const cli = a.socket('udp', family);
    let events = 0;
    srv.onEvent = (ev) => {
      if (ev & POLLIN) events++;
    };
    assert.equal(cli.sendto(enc('ping'), bAddr, 5353), 4);
    const port = cli.getsockname().port;
    assert.ok(port >= 32768 && port <= 60999, `ephemeral port ${port}`);
    world.run({ until: 50 });
    assert.equal(events, 1);
    const d = srv.recvfrom();
    assert.equal(dec(d.data), 'ping');
    assert.equal(formatAddr(d.addr), aAddr);
    assert.equal(d.port, port);
    srv.sendto(enc('pong'), d.addr, d.port);
    world.run({ until: 100 });
    const r = cli.recvfrom();
    assert.equal(dec(r.data), 'pong');
    assert.equal(formatAddr(r.addr), bAddr);
    assert.equal(r.port, 5353);
    assert.throws(
      () => cli.recvfrom(),
      (e) => isSysError(e, 'EAGAIN'),
    );
    assert.equal(a.counters.get(`${P}OutDatagrams`), 1);
    assert.equal(b.counters.get(`${P}InDatagrams`), 1);
    assert.equal(a.counters.get(`${P}InDatagrams`), 1);
  });

  test(`UDP/IPv${family}: no socket → ICMP port unreachable; connected socket gets ECONNREFUSED once`, () => {
    const { world, a, b } = twoStacks();
    const cli = a.socket('udp', family);
    cli.connect(bAddr, 9);
    cli.send(enc('anyone?'));
    world.run({ until: 50 });
    assert.equal(b.counters.get(`${P}NoPorts`), 1);
    if (family === 4) {
      assert.equal(b.counters.get('IcmpOutDestUnreachs'), 1);
      assert.equal(a.counters.get('IcmpInDestUnreachs'), 1);
    } else {
      assert.equal(b.counters.get('Icmp6OutDestUnreachs'), 1);
      assert.equal(a.counters.get('Icmp6InDestUnreachs'), 1);
    }
    assert.ok(cli.poll() & POLLERR);
    assert.throws(
      () => cli.recv(),
      (e) => isSysError(e, 'ECONNREFUSED'),
    );
    assert.throws(
      () => cli.recv(),
      (e) => isSysError(e, 'EAGAIN'),
    );
  });

  test(`UDP/IPv${family}: an unconnected socket ignores port unreachable`, () => {
    const { world, a } = twoStacks();
    const cli = a.socket('udp', family);
    cli.sendto(enc('x'), bAddr, 9);
    world.run({ until: 50 });
    assert.equal(cli.poll() & POLLERR, 0);
    assert.throws(
      () => cli.recv(),
      (e) => isSysError(e, 'EAGAIN'),
    );
  });

  test(`UDP/IPv${family}: a datagram larger than the MTU is fragmented and reassembled`, () => {
    const { world, a, b } = twoStacks();
    const srv = b.socket('udp', family);
    srv.bind(null, 7000);
    const cli = a.socket('udp', family);
    const big = new Uint8Array(4000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    cli.sendto(big, bAddr, 7000);
    world.run({ until: 50 });
    assert.deepEqual(srv.recv(), big);
    const pre = family === 4 ? 'Ip' : 'Ip6';
    assert.equal(a.counters.get(`${pre}FragOKs`), 1);
    assert.equal(a.counters.get(`${pre}FragCreates`), 3);
    assert.equal(b.counters.get(`${pre}ReasmReqds`), 3);
    assert.equal(b.counters.get(`${pre}ReasmOKs`), 1);
  });
}

test('UDP: bind errors (EADDRINUSE, EADDRNOTAVAIL), SO_REUSEADDR shares a port', () => {
  const s = new Stack();
  const x = s.socket('udp', 4);
  x.bind('127.0.0.1', 4000);
  const y = s.socket('udp', 4);
  assert.throws(
    () => y.bind(null, 4000),
    (e) => isSysError(e, 'EADDRINUSE'),
  );
  assert.throws(
    () => y.bind('198.51.100.1', 4001),
    (e) => isSysError(e, 'EADDRNOTAVAIL'),
  );
  const z = s.socket('udp', 4);
  z.bind('127.0.0.2', 4000); // different specific address: no clash
  // A dual-stack IPv6 wildcard clashes with an IPv4 binding on the same port...
  const w = s.socket('udp', 6);
  assert.throws(
    () => w.bind(null, 4000),
    (e) => isSysError(e, 'EADDRINUSE'),
  );
  // ...but an IPV6_V6ONLY one does not.
  w.v6only = true;
  w.bind(null, 4000);
  const r1 = s.socket('udp', 4);
  const r2 = s.socket('udp', 4);
  r1.reuseAddr = true;
  r2.reuseAddr = true;
  r1.bind(null, 5000);
  r2.bind(null, 5000);
});

test('UDP: a dual-stack IPv6 socket receives IPv4 datagrams from a v4-mapped address', () => {
  const { world, a, b } = twoStacks();
  const srv = b.socket('udp', 6);
  srv.bind(null, 6000);
  a.socket('udp', 4).sendto(enc('hi'), '198.18.0.2', 6000);
  world.run({ until: 20 });
  const d = srv.recvfrom();
  assert.equal(formatAddr(d.addr), '::ffff:198.18.0.1');
  srv.sendto(enc('back'), d.addr, d.port);
  world.run({ until: 40 });
  assert.equal(b.counters.get('UdpInDatagrams'), 1);
  assert.equal(b.counters.get('UdpOutDatagrams'), 1);
});

test('UDP over the loopback device: a stack talks to itself', () => {
  const s = new Stack();
  const a = s.socket('udp', 4);
  a.bind('127.0.0.1', 1111);
  const c = s.socket('udp', 4);
  c.sendto(enc('self'), '127.0.0.1', 1111);
  assert.equal(s.nextDeadline(), s.now, 'loopback delivery is due now');
  assert.throws(
    () => a.recv(),
    (e) => isSysError(e, 'EAGAIN'),
    'not delivered re-entrantly',
  );
  s.advance(0);
  const d = a.recvfrom();
  assert.equal(dec(d.data), 'self');
  assert.equal(formatAddr(d.addr), '127.0.0.1');
});

test('ICMP port unreachable is rate-limited per host: a burst of 6, then one per icmp_ratelimit', () => {
  const { world, a, b } = twoStacks();
  const cli = a.socket('udp', 4);
  for (let i = 0; i < 10; i++) cli.sendto(enc('x'), '198.18.0.2', 9);
  world.run({ until: 10 });
  assert.equal(b.counters.get('UdpNoPorts'), 10);
  assert.equal(b.counters.get('IcmpOutDestUnreachs'), 6);
  assert.equal(b.counters.get('IcmpOutRateLimitHost'), 4);
  // One more token after icmp_ratelimit (1000 ms).
  world.run({ until: 1100 });
  for (let i = 0; i < 3; i++) cli.sendto(enc('x'), '198.18.0.2', 9);
  world.run({ until: 1200 });
  assert.equal(b.counters.get('IcmpOutDestUnreachs'), 7);
});

test('UDP over loopback: a connected socket to a closed port gets ECONNREFUSED (ICMP to ourselves)', () => {
  const s = new Stack();
  const c = s.socket('udp', 4);
  c.connect('127.0.0.1', 9999);
  c.send(enc('x'));
  for (let i = 0; i < 3; i++) s.advance(0);
  assert.equal(s.counters.get('UdpNoPorts'), 1);
  assert.throws(
    () => c.recv(),
    (e) => isSysError(e, 'ECONNREFUSED'),
  );
  const c6 = s.socket('udp', 6);
  c6.connect('::1', 9999);
  c6.send(enc('x'));
  for (let i = 0; i < 3; i++) s.advance(0);
  assert.equal(s.counters.get('Udp6NoPorts'), 1);
  assert.throws(
    () => c6.send(enc('y')),
    (e) => isSysError(e, 'ECONNREFUSED'),
  );
});

test('UDP receive queue is bounded by SO_RCVBUF: the excess is dropped and counted', () => {
  const { world, a, b } = twoStacks();
  const srv = b.socket('udp', 4);
  srv.bind(null, 8000);
  srv.setRcvbuf(16384); // Linux doubles it: 32768
  assert.equal(srv.rcvbuf, 32768);
  const cli = a.socket('udp', 4);
  for (let i = 0; i < 100; i++) cli.sendto(new Uint8Array(1000), '198.18.0.2', 8000);
  world.run({ until: 100 });
  const dropped = b.counters.get('UdpRcvbufErrors');
  let n = 0;
  while (srv.poll() & POLLIN) {
    srv.recv();
    n++;
  }
  assert.ok(n > 10 && n < 40, `queued ${n}`);
  assert.equal(n + dropped, 100);
  assert.equal(b.counters.get('UdpInErrors'), dropped);
  assert.equal(b.counters.get('UdpInDatagrams'), n);
});

test('UDP broadcast: SO_BROADCAST needed to send; every wildcard socket on the port receives; no ICMP', () => {
  const { world, a, b } = twoStacks();
  const s1 = b.socket('udp', 4);
  s1.reuseAddr = true;
  s1.bind(null, 6767);
  const s2 = b.socket('udp', 4);
  s2.reuseAddr = true;
  s2.bind(null, 6767);
  const specific = b.socket('udp', 4);
  specific.reuseAddr = true; // (without it: EADDRINUSE against the wildcards, as Linux)
  specific.bind('198.18.0.2', 6767);
  const cli = a.socket('udp', 4);
  assert.throws(
    () => cli.sendto(enc('all'), '198.18.0.255', 6767),
    (e) => isSysError(e, 'EACCES'),
  );
  cli.broadcast = true;
  cli.sendto(enc('all'), '198.18.0.255', 6767);
  cli.sendto(enc('nobody'), '198.18.0.255', 6868);
  world.run({ until: 20 });
  assert.equal(dec(s1.recv()), 'all');
  assert.equal(dec(s2.recv()), 'all');
  assert.throws(
    () => specific.recv(),
    (e) => isSysError(e, 'EAGAIN'),
  );
  assert.equal(b.counters.get('IpExtInBcastPkts'), 2);
  assert.equal(b.counters.get('UdpIgnoredMulti'), 1);
  assert.equal(b.counters.get('UdpNoPorts'), 0);
  assert.equal(b.counters.get('IcmpOutMsgs'), 0, 'no ICMP about broadcasts');
});

test('ICMP echo to a broadcast address: ignored by default (icmp_echo_ignore_broadcasts), else answered from a unicast address', () => {
  const { world, a, b } = twoStacks();
  const got: string[] = [];
  a.onEchoReply = (r) => got.push(formatAddr(r.from));
  a.ping('198.18.0.255', 1, 1);
  world.run({ until: 20 });
  assert.deepEqual(got, []);
  assert.equal(b.counters.get('IcmpInErrors'), 1);
  b.sysctl.set('net.ipv4.icmp_echo_ignore_broadcasts', 0);
  a.ping('198.18.0.255', 1, 2);
  world.run({ until: 40 });
  assert.deepEqual(got, ['198.18.0.2']);
});

test('SO_REUSEPORT: flows are spread over the group, one flow always reaches the same socket', () => {
  const { world, a, b } = twoStacks();
  const group = [0, 1, 2].map(() => {
    const s = b.socket('udp', 4);
    s.reusePort = true;
    s.bind(null, 7100);
    return s;
  });
  const clients = Array.from({ length: 30 }, (_, i) => {
    const c = a.socket('udp', 4);
    c.bind(null, 20000 + i);
    return c;
  });
  for (let round = 0; round < 3; round++)
    for (const c of clients) c.sendto(enc(String(c.getsockname().port)), '198.18.0.2', 7100);
  world.run({ until: 50 });
  const owner = new Map<number, number>();
  group.forEach((s, i) => {
    let n = 0;
    while (s.poll() & POLLIN) {
      const port = s.recvfrom().port;
      assert.ok(!owner.has(port) || owner.get(port) === i, `flow ${port} stays on one socket`);
      owner.set(port, i);
      n++;
    }
    assert.ok(n > 0, `socket ${i} got a share`);
  });
  assert.equal(owner.size, 30);
});
