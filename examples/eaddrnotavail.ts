/**
 * "connect: Cannot assign requested address" (EADDRNOTAVAIL), reproduced and
 * explained, in virtual time (a minute of TIME_WAIT passes in milliseconds).
 *
 * A client opens short connections to one server address and port, closing
 * each one first, so every closed connection leaves a TIME_WAIT entry on the
 * client for 60 s. Each entry pins its local port *for that destination*:
 * once all ports of net.ipv4.ip_local_port_range are pinned, connect() fails
 * with EADDRNOTAVAIL, as on Linux. Then:
 *   - net.ipv4.tcp_tw_reuse = 2 (the default) reuses TIME_WAIT ports only
 *     for loopback traffic, so this client keeps failing;
 *   - net.ipv4.tcp_tw_reuse = 1 lets connect() take over a TIME_WAIT entry
 *     whose last segment is older than tcp_tw_reuse_delay (1 s), when
 *     timestamps are on (they protect the new connection from old segments);
 *   - or wait 60 s and the entries are gone.
 *
 *   node --import tsx examples/eaddrnotavail.ts
 */
import { MemoryWire } from '../src/link/memory-wire.js';
import { World } from '../src/sim/world.js';
import { POLLIN } from '../src/socket/poll.js';
import type { TcpSocket } from '../src/socket/tcp-socket.js';
import { Stack } from '../src/stack.js';
import { TcpLayer } from '../src/tcp/tcp.js';

const world = new World();
const wire = new MemoryWire({ delay: 1, clock: world.clock });
const client = world.add(new Stack({ seed: 1, name: 'client' }));
const server = world.add(new Stack({ seed: 2, name: 'server' }));
world.add(wire); // after the stacks: their clocks are up to date when the wire delivers
client.addInterface('eth0', wire.a, { addrs: ['198.18.0.1/24'] });
server.addInterface('eth0', wire.b, { addrs: ['198.18.0.2/24'] });
const tcpC = new TcpLayer(client);
const tcpS = new TcpLayer(server);

// Ten local ports instead of 28,232, so the range runs out quickly.
client.sysctl.set('net.ipv4.ip_local_port_range', '40000 40009');

const listener = tcpS.socket(4);
listener.bind('198.18.0.2', 80);
listener.listen(128);

function accepted(): TcpSocket[] {
  const out: TcpSocket[] = [];
  while (listener.poll() & POLLIN) out.push(listener.accept());
  return out;
}

/** One short connection: connect, wait for the handshake, client closes first. Returns the local port or the errno code. */
function shortConnection(): number | string {
  const s = tcpC.socket(4);
  try {
    s.connect('198.18.0.2', 80);
  } catch (e) {
    const code = (e as { code: string }).code;
    if (code !== 'EINPROGRESS') {
      s.close();
      return code;
    }
  }
  const port = s.getsockname().port;
  world.runUntil(() => s.state === 'ESTABLISHED', { timeout: 5000 });
  s.close(); // active close: the client will hold TIME_WAIT
  world.run({ until: world.now + 5 });
  for (const a of accepted()) a.close(); // the server closes its side on the FIN
  world.run({ until: world.now + 50 });
  return port;
}

function timeWaitPorts(): number[] {
  return tcpC
    .list()
    .filter((r) => r.state === 'TIME-WAIT')
    .map((r) => r.lport);
}

const t = () => `t=${(world.now / 1000).toFixed(3)}s`;

console.log(`ip_local_port_range = ${client.sysctl.format('net.ipv4.ip_local_port_range')}`);
console.log(`tcp_tw_reuse = ${client.sysctl.v['net.ipv4.tcp_tw_reuse']} (2: loopback only)\n`);

for (let i = 1; i <= 11; i++) {
  const r = shortConnection();
  if (typeof r === 'number') console.log(`${t()} connection ${i}: local port ${r}, closed -> TIME_WAIT`);
  else console.log(`${t()} connection ${i}: connect() failed: ${r} (Cannot assign requested address)`);
}
console.log(`\n${timeWaitPorts().length} ports in TIME_WAIT: ${timeWaitPorts().join(' ')}`);

world.run({ until: world.now + 2000 });
console.log(`${t()} two seconds later, tcp_tw_reuse = 2: connect() -> ${shortConnectionText()}`);

client.sysctl.set('net.ipv4.tcp_tw_reuse', 1);
console.log(`${t()} sysctl -w net.ipv4.tcp_tw_reuse=1`);
const recycledBefore = client.counters.get('TcpExtTWRecycled');
console.log(`${t()} connect() -> ${shortConnectionText()}`);
console.log(`         TcpExtTWRecycled +${client.counters.get('TcpExtTWRecycled') - recycledBefore}`);

client.sysctl.set('net.ipv4.tcp_tw_reuse', 2);
console.log(`${t()} back to tcp_tw_reuse=2; connect() -> ${shortConnectionText()}`);
world.run({ until: world.now + 60_000 });
console.log(
  `${t()} 60 s later: ${timeWaitPorts().length} ports in TIME_WAIT; connect() -> ${shortConnectionText()}`,
);

function shortConnectionText(): string {
  const r = shortConnection();
  return typeof r === 'number' ? `OK, local port ${r}` : r;
}
