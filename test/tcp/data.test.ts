import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSysError } from '../../src/errno.js';
import { establishPassive, Harness } from './harness.js';

test('delayed ACK: quick-ACKs at the start, then the 40 ms delayed ACK', () => {
  const h = new Harness();
  const e = establishPassive(h);
  let seq = e.peerSeq;
  const delays: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = h.now;
    h.inject({ flags: 'P.', seq, ack: e.iss + 1, payload: 100 });
    seq += 100;
    e.s.recv();
    h.advance(100);
    const acks = h.take();
    assert.equal(acks.length, 1);
    assert.equal(acks[0].ack, seq);
    delays.push(acks[0].time - t0);
  }
  // 16 quick ACKs (min(rcv_wnd / (2 * rcv_mss), 16)), then ACKs delayed by ato = 40 ms.
  assert.deepEqual(delays.slice(0, 16), new Array(16).fill(0));
  assert.deepEqual(delays.slice(16), [40, 40, 40, 40]);
  assert.equal(h.counter('TcpExtDelayedACKs'), 4);
});

test('two full-sized segments are ACKed at once (more than one MSS unacknowledged)', () => {
  const h = new Harness();
  const e = establishPassive(h);
  let seq = e.peerSeq;
  for (let i = 0; i < 30; i++) {
    h.inject({ flags: '.', seq, ack: e.iss + 1, payload: 1460 });
    seq += 1460;
    e.s.recv();
    h.advance(1);
  }
  const acks = h.take();
  // Every second full segment is ACKed, or more often.
  assert.ok(acks.length >= 15, `acks ${acks.length}`);
  assert.equal(acks[acks.length - 1].ack >= seq - 1460, true);
});

test('out-of-order data: immediate duplicate ACK with SACK block; the hole filled delivers in order', () => {
  const h = new Harness();
  const e = establishPassive(h);
  const seq = e.peerSeq;
  h.inject({ flags: 'P.', seq: seq + 100, ack: e.iss + 1, payload: new Uint8Array(100).fill(2) });
  const d = h.one();
  assert.equal(d.ack, seq);
  assert.deepEqual(d.sack, [seq + 100, seq + 200]);
  assert.equal(e.s.recvQueue, 0);
  h.inject({ flags: 'P.', seq, ack: e.iss + 1, payload: new Uint8Array(100).fill(1) });
  const a = h.one();
  assert.equal(a.ack, seq + 200);
  assert.deepEqual(a.sack, []);
  const got = e.s.recv();
  assert.equal(got.length, 200);
  assert.equal(got[0], 1);
  assert.equal(got[199], 2);
  assert.equal(h.counter('TcpExtTCPOFOQueue'), 1);
});

test('out-of-order memory is bounded whatever the peer sends', () => {
  const h = new Harness();
  const e = establishPassive(h);
  for (let i = 0; i < 500; i++) {
    h.inject({ flags: '.', seq: e.peerSeq + 10 + i * 20, ack: e.iss + 1, payload: 5 });
  }
  const t = e.s.t;
  assert.ok(t.rcv.oooCount <= 32);
  assert.ok(t.rcv.capacity <= 262144);
  assert.ok(h.counter('TcpExtTCPOFODrop') > 0);
  // Data far beyond the window is not stored.
  h.inject({ flags: '.', seq: e.peerSeq + 10_000_000, ack: e.iss + 1, payload: 100 });
  assert.ok(t.rcv.capacity <= 262144);
});

test('Nagle: a second small write waits for the ACK of the first; TCP_NODELAY sends at once', () => {
  const h = new Harness();
  const e = establishPassive(h);
  e.s.send(new Uint8Array(10));
  const a = h.one();
  assert.equal(a.len, 10);
  e.s.send(new Uint8Array(10));
  assert.equal(h.take().length, 0);
  h.inject({ flags: '.', seq: e.peerSeq, ack: e.iss + 11 });
  const b = h.one();
  assert.equal(b.len, 10);
  assert.equal(b.seq, e.iss + 11);
  e.s.setsockopt('TCP_NODELAY', 1);
  e.s.send(new Uint8Array(10));
  assert.equal(h.one().len, 10);
});

test('TCP_CORK holds partial segments until uncorked; full segments go', () => {
  const h = new Harness();
  const e = establishPassive(h);
  e.s.setsockopt('TCP_CORK', 1);
  e.s.send(new Uint8Array(100));
  assert.equal(h.take().length, 0);
  e.s.send(new Uint8Array(1500));
  const segs = h.take();
  assert.equal(segs.length, 1);
  assert.equal(segs[0].len, 1460);
  e.s.setsockopt('TCP_CORK', 0);
  assert.equal(h.one().len, 140);
});

test('a window smaller than a segment: nothing until the persist timer sends what fits (Linux tcp_write_wakeup)', () => {
  const h = new Harness();
  const e = establishPassive(h, { win: 10 }); // 10 << 7 = 1280 bytes < MSS 1460
  e.s.setsockopt('TCP_NODELAY', 1);
  e.s.send(new Uint8Array(5000));
  assert.equal(h.take().length, 0);
  const p = h.nextSegment(5000);
  assert.ok(p !== null);
  assert.equal(p.len, 1280);
  assert.equal(p.seq, e.iss + 1);
  // A full window opening sends full segments.
  h.inject({ flags: '.', seq: e.peerSeq, ack: e.iss + 1281, win: 500 });
  const segs = h.take();
  assert.ok(segs.length >= 2);
  assert.ok(segs.every((s) => s.len === 1460 || s.seq + s.len === e.iss + 5001));
});

test('zero window: persist timer probes with bare ACKs at snd_una - 1, backing off', () => {
  const h = new Harness();
  const e = establishPassive(h, { win: 0 });
  e.s.send(new Uint8Array(100));
  assert.equal(h.take().length, 0);
  const p1 = h.nextSegment(10_000) as never as { seq: number; len: number; flags: string; time: number };
  assert.equal(p1.flags, '.');
  assert.equal(p1.len, 0);
  assert.equal(p1.seq, e.iss); // snd_una - 1
  const p2 = h.nextSegment(10_000) as never as { time: number };
  const p3 = h.nextSegment(10_000) as never as { time: number };
  assert.ok(p3.time - p2.time > p2.time - p1.time, 'backoff');
  assert.ok(h.counter('TcpExtTCPWinProbe') >= 3);
  // The window opens: data flows.
  h.inject({ flags: '.', seq: e.peerSeq, ack: e.iss + 1, win: 100 });
  const d = h.one();
  assert.equal(d.len, 100);
  assert.equal(d.seq, e.iss + 1);
});

test('receiver SWS avoidance: the advertised window closes to 0 rather than a sliver, reopens after reading', () => {
  const h = new Harness();
  const l = h.socket();
  l.setsockopt('SO_RCVBUF', 4096); // rcvbuf 8192: a window of at most 4096
  l.bind('198.18.0.1', 80);
  l.listen(5);
  h.inject({ flags: 'S', seq: 1000, win: 64240, mss: 1460 });
  const sa = h.one();
  assert.equal(sa.win, 2920); // 4096 rounded down to the MSS
  h.inject({ flags: '.', seq: 1001, ack: sa.seq + 1, win: 65535 });
  const s = l.accept();
  const t = s.t;
  const edges: number[] = [];
  let lastWin = -1;
  for (let i = 0; i < 50 && (t.rcvWup + t.rcvWnd - t.rcvNxt) | 0; i++) {
    const room = (t.rcvWup + t.rcvWnd - t.rcvNxt) | 0;
    h.inject({ flags: '.', seq: t.rcvNxt, ack: sa.seq + 1, payload: Math.min(300, room) });
    h.advance(300);
    for (const a of h.take()) {
      edges.push(a.ack + a.win);
      lastWin = a.win;
    }
  }
  assert.equal(lastWin, 0);
  // The right edge never moves back (no window shrinking, tcp_shrink_window = 0).
  for (let i = 1; i < edges.length; i++) assert.ok(edges[i] >= edges[i - 1]);
  s.recv();
  const up = h.one();
  assert.ok(up.win > 0);
});

test('retransmission timeout: the head is resent after the RTO, then with doubling; ETIMEDOUT without RST after tcp_retries2', () => {
  const h = new Harness({ sysctl: { 'net.ipv4.tcp_retries2': 3 } });
  const e = establishPassive(h);
  e.s.send(new Uint8Array(100));
  const first = h.one();
  const times: number[] = [];
  for (;;) {
    const s = h.nextSegment(1_000_000);
    if (s === null) break;
    assert.equal(s.seq, first.seq);
    assert.notEqual(s.flags.includes('R'), true);
    times.push(s.time);
  }
  // A tail-loss probe first (2·SRTT + rto_min, capped by the RTO: 200 ms), then
  // the RTO (200 ms) doubling; the model time of tcp_retries2 = 3 (3 s) ends it.
  assert.deepEqual(
    times.map((x) => x - first.time),
    [200, 400, 800, 1600],
  );
  assert.equal(h.counter('TcpExtTCPLossProbes'), 1);
  assert.equal(e.s.state, 'CLOSED');
  assert.throws(
    () => e.s.recv(),
    (x) => isSysError(x, 'ETIMEDOUT'),
  );
  assert.ok(h.counter('TcpRetransSegs') >= 2);
  assert.ok(h.counter('TcpExtTCPTimeouts') >= 2);
});

test('TCP_USER_TIMEOUT ends a connection whose data is not acknowledged', () => {
  const h = new Harness();
  const e = establishPassive(h);
  e.s.setsockopt('TCP_USER_TIMEOUT', 5000);
  e.s.send(new Uint8Array(100));
  h.take();
  h.advance(4999);
  assert.equal(e.s.state, 'ESTABLISHED');
  h.advance(2);
  assert.equal(e.s.state, 'CLOSED');
  assert.equal(e.s.getsockopt('SO_ERROR'), 110);
});

test('fast retransmit after three duplicate ACKs (NewReno), or three SACKs', () => {
  for (const sack of [false, true]) {
    const h = new Harness();
    const e = establishPassive(h, { sack });
    e.s.send(new Uint8Array(1460 * 6));
    const segs = h.take();
    assert.equal(segs.length, 6);
    const una = e.iss + 1;
    for (let i = 1; i <= 3; i++) {
      // With SACK only SACKed segments count (Linux sacked_out): each ACK reports one more.
      const blocks = sack ? [(una + 1460) >>> 0, (una + 1460 * (i + 1)) >>> 0] : undefined;
      h.inject({ flags: '.', seq: e.peerSeq, ack: una, sack: blocks });
    }
    const r = h.take();
    assert.ok(
      r.some((s) => s.seq === una && s.len === 1460),
      'fast retransmit of the head',
    );
    // Linux counts the episode as TCPSackRecovery or TCPRenoRecovery (tcp_enter_recovery).
    assert.equal(h.counter('TcpExtTCPSackRecovery'), sack ? 1 : 0);
    assert.equal(h.counter('TcpExtTCPRenoRecovery'), sack ? 0 : 1);
  }
});

test('keepalive: probes at snd_una - 1 after TCP_KEEPIDLE, every TCP_KEEPINTVL; RST and ETIMEDOUT after TCP_KEEPCNT', () => {
  const h = new Harness();
  const e = establishPassive(h);
  e.s.setsockopt('SO_KEEPALIVE', 1);
  e.s.setsockopt('TCP_KEEPIDLE', 10);
  e.s.setsockopt('TCP_KEEPINTVL', 2);
  e.s.setsockopt('TCP_KEEPCNT', 3);
  const t0 = h.now;
  const p1 = h.nextSegment(20_000) as never as { seq: number; len: number; time: number };
  assert.equal(p1.seq, e.iss);
  assert.equal(p1.len, 0);
  assert.equal(p1.time - t0, 10_000);
  // An answer resets the count.
  h.inject({ flags: '.', seq: e.peerSeq, ack: e.iss + 1 });
  const p2 = h.nextSegment(20_000) as never as { time: number };
  assert.equal(p2.time - p1.time, 10_000);
  const p3 = h.nextSegment(20_000) as never as { time: number };
  assert.equal(p3.time - p2.time, 2000);
  h.nextSegment(20_000);
  const rst = h.nextSegment(20_000) as never as { flags: string };
  assert.equal(rst.flags, 'R.');
  assert.equal(e.s.getsockopt('SO_ERROR'), 110);
});

test('send buffer fills: a partial count, then EAGAIN; POLLOUT returns as data is acknowledged', () => {
  const h = new Harness();
  const e = establishPassive(h, { win: 0 });
  const big = new Uint8Array(10_000_000);
  const n = e.s.send(big);
  assert.ok(n > 0 && n < big.length);
  assert.throws(
    () => e.s.send(big),
    (x) => isSysError(x, 'EAGAIN'),
  );
  assert.equal(e.s.poll() & 4, 0);
});
