import assert from 'node:assert/strict';
import { test } from 'node:test';
import { POLLIN } from '../../src/socket/poll.js';
import { Stack } from '../../src/stack.js';
import { TcpLayer } from '../../src/tcp/tcp.js';

function drive(s: Stack, until: () => boolean): void {
  for (let i = 0; i < 10_000 && !until(); i++) {
    const d = s.nextDeadline();
    if (d === Infinity) break;
    s.advance(Math.max(d, s.now));
  }
}

test('loopback: a stack connects to itself on 127.0.0.1 (MSS 65495 on lo as Linux: a datagram holds 65535 bytes)', () => {
  const s = new Stack({ seed: 3 });
  const tcp = new TcpLayer(s);
  const l = tcp.socket(4);
  l.bind('127.0.0.1', 7000);
  l.listen(4);
  const c = tcp.socket(4);
  try {
    c.connect('127.0.0.1', 7000);
  } catch {}
  drive(s, () => (l.poll() & POLLIN) !== 0);
  const a = l.accept();
  assert.equal(c.state, 'ESTABLISHED');
  assert.equal(a.info().tcpi_advmss, 65495);
  c.send(new Uint8Array(200_000).fill(9));
  let got = 0;
  drive(s, () => {
    if (a.recvQueue > 0) got += a.recv().length;
    return got === 200_000;
  });
  assert.equal(got, 200_000);
});

test('self-connect: a socket bound to a port connecting to that same address and port meets itself (simultaneous open)', () => {
  const s = new Stack({ seed: 4 });
  const tcp = new TcpLayer(s);
  const c = tcp.socket(4);
  c.bind('127.0.0.1', 7001);
  try {
    c.connect('127.0.0.1', 7001);
  } catch {}
  drive(s, () => c.state === 'ESTABLISHED');
  assert.equal(c.state, 'ESTABLISHED');
  c.send(new Uint8Array([1, 2, 3]));
  drive(s, () => c.recvQueue === 3);
  assert.deepEqual([...c.recv()], [1, 2, 3]);
});
