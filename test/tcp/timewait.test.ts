/**
 * Every branch of TIME_WAIT / FIN_WAIT2-sub-state segment processing
 * (src/tcp/timewait.ts), driven with hand-built segments at one entry:
 * local 198.18.0.1:40000, remote 198.18.0.2:8000, snd_nxt 1000,
 * rcv_nxt 5000, window 65535, TS.Recent 777 (stamped at t = 0).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IpRx } from '../../src/ip/types.js';
import { TimeWait } from '../../src/tcp/timewait.js';
import type { IpAddr } from '../../src/wire/addr.js';
import { newTcpHeader, type TcpHeader } from '../../src/wire/tcp.js';
import { A, closeToTimeWait, Sock, setup } from '../inet/helpers.js';

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;

interface Reply {
  seq: number;
  ack: number;
  flags: number;
  tsVal: number;
  tsEcr: number;
  window: number;
  to: string;
}

/**
 * One entry. `server`: a listener holds 198.18.0.1:40000 (SO_REUSEADDR) and
 * the entry is an accepted connection's (the case where a SYN may reopen
 * it); otherwise the entry is a client's, made by connect().
 */
function world(
  opts: { ts?: boolean; finWait2?: boolean; server?: boolean; sysctl?: Record<string, number> } = {},
) {
  const { host, tables } = setup(1, { 'net.ipv4.ip_local_port_range': '40000 40000', ...opts.sysctl });
  let s: Sock;
  if (opts.server) {
    const l = new Sock(4, { reuseAddr: true });
    tables.bind(l, null, 40000);
    tables.listen(l);
    s = new Sock(4, {
      reuseAddr: true,
      laddr: A('198.18.0.1'),
      lport: 40000,
      raddr: A('198.18.0.2'),
      rport: 8000,
    });
    tables.insertEstablished(s);
  } else {
    s = new Sock();
    tables.connect(s, A('198.18.0.2'), 8000);
  }
  const id = closeToTimeWait(tables, s, 0, {
    ts: opts.ts ?? true,
    finWait2: opts.finWait2,
    active: !opts.server,
  });
  const replies: Reply[] = [];
  const sink = {
    sendReply(
      _f: 4 | 6,
      _la: IpAddr,
      lport: number,
      _ra: IpAddr,
      rport: number,
      seq: number,
      ack: number,
      flags: number,
      tsVal: number,
      tsEcr: number,
      window: number,
    ) {
      replies.push({ seq, ack, flags, tsVal, tsEcr, window, to: `${lport}>${rport}` });
    },
  };
  const tw = new TimeWait(tables, sink, host);
  const rx = { family: 4, src: A('198.18.0.2'), dst: A('198.18.0.1') } as IpRx;
  const seg = (
    flags: number,
    seq: number,
    o: { ack?: number; len?: number; tsVal?: number } = {},
  ): TcpHeader => {
    const h = newTcpHeader();
    h.srcPort = 8000;
    h.dstPort = 40000;
    h.flags = flags;
    h.seq = seq >>> 0;
    h.ack = o.ack ?? 1000;
    h.payloadLen = o.len ?? 0;
    if (o.tsVal !== undefined) {
      h.hasTs = true;
      h.tsVal = o.tsVal;
      h.tsEcr = 1;
    }
    return h;
  };
  const send = (h: TcpHeader, at?: number) => {
    if (at !== undefined) host.now = at;
    return tw.input(id, rx, h);
  };
  const t = tables.twTable(id);
  const row = tables.twRow(id);
  const alive = () => tables.lookupTimeWait(4, A('198.18.0.1'), 40000, A('198.18.0.2'), 8000) === id;
  return { host, tables, tw, id, t, row, replies, seg, send, alive };
}

test('the ACK a TIME_WAIT entry sends: snd_nxt, rcv_nxt, window, TSval = clock + offset, TSecr = TS.Recent', () => {
  const w = world();
  w.t.tsOffset[w.row] = 1_000_000;
  w.send(w.seg(ACK, 9999), 250);
  assert.deepEqual(w.replies, [
    { seq: 1000, ack: 5000, flags: ACK, tsVal: 1_000_250, tsEcr: 777, window: 65535, to: '40000>8000' },
  ]);
  const n = world({ ts: false });
  n.send(n.seg(ACK, 9999));
  assert.equal(n.replies[0].tsVal, -1, 'no timestamp option without timestamps');
});

// ---------------------------------------------------------------- FIN_WAIT2 sub-state

test('FIN_WAIT2: out of window → ACK, rate-limited to one per tcp_invalid_ratelimit (TcpExtTCPACKSkippedFinWait2)', () => {
  const w = world({ finWait2: true });
  w.send(w.seg(ACK, 200_000), 0);
  w.send(w.seg(ACK, 200_000), 100);
  assert.equal(w.replies.length, 1);
  assert.equal(w.host.counters.get('TcpExtTCPACKSkippedFinWait2'), 1);
  w.send(w.seg(ACK, 200_000), 600);
  assert.equal(w.replies.length, 2);
  // Out-of-window data is always answered.
  w.send(w.seg(ACK, 200_000, { len: 10 }), 601);
  assert.equal(w.replies.length, 3);
  assert.ok(w.alive());
});

test('FIN_WAIT2: PAWS-rejected segment in window → rate-limited ACK', () => {
  const w = world({ finWait2: true });
  w.send(w.seg(ACK | FIN, 5000, { tsVal: 700 }), 10);
  assert.equal(w.replies.length, 1);
  assert.equal(w.replies[0].ack, 5000, 'the FIN was not taken');
  assert.ok(w.t.isFinWait2(w.row));
});

test('FIN_WAIT2: RST kills silently', () => {
  const w = world({ finWait2: true });
  w.send(w.seg(RST, 5000));
  assert.equal(w.replies.length, 0);
  assert.equal(w.alive(), false);
});

test('FIN_WAIT2: SYN at or after rcv_nxt → RST, entry gone', () => {
  const w = world({ finWait2: true });
  w.send(w.seg(SYN, 5000));
  assert.deepEqual(
    w.replies.map((r) => [r.flags, r.seq, r.ack]),
    [[RST | ACK, 0, 5001]],
  );
  assert.equal(w.alive(), false);
});

test('FIN_WAIT2: a pure duplicate ACK is dropped', () => {
  const w = world({ finWait2: true });
  w.send(w.seg(ACK, 5000));
  w.send(w.seg(ACK, 5000, { ack: 999 }));
  assert.equal(w.replies.length, 0);
  assert.ok(w.alive());
});

test('FIN_WAIT2: new data after our close → RST (seq = their ACK), entry gone', () => {
  const w = world({ finWait2: true });
  w.send(w.seg(ACK, 5000, { len: 100, ack: 1000 }));
  assert.deepEqual(
    w.replies.map((r) => [r.flags, r.seq]),
    [[RST, 1000]],
  );
  assert.equal(w.alive(), false);
});

test('FIN_WAIT2: the FIN → TIME_WAIT, ACKed, 60 s from now, TS.Recent updated', () => {
  const w = world({ finWait2: true });
  w.send(w.seg(ACK | FIN, 5000, { tsVal: 900 }), 3000);
  assert.equal(w.t.isFinWait2(w.row), false);
  assert.equal(w.t.rcvNxt[w.row], 5001);
  assert.equal(w.t.tsRecent[w.row], 900);
  assert.deepEqual(
    w.replies.map((r) => [r.flags, r.seq, r.ack, r.tsEcr]),
    [[ACK, 1000, 5001, 900]],
  );
  assert.equal(w.t.expiresAt(w.row, 3000), 63_000);
});

// ---------------------------------------------------------------- TIME_WAIT

test('TIME_WAIT: bare ACK at rcv_nxt → silent, timer re-armed, TS.Recent updated', () => {
  const w = world();
  w.send(w.seg(ACK, 5000, { tsVal: 800 }), 20_000);
  assert.equal(w.replies.length, 0);
  assert.equal(w.t.expiresAt(w.row, 20_000), 80_000);
  assert.equal(w.t.tsRecent[w.row], 800);
});

test('TIME_WAIT: RST at rcv_nxt kills (assassination) unless tcp_rfc1337 = 1', () => {
  const w = world();
  w.send(w.seg(RST, 5000), 1000);
  assert.equal(w.alive(), false);
  assert.equal(w.replies.length, 0);
  const k = world({ sysctl: { 'net.ipv4.tcp_rfc1337': 1 } });
  k.send(k.seg(RST, 5000), 1000);
  assert.ok(k.alive());
  assert.equal(k.replies.length, 0);
  assert.equal(k.t.expiresAt(k.row, 1000), 60_000, 'timer not re-armed by a RST');
});

test('TIME_WAIT: any other RST is ignored', () => {
  const w = world();
  w.send(w.seg(RST, 4000));
  w.send(w.seg(RST | ACK, 5001));
  assert.ok(w.alive());
  assert.equal(w.replies.length, 0);
});

test('TIME_WAIT: retransmitted FIN → ACK every time (not rate-limited), timer re-armed', () => {
  const w = world();
  w.send(w.seg(ACK | FIN, 4999), 30_000);
  w.send(w.seg(ACK | FIN, 4999), 30_001);
  assert.equal(w.replies.length, 2);
  assert.equal(w.replies[1].ack, 5000);
  assert.equal(w.t.expiresAt(w.row, 30_001), 90_001);
});

test('TIME_WAIT: other segments → ACK rate-limited by tcp_invalid_ratelimit (TcpExtTCPACKSkippedTimeWait)', () => {
  const w = world();
  w.send(w.seg(ACK, 6000), 100);
  w.send(w.seg(ACK, 6000), 599);
  assert.equal(w.replies.length, 1);
  assert.equal(w.host.counters.get('TcpExtTCPACKSkippedTimeWait'), 1);
  w.send(w.seg(ACK, 6000), 600);
  assert.equal(w.replies.length, 2);
  w.host.sysctl.set('net.ipv4.tcp_invalid_ratelimit', 0);
  w.send(w.seg(ACK, 6000), 601);
  assert.equal(w.replies.length, 3);
});

test('TIME_WAIT: a new SYN (seq after rcv_nxt) reopens through the listener with ISN = snd_nxt + 65537', () => {
  const w = world({ server: true });
  const isn = w.send(w.seg(SYN, 9000, { tsVal: 900 }), 5000);
  assert.equal(isn, 1000 + 65537);
  assert.equal(w.alive(), false);
  assert.equal(w.replies.length, 0);
});

test('TIME_WAIT: a SYN below rcv_nxt with a newer timestamp reopens too', () => {
  const w = world({ server: true });
  assert.equal(w.send(w.seg(SYN, 100, { tsVal: 778 })), 66537);
});

test('TIME_WAIT: a reopening SYN without a listener is ACKed and the entry stays', () => {
  const w = world();
  assert.equal(w.send(w.seg(SYN, 9000, { tsVal: 900 })), -1);
  assert.equal(w.replies.length, 1);
  assert.equal(w.replies[0].flags, ACK);
  assert.ok(w.alive());
});

test('TIME_WAIT: a PAWS-rejected SYN counts TcpExtPAWSTimewait, is ACKed and re-arms the timer', () => {
  const w = world({ server: true });
  assert.equal(w.send(w.seg(SYN, 9000, { tsVal: 700 }), 10_000), -1);
  assert.equal(w.host.counters.get('TcpExtPAWSTimewait'), 1);
  assert.equal(w.replies.length, 1);
  assert.equal(w.t.expiresAt(w.row, 10_000), 70_000);
  assert.ok(w.alive());
});

test('TIME_WAIT: an old SYN (seq below rcv_nxt, no newer timestamp) gets an ACK but no re-arm', () => {
  const w = world({ ts: false, server: true });
  assert.equal(w.send(w.seg(SYN, 100), 10_000), -1);
  assert.equal(w.replies.length, 1);
  assert.equal(w.t.expiresAt(w.row, 10_000), 60_000);
});

test('TIME_WAIT: PAWS rejects an old-timestamped segment at rcv_nxt; an RST is let through after an MSL', () => {
  const w = world();
  // A bare ACK at rcv_nxt with an old timestamp: not accepted, answered (rate-limited), counted.
  w.send(w.seg(ACK, 5000, { tsVal: 700 }), 10_000);
  assert.equal(w.host.counters.get('TcpExtPAWSTimewait'), 1);
  assert.equal(w.replies.length, 1);
  // An RST with an old timestamp inside an MSL of TS.Recent's stamp: rejected, ignored.
  w.send(w.seg(RST, 5000, { tsVal: 700 }), 59_000);
  assert.ok(w.alive());
  // 60 s after the stamp, PAWS no longer holds RSTs back: it kills.
  w.send(w.seg(RST, 5000, { tsVal: 700 }), 60_001);
  assert.equal(w.alive(), false);
});

// ---------------------------------------------------------------- end to end

import { POLLIN } from '../../src/socket/poll.js';
import { twoStacks } from './harness.js';

test('end to end: a SYN to a server TIME_WAIT entry reopens it; the SYN-ACK starts at old snd_nxt + 65537', () => {
  const { world, b, ta, tb } = twoStacks();
  const l = tb.socket(4);
  l.setsockopt('SO_REUSEADDR', 1);
  l.bind('198.18.0.2', 80);
  l.listen(16);
  const c = ta.socket(4);
  c.setsockopt('SO_REUSEADDR', 1);
  c.bind('198.18.0.1', 45000);
  try {
    c.connect('198.18.0.2', 80);
  } catch {}
  world.runUntil(() => (l.poll() & POLLIN) !== 0, { timeout: 1000 });
  const s = l.accept();
  // The server closes first: it ends in TIME_WAIT.
  s.close();
  world.run({ until: world.now + 10 });
  c.close();
  world.run({ until: world.now + 500 });
  assert.deepEqual(
    tb
      .list()
      .filter((r) => r.state === 'TIME-WAIT')
      .map((r) => [r.lport, r.rport]),
    [[80, 45000]],
  );
  const tables = tb.tables as unknown as {
    lookupTimeWait: (...a: unknown[]) => number;
    twTable(id: number): { sndNxt: Uint32Array };
    twRow(id: number): number;
  };
  const id = tables.lookupTimeWait(4, A('198.18.0.2'), 80, A('198.18.0.1'), 45000);
  const oldSndNxt = tables.twTable(id).sndNxt[tables.twRow(id)];
  // The client reconnects from the same port (its own side is CLOSED, the port free).
  const c2 = ta.socket(4);
  c2.setsockopt('SO_REUSEADDR', 1);
  c2.bind('198.18.0.1', 45000);
  try {
    c2.connect('198.18.0.2', 80);
  } catch {}
  world.runUntil(() => (l.poll() & POLLIN) !== 0, { timeout: 1000 });
  const s2 = l.accept();
  assert.equal(s2.t.iss, (oldSndNxt + 65537) >>> 0);
  assert.equal(tb.list().filter((r) => r.state === 'TIME-WAIT').length, 0);
  assert.equal(b.counters.get('TcpExtTW'), 1);
});
