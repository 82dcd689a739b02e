// A usnet Stack attached to a TUN device in a namespace we create, driven
// in real time, answers the kernel's ping. Needs root, /dev/net/tun, ip and
// python3; skipped with the reason otherwise.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSysError } from '../../src/errno.js';
import { kernelTestsAvailable, Netns } from '../../src/node/netns.js';
import { RealtimeDriver } from '../../src/node/realtime.js';
import { POLLIN, POLLOUT } from '../../src/socket/poll.js';
import type { TcpSocket } from '../../src/socket/tcp-socket.js';
import { Stack } from '../../src/stack.js';
import { TcpLayer } from '../../src/tcp/tcp.js';
import { PING_PY } from './ping-py.js';

const avail = kernelTestsAvailable();
const skip = avail.ok ? false : `needs root, /dev/net/tun, ip and python3: ${avail.reason}`;

test('a usnet Stack on a TUN device answers the kernel ping', { skip, timeout: 30000 }, async () => {
  const ns = Netns.create('tunstack');
  try {
    const tun = await ns.openTun({ nameInNetns: 'tun0', addrs: ['198.18.0.1/24'] });
    const stack = new Stack({ seed: 7, name: 'usnet' });
    const drv = new RealtimeDriver([stack]);
    try {
      stack.addInterface('tun0', tun, { addrs: ['198.18.0.2/24'] });
      drv.attach(tun);
      drv.start();
      const ping = await ns.exec(['python3', '-c', PING_PY, '198.18.0.2', '3'], { timeoutMs: 10000 });
      assert.equal(ping.code, 0, `ping failed: ${ping.stdout} ${ping.stderr}`);
      assert.equal(ping.stdout.trim().split('\n').length, 3);
      assert.equal(stack.counters.get('IcmpInEchos'), 3);
      assert.equal(stack.counters.get('IcmpOutEchoReps'), 3);
      // An address the stack does not own gets no answer.
      const other = await ns.exec(['python3', '-c', PING_PY, '198.18.0.3', '1'], { timeoutMs: 10000 });
      assert.equal(other.code, 1);
    } finally {
      drv.stop();
      await tun.close();
    }
  } finally {
    ns.delete();
  }
});

/** The kernel's client: connects, sends `n` pattern bytes, half-closes, reads the echo to EOF, compares. */
const ECHO_CLIENT_PY = `
import socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = bytes((i * 7 + 3) & 255 for i in range(n))
s = socket.create_connection((host, port), timeout=10)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = bytearray()
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
s.close()
print('echoed', len(got), 'ok' if bytes(got) == data else 'MISMATCH')
sys.exit(0 if bytes(got) == data else 1)
`;

/** A usnet echo server: each accepted connection gets its bytes back, and is closed after the peer's FIN. */
function echoServer(ls: TcpSocket): { conns: number } {
  const stats = { conns: 0 };
  ls.onEvent = (ev) => {
    if (!(ev & POLLIN)) return;
    for (;;) {
      let c: TcpSocket;
      try {
        c = ls.accept();
      } catch (e) {
        if (isSysError(e, 'EAGAIN')) return;
        throw e;
      }
      stats.conns++;
      let pending: Uint8Array[] = [];
      let eof = false;
      const pump = () => {
        while (!eof) {
          let b: Uint8Array;
          try {
            b = c.recv(65536);
          } catch (e) {
            if (isSysError(e, 'EAGAIN')) break;
            throw e;
          }
          if (b.length === 0) eof = true;
          else pending.push(b);
        }
        while (pending.length > 0) {
          let n = 0;
          try {
            n = c.send(pending[0]!);
          } catch (e) {
            if (isSysError(e, 'EAGAIN')) break;
            throw e;
          }
          if (n < pending[0]!.length) {
            pending[0] = pending[0]!.subarray(n);
            break;
          }
          pending.shift();
        }
        if (eof && pending.length === 0) {
          c.onEvent = null;
          pending = [];
          c.close();
        }
      };
      c.onEvent = (e) => {
        if (e & (POLLIN | POLLOUT)) pump();
      };
      pump();
    }
  };
  return stats;
}

test('the kernel talks TCP to a usnet listener over a TUN device (echo of 200 kB)', {
  skip,
  timeout: 30000,
}, async () => {
  const ns = Netns.create('tuntcp');
  try {
    const tun = await ns.openTun({ nameInNetns: 'tun0', addrs: ['198.18.0.1/24'] });
    const stack = new Stack({ seed: 11, name: 'usnet' });
    const tcp = new TcpLayer(stack);
    const drv = new RealtimeDriver([stack]);
    try {
      stack.addInterface('tun0', tun, { addrs: ['198.18.0.2/24'] });
      drv.attach(tun);
      drv.start();
      const ls = tcp.socket(4);
      ls.bind('198.18.0.2', 8080);
      ls.listen(16);
      const stats = echoServer(ls);
      drv.poke();
      const r = await ns.exec(['python3', '-c', ECHO_CLIENT_PY, '198.18.0.2', '8080', '200000'], {
        timeoutMs: 20000,
      });
      assert.equal(r.code, 0, `client: ${r.stdout} ${r.stderr}`);
      assert.match(r.stdout, /echoed 200000 ok/);
      assert.equal(stats.conns, 1);
      // The kernel's view: the connection it opened is gone or closing, never reset.
      const nstat = await ns.exec(['nstat', '-saz', 'TcpEstabResets', 'TcpActiveOpens']);
      assert.match(nstat.stdout, /TcpActiveOpens\s+1\s/);
      assert.match(nstat.stdout, /TcpEstabResets\s+0\s/);
    } finally {
      drv.stop();
      await tun.close();
    }
  } finally {
    ns.delete();
  }
});
