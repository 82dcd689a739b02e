/**
 * Port exhaustion end to end, two usnet stacks in virtual time: with the
 * defaults, 28,232 concurrent connections from 198.18.0.1 to 198.18.0.2:80
 * succeed (ports even first, then odd) and the next connect() fails with
 * EADDRNOTAVAIL while another server port still works; once the client has
 * closed them all (client first: it holds the TIME_WAIT entries) new
 * connects keep failing until 60 s have passed, or until tcp_tw_reuse = 1
 * allows a takeover after tcp_tw_reuse_delay.
 * (Kernel counterpart, with one port: test/drill/timewait/unbound-connect-*.pkt.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { InetTables } from '../../src/inet/inet-tables.js';
import { POLLIN } from '../../src/socket/poll.js';
import type { TcpSocket } from '../../src/socket/tcp-socket.js';
import type { Tcb } from '../../src/tcp/tcb.js';
import { twoStacks } from '../tcp/harness.js';

function connectErr(s: TcpSocket, port = 80): string {
  try {
    s.connect('198.18.0.2', port);
    return 'OK';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

test('28,232 connections to one server port, then EADDRNOTAVAIL until TIME_WAIT ends or reuse is allowed', {
  timeout: 600_000,
}, () => {
  const { world, a, ta, tb } = twoStacks();
  const l = tb.socket(4);
  l.bind('198.18.0.2', 80);
  l.listen(4096);
  const other = tb.socket(4);
  other.bind('198.18.0.2', 81);
  other.listen(16);
  const accepted: TcpSocket[] = [];
  const drain = () => {
    while (l.poll() & POLLIN) accepted.push(l.accept());
  };
  const clients: TcpSocket[] = [];
  const ports: number[] = [];
  for (let i = 0; i < 28_232; i++) {
    const c = ta.socket(4);
    assert.equal(connectErr(c), 'EINPROGRESS', `connect #${i}`);
    clients.push(c);
    ports.push(c.t.lport);
    if (i % 1000 === 999) {
      world.run({ until: world.now + 5 });
      drain();
    }
  }
  world.runUntil(
    () => {
      drain();
      return accepted.length === 28_232;
    },
    { timeout: 10_000 },
  );
  assert.equal(new Set(ports).size, 28_232);
  assert.ok(ports.every((p) => p >= 32768 && p <= 60999));
  assert.equal(
    ports.findIndex((p) => p % 2 === 1),
    14_116,
    'even ports first, then odd',
  );
  assert.ok(clients.every((c) => c.state === 'ESTABLISHED'));

  // The range is used up for this destination only.
  assert.equal(connectErr(ta.socket(4)), 'EADDRNOTAVAIL');
  const o = ta.socket(4);
  assert.equal(connectErr(o, 81), 'EINPROGRESS');
  o.close();

  // The client closes first; the server closes when it sees the FIN.
  for (const c of clients) c.close();
  world.run({ until: world.now + 50 });
  for (const s of accepted) s.close();
  world.run({ until: world.now + 1000 });
  const closedAt = world.now;
  const tw = ta.tables as InetTables<Tcb>;
  assert.equal(tw.timeWaitCount, 28_232);
  assert.equal(tw.tw4.finWait2Count, 0, 'all in TIME_WAIT proper');
  assert.equal(a.counters.get('TcpExtTW'), 28_232);

  // tcp_tw_reuse = 2 (default), not loopback: no takeover.
  assert.equal(connectErr(ta.socket(4)), 'EADDRNOTAVAIL');
  world.run({ until: closedAt + 30_000 });
  assert.equal(connectErr(ta.socket(4)), 'EADDRNOTAVAIL');

  // tcp_tw_reuse = 1: allowed (entries are more than 1 s old), one takeover.
  a.sysctl.set('net.ipv4.tcp_tw_reuse', 1);
  const r = ta.socket(4);
  assert.equal(connectErr(r), 'EINPROGRESS');
  assert.equal(a.counters.get('TcpExtTWRecycled'), 1);
  r.close();
  a.sysctl.set('net.ipv4.tcp_tw_reuse', 2);

  // 60 s after they entered TIME_WAIT the entries are gone and ports are free.
  world.run({ until: closedAt + 61_000 });
  assert.equal(tw.timeWaitCount, 0);
  const late = ta.socket(4);
  assert.equal(connectErr(late), 'EINPROGRESS');
  assert.equal(late.t.lport % 2, 0);
});
