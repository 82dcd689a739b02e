/**
 * TCP over a TUN device, end to end: the kernel (a python3 client in a
 * namespace created for the run) sends 32 MB to a usnet sink on the other
 * side of the TUN, driven by RealtimeDriver; reference: the same client
 * sending to a kernel sink over loopback in the same namespace, measured in
 * the same run. Needs root, /dev/net/tun, python3.
 *
 *   node --import tsx bench/tun-tcp.bench.ts
 */
import { isSysError } from '../src/errno.js';
import { kernelTestsAvailable, Netns } from '../src/node/netns.js';
import { RealtimeDriver } from '../src/node/realtime.js';
import { POLLIN } from '../src/socket/poll.js';
import type { TcpSocket } from '../src/socket/tcp-socket.js';
import { Stack } from '../src/stack.js';
import { TcpLayer } from '../src/tcp/tcp.js';

const avail = kernelTestsAvailable();
if (!avail.ok) {
  console.log(`tun-tcp bench skipped: ${avail.reason}`);
  process.exit(0);
}

const BYTES = 32 * 1024 * 1024;

/** Sends BYTES to host:port, prints MB/s (from connect to the peer's FIN after our FIN). */
const CLIENT_PY = `
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
buf = bytes(65536)
t0 = time.monotonic()
s = socket.create_connection((host, port), timeout=30)
left = n
while left > 0:
    left -= s.send(buf[:min(left, len(buf))])
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
print(n / (time.monotonic() - t0) / 1e6)
`;

/** A kernel sink on loopback: reads to EOF, then closes. */
const SINK_PY = `
import socket
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('127.0.0.1', 9000))
l.listen(1)
print('ready', flush=True)
c, _ = l.accept()
while c.recv(1 << 20):
    pass
c.close()
`;

const ns = Netns.create('benchtcp', { 'net.ipv6.conf.default.disable_ipv6': 1 });
try {
  // reference: kernel to kernel over lo
  const sink = ns.exec(['python3', '-c', SINK_PY], { timeoutMs: 60000 });
  await new Promise((r) => setTimeout(r, 300));
  const ref = await ns.exec(['python3', '-c', CLIENT_PY, '127.0.0.1', '9000', String(BYTES)], {
    timeoutMs: 60000,
  });
  await sink;
  const refMBs = Number(ref.stdout.trim());

  // usnet over the TUN
  const tun = await ns.openTun({ nameInNetns: 'tun0', addrs: ['198.18.0.1/24'] });
  const stack = new Stack({ seed: 3, name: 'usnet' });
  const tcp = new TcpLayer(stack);
  const drv = new RealtimeDriver([stack]);
  let received = 0;
  try {
    stack.addInterface('tun0', tun, { addrs: ['198.18.0.2/24'] });
    drv.attach(tun);
    drv.start();
    const ls = tcp.socket(4);
    ls.bind('198.18.0.2', 9000);
    ls.listen(4);
    const sinkBuf = new Uint8Array(1 << 20);
    ls.onEvent = (ev) => {
      if (!(ev & POLLIN)) return;
      let c: TcpSocket;
      try {
        c = ls.accept();
      } catch (e) {
        if (isSysError(e, 'EAGAIN')) return;
        throw e;
      }
      const drain = () => {
        // poll() first: an EAGAIN exception per wake-up costs more than the read.
        while (c.poll() & POLLIN) {
          const n = c.recvInto(sinkBuf);
          if (n === 0) {
            c.onEvent = null;
            c.close();
            return;
          }
          received += n;
        }
      };
      c.onEvent = drain;
      drain();
    };
    drv.poke();
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    const r = await ns.exec(['python3', '-c', CLIENT_PY, '198.18.0.2', '9000', String(BYTES)], {
      timeoutMs: 120000,
    });
    const cpu = process.cpuUsage(cpu0);
    const busy = (cpu.user + cpu.system) / 1000 / (performance.now() - wall0);
    const mbs = Number(r.stdout.trim());
    console.log('what                                          MB/s     ratio');
    console.log(`kernel -> kernel over lo (python3 client)     ${refMBs.toFixed(1).padStart(6)}   1`);
    console.log(
      `kernel -> usnet over TUN (RealtimeDriver)     ${mbs.toFixed(1).padStart(6)}   ${(mbs / refMBs).toFixed(3)}`,
    );
    console.log(`  usnet received ${received} of ${BYTES} bytes; TUN ${JSON.stringify(tun.stats)}`);
    console.log(`  Node CPU busy ${(busy * 100).toFixed(0)}% of the transfer's wall time`);
  } finally {
    drv.stop();
    await tun.close();
  }
} finally {
  ns.delete();
}
