/**
 * A usnet TCP echo server on a real TUN device, talked to by the Linux
 * kernel. Everything happens in a throw-away network namespace:
 *
 *   kernel (198.18.0.1, namespace usnet-example-<pid>-0)
 *      └── tun0 ── usnet Stack (198.18.0.2), echo server on port 7
 *
 *   sudo node --import tsx examples/tun-echo.ts
 *
 * Needs Linux, root (CAP_NET_ADMIN), /dev/net/tun and python3 (the kernel's
 * client below, and the helper that attaches the TUN device).
 */
import { isSysError } from '../src/errno.js';
import { Netns } from '../src/node/netns.js';
import { RealtimeDriver } from '../src/node/realtime.js';
import { POLLIN, POLLOUT } from '../src/socket/poll.js';
import type { TcpSocket } from '../src/socket/tcp-socket.js';
import { Stack } from '../src/stack.js';
import { TcpLayer } from '../src/tcp/tcp.js';

/** Echo every byte back; close after the peer's FIN once all is sent. */
function serve(c: TcpSocket): void {
  const out: Uint8Array[] = [];
  let eof = false;
  const pump = () => {
    try {
      while (!eof) {
        const b = c.recv(65536);
        if (b.length === 0) eof = true;
        else out.push(b);
      }
    } catch (e) {
      if (!isSysError(e, 'EAGAIN')) throw e;
    }
    try {
      while (out.length > 0) {
        const n = c.send(out[0]!);
        if (n < out[0]!.length) {
          out[0] = out[0]!.subarray(n);
          break;
        }
        out.shift();
      }
    } catch (e) {
      if (!isSysError(e, 'EAGAIN')) throw e;
    }
    if (eof && out.length === 0) {
      c.onEvent = null;
      c.close();
    }
  };
  c.onEvent = (ev) => {
    if (ev & (POLLIN | POLLOUT)) pump();
  };
  pump();
}

const CLIENT_PY = `
import socket, time
s = socket.create_connection(('198.18.0.2', 7), timeout=5)
for line in (b'hello usnet\\n', b'this is the Linux kernel speaking\\n'):
    t = time.monotonic()
    s.sendall(line)
    got = b''
    while len(got) < len(line):
        got += s.recv(4096)
    print('kernel got back %r in %.2f ms' % (got, (time.monotonic() - t) * 1000))
s.close()
`;

const ns = Netns.create('example');
try {
  const tun = await ns.openTun({ nameInNetns: 'tun0', addrs: ['198.18.0.1/24'] });
  const stack = new Stack({ name: 'usnet' });
  const tcp = new TcpLayer(stack);
  const driver = new RealtimeDriver([stack]);
  try {
    stack.addInterface('tun0', tun, { addrs: ['198.18.0.2/24'] });
    driver.attach(tun);
    driver.start();

    const listener = tcp.socket(4);
    listener.bind('198.18.0.2', 7);
    listener.listen();
    listener.onEvent = () => {
      for (;;) {
        try {
          serve(listener.accept());
        } catch (e) {
          if (isSysError(e, 'EAGAIN')) return;
          throw e;
        }
      }
    };
    driver.poke(); // socket calls made outside a callback may have armed timers

    const r = await ns.exec(['python3', '-c', CLIENT_PY], { timeoutMs: 10000 });
    process.stdout.write(r.stdout + r.stderr);
    const ss = await ns.shell('ss -tanH');
    process.stdout.write(`the kernel's sockets now:\n${ss.stdout}`);
    console.log('usnet counters:', {
      TcpPassiveOpens: stack.counters.get('TcpPassiveOpens'),
      TcpInSegs: stack.counters.get('TcpInSegs'),
      TcpOutSegs: stack.counters.get('TcpOutSegs'),
    });
  } finally {
    driver.stop();
    await tun.close();
  }
} finally {
  ns.delete();
}
