import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSysError } from '../../src/errno.js';
import { POLLERR, POLLOUT } from '../../src/socket/poll.js';
import { establishPassive, Harness, LOCAL, PEER } from './harness.js';

function connecting(h: Harness) {
  const c = h.socket();
  assert.throws(
    () => c.connect(PEER, 5555),
    (e) => isSysError(e, 'EINPROGRESS'),
  );
  return c;
}

test('active open: SYN carries MSS, SACK-permitted, timestamps, wscale in Linux order; window 64240', () => {
  const h = new Harness();
  const c = connecting(h);
  const syn = h.one();
  assert.equal(syn.flags, 'S');
  assert.equal(syn.mss, 1460);
  assert.equal(syn.win, 64240);
  assert.equal(syn.wscale, 10); // ilog2(max(tcp_rmem[2], rmem_max)) - 15
  assert.ok(syn.sackOk && syn.hasTs);
  assert.equal(syn.tsEcr, 0);
  // mss, sackOK, TS, nop, wscale
  assert.deepEqual(syn.optBytes.slice(0, 4), [2, 4, 5, 180]);
  assert.deepEqual(syn.optBytes.slice(4, 8), [4, 2, 8, 10]);
  assert.deepEqual(syn.optBytes.slice(16), [1, 3, 3, 10]);
  assert.throws(
    () => c.connect(PEER, 5555),
    (e) => isSysError(e, 'EALREADY'),
  );
  assert.equal(h.counter('TcpActiveOpens'), 1);
  // SYN-ACK: established, ACK at once.
  h.inject({
    flags: 'S.',
    sport: 5555,
    dport: syn.sport,
    seq: 7000,
    ack: syn.seq + 1,
    win: 65160,
    mss: 1400,
    wscale: 7,
    sackOk: true,
    ts: [900, syn.tsVal],
  });
  const ack = h.one();
  assert.equal(ack.flags, '.');
  assert.equal(ack.seq, syn.seq + 1);
  assert.equal(ack.ack, 7001);
  assert.equal(ack.tsEcr, 900);
  assert.equal(c.state, 'ESTABLISHED');
  assert.ok(c.poll() & POLLOUT);
  c.connect(PEER, 5555); // the second call reports success (Linux inet_stream_connect)
  assert.throws(
    () => c.connect(PEER, 5555),
    (e) => isSysError(e, 'EISCONN'),
  );
  const info = c.info();
  assert.equal(info.tcpi_snd_mss, 1400 - 12);
  assert.equal(info.tcpi_snd_wscale, 7);
  assert.equal(info.tcpi_rcv_wscale, 10);
  assert.equal(info.tcpi_options, 7);
  assert.equal(h.counter('TcpCurrEstab'), 1);
});

test('options follow the sysctls: no timestamps, no SACK, no window scaling', () => {
  const h = new Harness({
    sysctl: { 'net.ipv4.tcp_timestamps': 0, 'net.ipv4.tcp_sack': 0, 'net.ipv4.tcp_window_scaling': 0 },
  });
  connecting(h);
  const syn = h.one();
  assert.equal(syn.hasTs, false);
  assert.equal(syn.sackOk, false);
  assert.equal(syn.wscale, -1);
  assert.deepEqual(syn.optBytes, [2, 4, 5, 180]);
});

test('SYN without timestamps: mss, nop, nop, sackOK, nop, wscale', () => {
  const h = new Harness({ sysctl: { 'net.ipv4.tcp_timestamps': 0 } });
  connecting(h);
  assert.deepEqual(h.one().optBytes, [2, 4, 5, 180, 1, 1, 4, 2, 1, 3, 3, 10]);
});

test('passive open: SYN-ACK answers only offered options; window 65160 with timestamps', () => {
  const h = new Harness();
  const l = h.socket();
  l.bind(LOCAL, 80);
  l.listen(5);
  h.inject({ flags: 'S', seq: 1000, win: 64240, mss: 1460, wscale: 7, sackOk: true, ts: [100, 0] });
  const sa = h.one();
  assert.equal(sa.flags, 'S.');
  assert.equal(sa.ack, 1001);
  assert.equal(sa.win, 65160);
  assert.equal(sa.tsEcr, 100);
  assert.ok(sa.sackOk);
  assert.equal(sa.wscale, 10);
  // A SYN with no options: SYN-ACK with MSS only, window 64240 (rounded to the MSS).
  h.inject({ flags: 'S', seq: 5000, sport: 40001, win: 1000 });
  const sb = h.one();
  assert.deepEqual(sb.optBytes, [2, 4, 5, 180]);
  assert.equal(sb.win, 64240);
});

test('passive open completes, TcpPassiveOpens, accept, getsockname/getpeername', () => {
  const h = new Harness();
  const e = establishPassive(h);
  assert.equal(e.s.state, 'ESTABLISHED');
  assert.deepEqual(e.s.getpeername(), { address: PEER, port: 40000, family: 'IPv4' });
  assert.deepEqual(e.s.getsockname(), { address: LOCAL, port: 80, family: 'IPv4' });
  assert.equal(h.counter('TcpPassiveOpens'), 1);
  assert.throws(
    () => e.l.accept(),
    (x) => isSysError(x, 'EAGAIN'),
  );
});

test('SYN retransmission as measured on Linux 6.x: 1 s apart for tcp_syn_linear_timeouts, then doubling; ETIMEDOUT at 131 s', () => {
  const h = new Harness();
  const c = connecting(h);
  const times = [h.one().time];
  for (;;) {
    const s = h.nextSegment(200_000);
    if (s === null) break;
    assert.equal(s.flags, 'S');
    times.push(s.time);
  }
  // The reference kernel (tun0 in a namespace, nobody answering): SYNs at 0,1,2,3,4,5,7,11,19,35,67 s, error at 131 s.
  assert.deepEqual(times, [0, 1000, 2000, 3000, 4000, 5000, 7000, 11000, 19000, 35000, 67000]);
  assert.equal(c.state, 'CLOSED');
  assert.ok(c.poll() & POLLERR);
  assert.equal(c.getsockopt('SO_ERROR'), 110);
  assert.throws(
    () => c.connect(PEER, 5555),
    (e) => isSysError(e, 'ECONNABORTED'),
  );
  assert.equal(h.counter('TcpAttemptFails'), 1);
});

test('TCP_SYNCNT 2: SYNs at 0..5 s, ETIMEDOUT at 7 s (the time budget of 2 doublings from 1 s), as the reference kernel', () => {
  const h = new Harness();
  const c = h.socket();
  c.setsockopt('TCP_SYNCNT', 2);
  assert.throws(
    () => c.connect(PEER, 5555),
    (e) => isSysError(e, 'EINPROGRESS'),
  );
  h.advance(6999);
  assert.deepEqual(
    h.take().map((x) => x.time),
    [0, 1000, 2000, 3000, 4000, 5000],
  );
  assert.equal(c.state, 'SYN_SENT');
  h.advance(2);
  assert.equal(c.state, 'CLOSED');
  assert.equal(h.take().length, 0);
  assert.throws(
    () => c.connect(PEER, 5555),
    (e) => isSysError(e, 'ETIMEDOUT'),
  );
});

test('RST to a SYN: ECONNREFUSED', () => {
  const h = new Harness();
  const c = connecting(h);
  const syn = h.one();
  // A RST without ACK, or with a wrong ACK, is ignored in SYN_SENT.
  h.inject({ flags: 'R', sport: 5555, dport: syn.sport, seq: 0 });
  assert.equal(c.state, 'SYN_SENT');
  h.inject({ flags: 'R.', sport: 5555, dport: syn.sport, seq: 0, ack: syn.seq + 1 });
  assert.equal(c.state, 'CLOSED');
  assert.throws(
    () => c.connect(PEER, 5555),
    (e) => isSysError(e, 'ECONNREFUSED'),
  );
  assert.equal(h.counter('TcpAttemptFails'), 1);
});

test('SYN_SENT: an ACK for something never sent gets a RST <SEQ=SEG.ACK>', () => {
  const h = new Harness();
  const c = connecting(h);
  const syn = h.one();
  h.inject({ flags: 'S.', sport: 5555, dport: syn.sport, seq: 7000, ack: syn.seq + 5 });
  const r = h.one();
  assert.equal(r.flags, 'R');
  assert.equal(r.seq, syn.seq + 5);
  assert.equal(c.state, 'SYN_SENT');
});

test('simultaneous open: SYN in SYN_SENT → SYN-ACK with our ISN, then ESTABLISHED', () => {
  const h = new Harness();
  const c = connecting(h);
  const syn = h.one();
  h.inject({ flags: 'S', sport: 5555, dport: syn.sport, seq: 7000, mss: 1460, wscale: 7, sackOk: true });
  const sa = h.one();
  assert.equal(sa.flags, 'S.');
  assert.equal(sa.seq, syn.seq);
  assert.equal(sa.ack, 7001);
  // Linux turns its own SYN into the SYN-ACK: the same options, timestamps
  // too (TS ecr 0: the peer's SYN had none).
  assert.deepEqual(sa.optBytes.slice(0, 6), syn.optBytes.slice(0, 6)); // mss, sackOK, TS kind/len
  assert.deepEqual(sa.optBytes.slice(16), syn.optBytes.slice(16)); // nop, wscale
  assert.ok(sa.hasTs && sa.sackOk);
  assert.equal(sa.tsEcr, 0);
  assert.equal(c.state, 'SYN_RECV');
  // The peer's SYN-ACK (its answer to our SYN) completes it, as Linux lets it pass as the ACK;
  // its SYN is one we have: an immediate ACK with a D-SACK for it (as Linux 6.18).
  h.inject({ flags: 'S.', sport: 5555, dport: syn.sport, seq: 7000, ack: syn.seq + 1, mss: 1460, wscale: 7 });
  const ack = h.one();
  assert.equal(ack.flags, '.');
  assert.equal(ack.ack, 7001);
  assert.deepEqual(ack.sack, [7000, 7001]);
  assert.equal(c.state, 'ESTABLISHED');
});

test('a segment for no socket gets a RST per RFC 9293; a RST gets nothing', () => {
  const h = new Harness();
  h.inject({ flags: 'S', seq: 100, dport: 81 });
  let r = h.one();
  assert.equal(r.flags, 'R.');
  assert.equal(r.seq, 0);
  assert.equal(r.ack, 101);
  h.inject({ flags: 'P.', seq: 100, ack: 555, dport: 81, payload: 10 });
  r = h.one();
  assert.equal(r.flags, 'R');
  assert.equal(r.seq, 555);
  h.inject({ flags: 'F', seq: 100, dport: 81, payload: 10 });
  assert.equal(h.one().ack, 111);
  h.inject({ flags: 'R', seq: 100, dport: 81 });
  assert.equal(h.take().length, 0);
  assert.equal(h.counter('TcpOutRsts'), 3);
});

test('a bad checksum is dropped and counted', () => {
  const h = new Harness();
  h.inject({ flags: 'S', seq: 100, dport: 81, badChecksum: true });
  assert.equal(h.take().length, 0);
  assert.equal(h.counter('TcpInCsumErrors'), 1);
  assert.equal(h.counter('TcpInErrs'), 1);
});
