import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSysError } from '../../src/errno.js';
import { POLLHUP, POLLIN, POLLOUT } from '../../src/socket/poll.js';
import { formatAddr, type IpAddr } from '../../src/wire/addr.js';
import { establishPassive, Harness, LOCAL, PEER, twoStacks } from '../tcp/harness.js';

test('a fresh socket: poll is POLLOUT|POLLHUP; send EPIPE; recv and shutdown ENOTCONN; getpeername ENOTCONN', () => {
  const h = new Harness();
  const s = h.socket();
  assert.equal(s.poll(), POLLOUT | POLLHUP);
  assert.throws(
    () => s.send(new Uint8Array(1)),
    (e) => isSysError(e, 'EPIPE'),
  );
  assert.throws(
    () => s.recv(),
    (e) => isSysError(e, 'ENOTCONN'),
  );
  assert.throws(
    () => s.shutdown(1),
    (e) => isSysError(e, 'ENOTCONN'),
  );
  assert.throws(
    () => s.getpeername(),
    (e) => isSysError(e, 'ENOTCONN'),
  );
  assert.throws(
    () => s.shutdown(7),
    (e) => isSysError(e, 'EINVAL'),
  );
  assert.throws(
    () => s.accept(),
    (e) => isSysError(e, 'EINVAL'),
  );
});

test('a listener: connect gives EISCONN, recv ENOTCONN, poll POLLIN only when a connection waits', () => {
  const h = new Harness();
  const l = h.socket();
  l.bind(LOCAL, 80);
  l.listen(5);
  assert.equal(l.poll(), 0);
  assert.throws(
    () => l.connect('198.18.0.2', 80),
    (e) => isSysError(e, 'EISCONN'),
  );
  assert.throws(
    () => l.recv(),
    (e) => isSysError(e, 'ENOTCONN'),
  );
  assert.throws(
    () => l.bind(LOCAL, 81),
    (e) => isSysError(e, 'EINVAL'),
  );
});

test('bind errors: EADDRINUSE, EADDRNOTAVAIL, EINVAL twice; SO_REUSEADDR', () => {
  const h = new Harness();
  const a = h.socket();
  a.bind(LOCAL, 5000);
  const b = h.socket();
  assert.throws(
    () => b.bind(LOCAL, 5000),
    (e) => isSysError(e, 'EADDRINUSE'),
  );
  assert.throws(
    () => b.bind('198.18.9.9', 5001),
    (e) => isSysError(e, 'EADDRNOTAVAIL'),
  );
  assert.throws(
    () => a.bind(LOCAL, 5002),
    (e) => isSysError(e, 'EINVAL'),
  );
  const c = h.socket();
  c.setsockopt('SO_REUSEADDR', 1);
  const d = h.socket();
  d.setsockopt('SO_REUSEADDR', 1);
  c.bind(LOCAL, 6000);
  d.bind(LOCAL, 6000);
  assert.equal(d.getsockname().port, 6000);
});

test('socket options: defaults and round trips as Linux reports them', () => {
  const h = new Harness();
  const s = h.socket();
  assert.equal(s.getsockopt('SO_RCVBUF'), 131072);
  assert.equal(s.getsockopt('SO_SNDBUF'), 16384);
  s.setsockopt('SO_RCVBUF', 10000);
  assert.equal(s.getsockopt('SO_RCVBUF'), 20000);
  s.setsockopt('SO_SNDBUF', 10000);
  assert.equal(s.getsockopt('SO_SNDBUF'), 20000);
  assert.equal(s.getsockopt('TCP_MAXSEG'), 536);
  assert.equal(s.getsockopt('TCP_KEEPIDLE'), 7200);
  assert.equal(s.getsockopt('TCP_KEEPINTVL'), 75);
  assert.equal(s.getsockopt('TCP_KEEPCNT'), 9);
  assert.throws(
    () => s.setsockopt('TCP_KEEPCNT', 0),
    (e) => isSysError(e, 'EINVAL'),
  );
  assert.throws(
    () => s.setsockopt('TCP_MAXSEG', 10),
    (e) => isSysError(e, 'EINVAL'),
  );
  s.setsockopt('TCP_NODELAY', true);
  assert.equal(s.getsockopt('TCP_NODELAY'), 1);
  s.setsockopt('SO_LINGER', { onoff: 1, linger: 5 });
  assert.deepEqual(s.getsockopt('SO_LINGER'), { onoff: 1, linger: 5 });
  assert.equal(s.getsockopt('SO_ERROR'), 0);
  assert.throws(
    () => s.getsockopt('IPV6_V6ONLY'),
    (e) => isSysError(e, 'ENOPROTOOPT'),
  );
  assert.throws(
    () => s.setsockopt('BOGUS' as never, 1),
    (e) => isSysError(e, 'ENOPROTOOPT'),
  );
  assert.equal(s.getsockopt('TCP_CONGESTION'), 'reno');
  s.close();
  assert.throws(
    () => s.send(new Uint8Array(1)),
    (e) => isSysError(e, 'EBADF'),
  );
});

test('TCP_MAXSEG clamps the MSS we advertise', () => {
  const h = new Harness();
  const s = h.socket();
  s.setsockopt('TCP_MAXSEG', 1000);
  try {
    s.connect('198.18.0.2', 80);
  } catch {}
  assert.equal(h.one().mss, 1000);
});

test('TCP_INFO reports state, rtt, rto, cwnd, ssthresh, bytes and options', () => {
  const h = new Harness();
  const e = establishPassive(h, { ts: true });
  e.s.send(new Uint8Array(1000));
  h.take();
  h.advance(30);
  h.inject({ flags: '.', seq: e.peerSeq, ack: e.iss + 1001, ts: [102, 0] });
  const i = e.s.info();
  assert.equal(i.tcpi_state, 1);
  assert.equal(i.tcpi_snd_cwnd, 10);
  assert.equal(i.tcpi_snd_ssthresh, 0x7fffffff);
  // Linux counts snd_una's advance: the 1000 bytes and our SYN
  assert.equal(i.tcpi_bytes_acked, 1001);
  assert.equal(i.tcpi_bytes_sent, 1000);
  assert.equal(i.tcpi_options, 7);
  assert.ok(i.tcpi_rtt > 0);
  assert.ok(i.tcpi_rto >= 200_000);
  assert.equal(i.tcpi_retransmits, 0);
});

test('ss listing: states and queues (LISTEN shows the accept queue and backlog)', () => {
  const h = new Harness();
  const e = establishPassive(h);
  h.inject({ flags: 'P.', seq: e.peerSeq, ack: e.iss + 1, payload: 7 });
  e.s.send(new Uint8Array(3));
  const rows = h.tcp.list();
  const lis = rows.find((r) => r.state === 'LISTEN');
  const est = rows.find((r) => r.state === 'ESTAB');
  assert.ok(lis && est);
  assert.equal(lis.recvQ, 0);
  assert.equal(lis.sendQ, 5);
  assert.equal(est.recvQ, 7);
  assert.equal(est.sendQ, 3);
  assert.equal(est.timer, 'on');
});

test('onEvent fires after input, never inside the socket call', () => {
  const { world, ta, tb } = twoStacks();
  const l = tb.socket(4);
  l.bind('198.18.0.2', 80);
  l.listen(8);
  const events: number[] = [];
  l.onEvent = (ev) => events.push(ev);
  const c = ta.socket(4);
  let inCall = false;
  let reentered = false;
  c.onEvent = () => {
    if (inCall) reentered = true;
  };
  inCall = true;
  try {
    c.connect('198.18.0.2', 80);
  } catch {}
  c.setsockopt('TCP_NODELAY', 1);
  inCall = false;
  world.runUntil(() => events.some((e) => e & POLLIN), { timeout: 1000 });
  assert.ok(events.some((e) => e & POLLIN));
  assert.equal(reentered, false);
});

test('IPv6 and dual-stack: a v6 socket talks to a v4 peer through a v4-mapped address', () => {
  const { world, ta, tb } = twoStacks();
  const l = tb.socket(6);
  l.bind('::', 80);
  l.listen(8);
  const c = ta.socket(4);
  try {
    c.connect('198.18.0.2', 80);
  } catch {}
  world.runUntil(() => (l.poll() & POLLIN) !== 0, { timeout: 1000 });
  const s = l.accept();
  assert.equal(s.getpeername().address, '::ffff:198.18.0.1');
  c.send(new Uint8Array([1, 2, 3]));
  world.runUntil(() => s.recvQueue === 3, { timeout: 1000 });
  assert.deepEqual([...s.recv()], [1, 2, 3]);
});

test('connect again after a refused attempt starts a new handshake on the same socket', () => {
  const h = new Harness();
  const c = h.socket();
  try {
    c.connect('198.18.0.2', 5555);
  } catch {}
  const syn = h.one();
  h.inject({ flags: 'R.', sport: 5555, dport: syn.sport, seq: 0, ack: syn.seq + 1 });
  assert.throws(
    () => c.connect('198.18.0.2', 5555),
    (e) => isSysError(e, 'ECONNREFUSED'),
  );
  assert.throws(
    () => c.connect('198.18.0.2', 5556),
    (e) => isSysError(e, 'EINPROGRESS'),
  );
  const syn2 = h.one();
  assert.equal(syn2.flags, 'S');
  assert.equal(syn2.dport, 5556);
  assert.equal(c.state, 'SYN_SENT');
});

test('a dual-stack listener accepts an IPv4 peer as an AF_INET6 connection with v4-mapped addresses, also in TIME_WAIT', () => {
  const h = new Harness();
  const l = h.tcp.socket(6);
  l.bind('::', 80);
  l.listen(5);
  h.inject({ flags: 'S', seq: 1000, mss: 1460 });
  const sa = h.one();
  // on the wire it is IPv4, MSS as for IPv4
  assert.equal(sa.mss, 1460);
  h.inject({ flags: '.', seq: 1001, ack: sa.seq + 1 });
  const s = l.accept();
  assert.deepEqual(s.getsockname(), { address: `::ffff:${LOCAL}`, port: 80, family: 'IPv6' });
  assert.deepEqual(s.getpeername(), { address: `::ffff:${PEER}`, port: 40000, family: 'IPv6' });
  assert.equal(s.t.family, 6);
  const row = (state: string) => {
    const r = h.tcp.list().find((x) => x.state === state);
    assert.ok(r, state);
    return { family: r.family, laddr: formatAddr(r.laddr as IpAddr), raddr: formatAddr(r.raddr as IpAddr) };
  };
  const mapped = { family: 6, laddr: `::ffff:${LOCAL}`, raddr: `::ffff:${PEER}` };
  assert.deepEqual(row('ESTAB'), mapped);
  // it closes first and ends in TIME_WAIT: still an IPv6 entry
  s.close();
  const fin = h.one();
  assert.equal(fin.flags, 'F.');
  h.inject({ flags: 'F.', seq: 1001, ack: fin.seq + 1 });
  assert.equal(h.one().flags, '.');
  assert.deepEqual(row('TIME-WAIT'), mapped);
});

test('a SYN-cookie connection of a dual-stack listener from an IPv4 peer is AF_INET6 with v4-mapped addresses too', () => {
  const h = new Harness();
  const l = h.tcp.socket(6);
  l.bind('::', 80);
  l.listen(0); // backlog 0: one request fits the SYN queue, the next SYN gets a cookie
  h.inject({ flags: 'S', sport: 40009, seq: 5000 });
  h.one();
  h.inject({ flags: 'S', seq: 1000, mss: 1460, ts: [555, 0] });
  const sa = h.one();
  assert.equal(h.counter('TcpExtSyncookiesSent'), 1);
  h.inject({ flags: '.', seq: 1001, ack: sa.seq + 1, ts: [556, sa.tsVal] });
  assert.equal(h.counter('TcpExtSyncookiesRecv'), 1);
  const s = l.accept();
  assert.equal(s.t.family, 6);
  assert.deepEqual(s.getpeername(), { address: `::ffff:${PEER}`, port: 40000, family: 'IPv6' });
  const r = h.tcp.list().find((x) => x.state === 'ESTAB');
  assert.equal(r?.family, 6);
  assert.equal(formatAddr(r?.laddr as IpAddr), `::ffff:${LOCAL}`);
});

test('IP_TOS sets the DSCP bits of IPv4 segments, IP_MTU_DISCOVER DONT clears DF; accepted sockets inherit both', () => {
  const h = new Harness();
  const l = h.socket();
  assert.equal(l.getsockopt('IP_TOS'), 0);
  assert.equal(l.getsockopt('IP_MTU_DISCOVER'), 1); // IP_PMTUDISC_WANT
  l.setsockopt('IP_TOS', 0x23);
  assert.equal(l.getsockopt('IP_TOS'), 0x20); // the ECN bits stay TCP's (Linux, checked on 6.18)
  assert.throws(
    () => l.setsockopt('IP_MTU_DISCOVER', 6),
    (e) => isSysError(e, 'EINVAL'),
  );
  l.bind(LOCAL, 80);
  l.listen(5);
  // IPv4 header: byte 1 is the TOS, DF is 0x40 in byte 6
  const last = () => h.link.frames[h.link.frames.length - 1];
  h.inject({ flags: 'S', seq: 1000, mss: 1460 });
  assert.equal(last()[1], 0x20);
  assert.equal(last()[6] & 0x40, 0x40);
  const sa = h.one();
  h.inject({ flags: '.', seq: 1001, ack: sa.seq + 1 });
  const s = l.accept();
  assert.equal(s.getsockopt('IP_TOS'), 0x20);
  s.setsockopt('IP_TOS', 0x10);
  s.setsockopt('IP_MTU_DISCOVER', 0); // IP_PMTUDISC_DONT
  s.send(new Uint8Array(100));
  assert.equal(last()[1], 0x10);
  assert.equal(last()[6] & 0x40, 0);
  // a RST sent for no socket is unaffected: DF, TOS 0
  h.inject({ flags: '.', sport: 40009, seq: 5, ack: 77 });
  assert.equal(last()[1], 0);
  assert.equal(last()[6] & 0x40, 0x40);
});

test('connect() answers EINPROGRESS with one shared SysError; EALREADY and EAGAIN are built per call; a bad address is still EINVAL', () => {
  const h = new Harness();
  const caught = (f: () => void): unknown => {
    try {
      f();
    } catch (e) {
      return e;
    }
    return null;
  };
  const a = h.socket();
  const b = h.socket();
  const ea = caught(() => a.connect('198.18.0.2', 5555));
  const eb = caught(() => b.connect('198.18.0.2', 5556));
  assert.ok(isSysError(ea, 'EINPROGRESS') && isSysError(eb, 'EINPROGRESS'));
  assert.equal(ea, eb);
  assert.ok(ea instanceof Error);
  assert.equal((ea as { syscall: string }).syscall, 'connect');
  assert.equal((ea as { errno: number }).errno, 115);
  // Both SYNs left, to their own ports.
  assert.deepEqual(
    h.take().map((s) => s.dport),
    [5555, 5556],
  );
  const e1 = caught(() => a.connect('198.18.0.2', 5555));
  const e2 = caught(() => a.connect('198.18.0.2', 5555));
  assert.ok(isSysError(e1, 'EALREADY') && isSysError(e2, 'EALREADY'));
  assert.notEqual(e1, e2);
  assert.ok(
    isSysError(
      caught(() => h.socket().connect('198.18.0.256', 80)),
      'EINVAL',
    ),
  );
});

test('TCP_INQ: 0/1 only, inherited by accepted sockets; inqHint() is what is left to read, plus one once the FIN is in', () => {
  const h = new Harness();
  const l = h.socket();
  assert.throws(
    () => l.setsockopt('TCP_INQ', 2),
    (e) => isSysError(e, 'EINVAL'),
  );
  l.setsockopt('TCP_INQ', 1);
  l.bind(LOCAL, 80);
  l.listen(5);
  h.inject({ flags: 'S', seq: 1000, mss: 1460 });
  const sa = h.one();
  h.inject({ flags: '.', seq: 1001, ack: sa.seq + 1 });
  const s = l.accept();
  assert.equal(s.getsockopt('TCP_INQ'), 1);
  h.inject({ flags: 'P.', seq: 1001, ack: sa.seq + 1, payload: 300 });
  assert.equal(s.inqHint(), 300);
  s.recvInto(new Uint8Array(100));
  assert.equal(s.inqHint(), 200);
  h.inject({ flags: 'F.', seq: 1301, ack: sa.seq + 1 });
  assert.equal(s.inqHint(), 201);
  s.recvInto(new Uint8Array(200));
  assert.equal(s.inqHint(), 1);
  assert.equal(s.recvInto(new Uint8Array(10)), 0);
  assert.equal(s.inqHint(), 1);
});
