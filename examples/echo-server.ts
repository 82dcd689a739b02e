/**
 * An echo server and a client, written exactly as with node:net, on two
 * usnet stacks joined by an in-memory wire (no root, no TUN).
 *
 *   node --import tsx examples/echo-server.ts
 */
import { twoHosts } from '../src/node/net/two-hosts.js';

const hosts = twoHosts(); // a = 198.18.0.1, b = 198.18.0.2, each with a node:net-like API
const net = hosts.netB; // the server's
const server = net.createServer((socket) => {
  console.log(`server: connection from ${socket.remoteAddress}:${socket.remotePort}`);
  socket.pipe(socket); // echo
  socket.on('end', () => console.log('server: client ended, closing too'));
});

server.listen(7, '198.18.0.2', () => {
  const { address, port } = server.address() ?? { address: '?', port: 0 };
  console.log(`server: listening on ${address}:${port}`);
  const client = hosts.netA.connect({ host: '198.18.0.2', port: 7 }, () => {
    console.log(`client: connected from ${client.localAddress}:${client.localPort}`);
    for (const line of ['hello', 'from', 'a user-space TCP stack']) client.write(`${line}\n`);
    client.end();
  });
  let echoed = '';
  client.on('data', (d: Buffer) => {
    echoed += d.toString();
  });
  client.on('end', () => {
    for (const line of echoed.trimEnd().split('\n')) console.log(`client: echoed ${JSON.stringify(line)}`);
  });
  client.on('close', () => {
    console.log(`client: closed; ${client.bytesWritten} bytes sent, ${client.bytesRead} received`);
    server.close(() => {
      console.log('server: closed');
      hosts.close(); // stop the driver: the process exits
    });
  });
});
