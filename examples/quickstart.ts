/**
 * The README's first example: two usnet stacks on an in-memory wire in
 * virtual time. A client connects, sends a line, the server echoes it,
 * the client closes first and keeps the TIME_WAIT entry for 60 s — which
 * takes microseconds of real time.
 *
 *   node --import tsx examples/quickstart.ts
 */

import { POLLIN, Stack, TcpLayer } from '../src/index.js';
import { MemoryWire } from '../src/link/memory-wire.js';
import { World } from '../src/sim/world.js';

const world = new World();
const wire = world.add(new MemoryWire({ delay: 5 })); // 5 ms each way
const client = world.add(new Stack({ seed: 1, name: 'client' }));
const server = world.add(new Stack({ seed: 2, name: 'server' }));
client.addInterface('eth0', wire.a, { addrs: ['198.18.0.1/24'] });
server.addInterface('eth0', wire.b, { addrs: ['198.18.0.2/24'] });
const ctcp = new TcpLayer(client);
const stcp = new TcpLayer(server);

const listener = stcp.socket(4);
listener.bind('198.18.0.2', 7);
listener.listen(16);

const sock = ctcp.socket(4);
try {
  sock.connect('198.18.0.2', 7); // non-blocking, as every usnet socket
} catch (e) {
  if ((e as { code?: string }).code !== 'EINPROGRESS') throw e;
}
world.runUntil(() => (listener.poll() & POLLIN) !== 0, { timeout: 5_000 });
const conn = listener.accept();
console.log(`connected ${sock.getsockname().port} -> 7 at t=${world.now} ms, state ${sock.state}`);

sock.send(new TextEncoder().encode('hello, usnet\n'));
world.runUntil(() => (conn.poll() & POLLIN) !== 0, { timeout: 5_000 });
const line = conn.recv();
conn.send(line);
world.runUntil(() => (sock.poll() & POLLIN) !== 0, { timeout: 5_000 });
console.log(`echoed: ${new TextDecoder().decode(sock.recv()).trim()}`);

sock.close(); // the client closes first, so the client keeps TIME_WAIT
world.runUntil(() => (conn.poll() & POLLIN) !== 0, { timeout: 5_000 });
conn.recv(); // end of stream
conn.close();
world.run({ until: world.now + 1_000 });
for (const r of ctcp.list()) console.log(`client: ${r.state} ${r.lport} -> ${r.rport}`);
console.log(`TcpExtTW = ${client.counters.get('TcpExtTW')}`);
world.run({ until: world.now + 60_000 });
console.log(`after 60 s: ${ctcp.list().length} client sockets left`);
