import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSysError } from '../../src/errno.js';
import { POLLIN } from '../../src/socket/poll.js';
import { Harness, LOCAL } from './harness.js';

function listener(h: Harness, backlog: number) {
  const l = h.socket();
  l.bind(LOCAL, 80);
  l.listen(backlog);
  return l;
}

/** Complete a handshake from peer port `p`; returns our SYN-ACK. */
function handshake(h: Harness, p: number) {
  h.inject({ flags: 'S', sport: p, seq: 1000, mss: 1460 });
  const sa = h.take().find((s) => s.dport === p && s.flags === 'S.');
  if (sa !== undefined) h.inject({ flags: '.', sport: p, seq: 1001, ack: sa.seq + 1 });
  return sa;
}

test('the accept queue holds backlog + 1; a SYN beyond that gets no answer (ListenOverflows, ListenDrops)', () => {
  const h = new Harness();
  const l = listener(h, 2);
  for (let p = 1; p <= 3; p++) assert.ok(handshake(h, 40000 + p));
  assert.ok(l.poll() & POLLIN);
  h.take();
  h.inject({ flags: 'S', sport: 40010, seq: 1000 });
  assert.equal(h.take().length, 0);
  assert.equal(h.counter('TcpExtListenOverflows'), 1);
  assert.equal(h.counter('TcpExtListenDrops'), 1);
  const got = [l.accept(), l.accept(), l.accept()];
  assert.equal(got.length, 3);
  assert.throws(
    () => l.accept(),
    (e) => isSysError(e, 'EAGAIN'),
  );
});

test('tcp_abort_on_overflow = 0: the final ACK is dropped and the SYN-ACK retransmitted; accepted later', () => {
  const h = new Harness();
  const l = listener(h, 0); // the accept queue holds 1
  const seen = handshake(h, 40001); // fills the accept queue (a cookie connection: SYN queue 0)
  assert.ok(seen);
  h.take();
  // A second connection while the queue is full: its SYN is dropped outright.
  h.inject({ flags: 'S', sport: 40002, seq: 5000 });
  assert.equal(h.take().length, 0);
  assert.ok(l.accept());
});

test('tcp_abort_on_overflow: a full accept queue at the final ACK (0: dropped, SYN-ACK resent; 1: RST)', () => {
  for (const abort of [0, 1]) {
    const h = new Harness({ sysctl: { 'net.ipv4.tcp_abort_on_overflow': abort } });
    const l = listener(h, 2); // accept queue holds 3, SYN queue 2
    const sa: Record<string, number> = {};
    const syn = (p: number) => {
      h.inject({ flags: 'S', sport: p, seq: 1000 });
      const x = h.take().find((s) => s.flags === 'S.' && s.dport === p);
      assert.ok(x, `SYN-ACK for ${p}`);
      sa[p] = x.seq;
    };
    const ack = (p: number) => h.inject({ flags: '.', sport: p, seq: 1001, ack: sa[p] + 1 });
    syn(1);
    syn(2);
    ack(1);
    syn(3);
    ack(2);
    syn(4);
    ack(3);
    h.take();
    ack(4); // the accept queue already holds 3
    const out = h.take();
    assert.equal(h.counter('TcpExtListenOverflows'), 1);
    if (abort) {
      assert.equal(out.length, 1);
      assert.equal(out[0].flags, 'R.');
      assert.equal(out[0].dport, 4);
    } else {
      assert.equal(out.length, 0);
      for (let i = 0; i < 3; i++) l.accept();
      // The SYN-ACK is retransmitted; the peer's ACK for it completes the connection.
      const r = h.nextSegment(5000);
      assert.ok(r !== null && r.flags === 'S.' && r.dport === 4);
      ack(4);
      assert.equal(l.accept().state, 'ESTABLISHED');
    }
  }
});

test('backlog 0 with tcp_syncookies = 1: the SYN queue holds one request, the next SYN gets a cookie; its ACK completes the connection', () => {
  const h = new Harness();
  const l = listener(h, 0);
  // Linux 6.x: the SYN queue is full only past the backlog, so one request is kept.
  h.inject({ flags: 'S', sport: 40009, seq: 5000 });
  assert.equal(h.one().flags, 'S.');
  assert.equal(h.counter('TcpExtSyncookiesSent'), 0);
  assert.equal(h.tcp.list().length, 2);
  h.inject({ flags: 'S', sport: 40001, seq: 1000, mss: 1460, wscale: 7, sackOk: true, ts: [555, 0] });
  const sa = h.one();
  assert.equal(sa.flags, 'S.');
  assert.equal(h.counter('TcpExtSyncookiesSent'), 1);
  // No state kept for the cookie: the listener and the first request only.
  assert.equal(h.tcp.list().length, 2);
  h.inject({ flags: '.', sport: 40001, seq: 1001, ack: sa.seq + 1, ts: [556, sa.tsVal] });
  assert.equal(h.counter('TcpExtSyncookiesRecv'), 1);
  const s = l.accept();
  assert.equal(s.state, 'ESTABLISHED');
  const info = s.info();
  assert.equal(info.tcpi_options, 7); // timestamps, SACK and wscale survived in the cookie timestamp
  assert.equal(info.tcpi_snd_wscale, 7);
  // A forged cookie ACK gets a RST and counts SyncookiesFailed.
  h.inject({ flags: '.', sport: 40002, seq: 77, ack: 12345 });
  assert.equal(h.one().flags, 'R');
  assert.equal(h.counter('TcpExtSyncookiesFailed'), 1);
});

test('SYN-ACK retransmission doubles from 1 s; the child is dropped after tcp_synack_retries', () => {
  const h = new Harness();
  listener(h, 5);
  h.inject({ flags: 'S', sport: 40001, seq: 1000 });
  const t0 = h.one().time;
  const times: number[] = [];
  for (;;) {
    const s = h.nextSegment(200_000);
    if (s === null) break;
    assert.equal(s.flags, 'S.');
    times.push(s.time - t0);
  }
  assert.deepEqual(times, [1000, 3000, 7000, 15000, 31000]);
  assert.equal(h.tcp.list().length, 1);
});

test('a retransmitted SYN gets the SYN-ACK again', () => {
  const h = new Harness();
  listener(h, 5);
  h.inject({ flags: 'S', sport: 40001, seq: 1000 });
  const a = h.one();
  h.inject({ flags: 'S', sport: 40001, seq: 1000 });
  const b = h.one();
  assert.equal(b.flags, 'S.');
  assert.equal(b.seq, a.seq);
});

test('RST to an embryonic connection removes it silently', () => {
  const h = new Harness();
  listener(h, 5);
  h.inject({ flags: 'S', sport: 40001, seq: 1000 });
  h.one();
  h.inject({ flags: 'R', sport: 40001, seq: 1001 });
  assert.equal(h.take().length, 0);
  assert.equal(h.tcp.list().length, 1);
});

test('closing a listener resets queued connections', () => {
  const h = new Harness();
  const l = listener(h, 5);
  handshake(h, 40001);
  h.take();
  l.close();
  const r = h.one();
  assert.equal(r.flags, 'R.');
  assert.equal(h.tcp.list().length, 0);
});

test('listen errors: EINVAL after connect, EADDRINUSE next to another listener', () => {
  const h = new Harness();
  listener(h, 5);
  const b = h.socket();
  b.bind(LOCAL, 81);
  b.listen(1);
  const c = h.socket();
  assert.throws(
    () => c.bind(LOCAL, 80),
    (e) => isSysError(e, 'EADDRINUSE'),
  );
});

test('a queued connection reset before accept() is still returned; its first read reports ECONNRESET', () => {
  const h = new Harness();
  const l = listener(h, 5);
  const sa = handshake(h, 40001);
  assert.ok(sa);
  h.inject({ flags: 'R', sport: 40001, seq: 1001 });
  const s = l.accept();
  assert.equal(s.state, 'CLOSED');
  assert.throws(
    () => s.recv(),
    (e) => isSysError(e, 'ECONNRESET'),
  );
  assert.equal(s.recv().length, 0);
});
