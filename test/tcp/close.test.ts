import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSysError } from '../../src/errno.js';
import { POLLHUP, POLLIN, POLLRDHUP } from '../../src/socket/poll.js';
import { establishPassive, Harness, twoStacks } from './harness.js';

test('active close: FIN_WAIT1 → FIN_WAIT2 → TIME_WAIT (handed to the TIME_WAIT table)', () => {
  const h = new Harness();
  const e = establishPassive(h);
  e.s.close();
  const fin = h.one();
  assert.equal(fin.flags, 'F.');
  assert.equal(fin.seq, e.iss + 1);
  h.inject({ flags: '.', seq: e.peerSeq, ack: e.iss + 2 });
  // Orphaned FIN_WAIT2 is handed over as a table entry.
  let rows = h.tcp.list().filter((r) => r.lport === 80 && r.rport === 40000);
  assert.deepEqual(
    rows.map((r) => r.state),
    ['FIN-WAIT-2'],
  );
  h.inject({ flags: 'F.', seq: e.peerSeq, ack: e.iss + 2 });
  const ack = h.one();
  assert.equal(ack.flags, '.');
  assert.equal(ack.ack, e.peerSeq + 1);
  rows = h.tcp.list().filter((r) => r.rport === 40000);
  assert.deepEqual(
    rows.map((r) => r.state),
    ['TIME-WAIT'],
  );
  h.advance(61_000);
  assert.equal(h.tcp.list().filter((r) => r.rport === 40000).length, 0);
});

test('a FIN right after the handshake is ACKed at once (ato still 0, as Linux)', () => {
  const h = new Harness();
  const e = establishPassive(h);
  h.inject({ flags: 'F.', seq: e.peerSeq, ack: e.iss + 1 });
  const a = h.nextSegment(1000) as never as { ack: number; time: number };
  assert.equal(a.ack, e.peerSeq + 1);
  assert.equal(a.time, h.now);
  assert.equal(e.s.state, 'CLOSE_WAIT');
});

test('passive close: CLOSE_WAIT, the ACK of a FIN after data is delayed, then LAST_ACK → CLOSED', () => {
  const h = new Harness();
  const e = establishPassive(h);
  h.inject({ flags: 'P.', seq: e.peerSeq, ack: e.iss + 1, payload: 10 });
  e.s.recv();
  h.take();
  e.peerSeq += 10;
  const t0 = h.now;
  h.inject({ flags: 'F.', seq: e.peerSeq, ack: e.iss + 1 });
  assert.equal(e.s.state, 'CLOSE_WAIT');
  assert.equal(h.take().length, 0);
  const a = h.nextSegment(1000) as never as { flags: string; ack: number; time: number };
  assert.equal(a.flags, '.');
  assert.equal(a.ack, e.peerSeq + 1);
  assert.equal(a.time - t0, 40);
  assert.ok(e.s.poll() & POLLRDHUP);
  assert.equal(e.s.recv().length, 0);
  e.s.close();
  const fin = h.one();
  assert.equal(fin.flags, 'F.');
  h.inject({ flags: '.', seq: e.peerSeq + 1, ack: e.iss + 2 });
  assert.equal(h.tcp.list().filter((r) => r.rport === 40000).length, 0);
});

test('simultaneous close: FIN_WAIT1 + FIN → CLOSING, ACK → TIME_WAIT', () => {
  const h = new Harness();
  const e = establishPassive(h);
  e.s.shutdown(1);
  const fin = h.one();
  assert.equal(e.s.state, 'FIN_WAIT1');
  h.inject({ flags: 'F.', seq: e.peerSeq, ack: e.iss + 1 });
  const a = h.one();
  assert.equal(a.ack, e.peerSeq + 1);
  assert.equal(e.s.state, 'CLOSING');
  h.inject({ flags: '.', seq: e.peerSeq + 1, ack: fin.seq + 1 });
  assert.equal(e.s.state, 'CLOSED');
  assert.deepEqual(
    h.tcp
      .list()
      .filter((r) => r.rport === 40000)
      .map((r) => r.state),
    ['TIME-WAIT'],
  );
});

test('half-close: after SHUT_WR we still receive data; send gives EPIPE', () => {
  const h = new Harness();
  const e = establishPassive(h);
  e.s.shutdown(1);
  h.one();
  h.inject({ flags: '.', seq: e.peerSeq, ack: e.iss + 2 });
  assert.equal(e.s.state, 'FIN_WAIT2');
  h.inject({ flags: 'P.', seq: e.peerSeq, ack: e.iss + 2, payload: 50 });
  assert.equal(e.s.recv().length, 50);
  assert.throws(
    () => e.s.send(new Uint8Array(1)),
    (x) => isSysError(x, 'EPIPE'),
  );
  // A non-orphaned FIN_WAIT2 has no timer (Linux): still there a long time later.
  h.advance(200_000);
  assert.equal(e.s.state, 'FIN_WAIT2');
});

test('close() with unread data sends RST instead of FIN', () => {
  const h = new Harness();
  const e = establishPassive(h);
  h.inject({ flags: 'P.', seq: e.peerSeq, ack: e.iss + 1, payload: 10 });
  h.take();
  e.s.close();
  const r = h.one();
  assert.equal(r.flags, 'R.');
  assert.equal(r.seq, e.iss + 1);
  assert.equal(h.counter('TcpExtTCPAbortOnClose'), 1);
  assert.equal(h.tcp.list().filter((x) => x.rport === 40000).length, 0);
});

test('close() with queued data sends the data, then FIN', () => {
  const h = new Harness();
  const e = establishPassive(h, { win: 0 });
  e.s.send(new Uint8Array(3000));
  e.s.close();
  assert.equal(h.take().length, 0);
  h.inject({ flags: '.', seq: e.peerSeq, ack: e.iss + 1, win: 1000 });
  const segs = h.take();
  const total = segs.reduce((n, s) => n + s.len, 0);
  assert.equal(segs[segs.length - 1].flags.includes('F'), true);
  assert.equal(total, 3000);
});

test('SO_LINGER 0: close() aborts with RST', () => {
  const h = new Harness();
  const e = establishPassive(h);
  e.s.setsockopt('SO_LINGER', { onoff: 1, linger: 0 });
  e.s.send(new Uint8Array(10));
  h.take();
  e.s.close();
  const r = h.one();
  assert.equal(r.flags, 'R.');
  assert.equal(r.seq, e.iss + 11);
});

test('orphaned FIN_WAIT2 ends after tcp_fin_timeout', () => {
  const h = new Harness({ sysctl: { 'net.ipv4.tcp_fin_timeout': 10 } });
  const e = establishPassive(h);
  e.s.close();
  h.one();
  h.inject({ flags: '.', seq: e.peerSeq, ack: e.iss + 2 });
  assert.equal(h.tcp.list().filter((r) => r.rport === 40000).length, 1);
  h.advance(9_000);
  assert.equal(h.tcp.list().filter((r) => r.rport === 40000).length, 1);
  h.advance(2_000);
  assert.equal(h.tcp.list().filter((r) => r.rport === 40000).length, 0);
});

test('new data to an orphan gets RST', () => {
  const h = new Harness();
  const e = establishPassive(h);
  e.s.close();
  h.one();
  h.inject({ flags: 'P.', seq: e.peerSeq, ack: e.iss + 1, payload: 10 });
  const r = h.one();
  assert.equal(r.flags, 'R.');
});

test('RST in ESTABLISHED: ECONNRESET once, then end of stream; EPIPE on send; TcpEstabResets', () => {
  const h = new Harness();
  const e = establishPassive(h);
  h.inject({ flags: 'R', seq: e.peerSeq });
  assert.equal(e.s.state, 'CLOSED');
  assert.ok(e.s.poll() & POLLHUP);
  assert.ok(e.s.poll() & POLLIN);
  assert.throws(
    () => e.s.recv(),
    (x) => isSysError(x, 'ECONNRESET'),
  );
  assert.equal(e.s.recv().length, 0);
  assert.throws(
    () => e.s.send(new Uint8Array(1)),
    (x) => isSysError(x, 'EPIPE'),
  );
  assert.equal(h.counter('TcpEstabResets'), 1);
  assert.equal(h.counter('TcpCurrEstab'), 0);
});

test('end to end: both sides close at once between two stacks', () => {
  const { world, ta, tb } = twoStacks();
  const l = tb.socket(4);
  l.bind('198.18.0.2', 80);
  l.listen(8);
  const c = ta.socket(4);
  try {
    c.connect('198.18.0.2', 80);
  } catch {}
  world.runUntil(() => (l.poll() & POLLIN) !== 0, { timeout: 1000 });
  const s = l.accept();
  c.close();
  s.close();
  world.run({ until: world.now + 100 });
  // Both end in TIME_WAIT (simultaneous close through CLOSING).
  assert.deepEqual(
    ta.list().map((r) => r.state),
    ['TIME-WAIT'],
  );
  assert.deepEqual(
    tb
      .list()
      .filter((r) => r.state !== 'LISTEN')
      .map((r) => r.state),
    ['TIME-WAIT'],
  );
});

test('an orphan in FIN_WAIT1 answered by FIN|ACK: the FIN is ACKed at once and TIME_WAIT follows', () => {
  const h = new Harness();
  const e = establishPassive(h);
  e.s.close();
  const fin = h.one();
  h.inject({ flags: 'F.', seq: e.peerSeq, ack: fin.seq + 1 });
  const a = h.one();
  assert.equal(a.flags, '.');
  assert.equal(a.ack, e.peerSeq + 1);
  assert.deepEqual(
    h.tcp
      .list()
      .filter((r) => r.rport === 40000)
      .map((r) => r.state),
    ['TIME-WAIT'],
  );
});
