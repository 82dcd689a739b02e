import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSysError } from '../../src/errno.js';
import { MemoryWire } from '../../src/link/memory-wire.js';
import { World } from '../../src/sim/world.js';
import { Stack } from '../../src/stack.js';
import { TcpLayer } from '../../src/tcp/tcp.js';

test('a hard ICMP error (protocol unreachable from a host without TCP) aborts a connect in SYN_SENT', () => {
  const world = new World();
  const wire = world.add(new MemoryWire({ delay: 1, mtu: 1500, clock: world.clock }));
  const a = world.add(new Stack({ seed: 1 }));
  const b = world.add(new Stack({ seed: 2 }));
  a.addInterface('eth0', wire.a, { addrs: ['198.18.0.1/24'] });
  b.addInterface('eth0', wire.b, { addrs: ['198.18.0.2/24'] });
  const ta = new TcpLayer(a);
  const c = ta.socket(4);
  assert.throws(
    () => c.connect('198.18.0.2', 80),
    (e) => isSysError(e, 'EINPROGRESS'),
  );
  world.run({ until: 100 });
  assert.equal(c.state, 'CLOSED');
  assert.throws(
    () => c.connect('198.18.0.2', 80),
    (e) => isSysError(e) && e.code !== 'EALREADY' && e.code !== 'EINPROGRESS',
  );
});

test('ICMP fragmentation needed lowers the MSS and resends the head at the new size at once', async () => {
  const { establishPassive, Harness, LOCAL, PEER } = await import('./harness.js');
  const { emitIcmp, finishIcmp4, newIcmpHeader } = await import('../../src/wire/icmp.js');
  const { emitIpv4, newIpv4Header } = await import('../../src/wire/ipv4.js');
  const { mustParseAddr } = await import('../../src/wire/addr.js');
  const h = new Harness();
  const e = establishPassive(h);
  e.s.setsockopt('TCP_NODELAY', 1);
  e.s.send(new Uint8Array(1460));
  h.take();
  // Rebuild the packet we sent (IP + first 8 bytes of TCP) for the quote.
  const sent = new Uint8Array(28);
  const ip = newIpv4Header();
  ip.totalLen = 1500;
  ip.proto = 6;
  ip.df = true;
  ip.src.set(mustParseAddr(LOCAL));
  ip.dst.set(mustParseAddr(PEER));
  emitIpv4(ip, sent, 0);
  const seq = e.iss + 1;
  sent.set([0, 80, 0x9c, 0x40, seq >>> 24, (seq >>> 16) & 255, (seq >>> 8) & 255, seq & 255], 20);
  const ic = newIcmpHeader();
  ic.type = 3;
  ic.code = 4;
  ic.mtu = 1200;
  const pkt = new Uint8Array(20 + 8 + 28);
  emitIcmp(ic, pkt, 20, 4);
  pkt.set(sent, 28);
  finishIcmp4(pkt, 20, 36);
  const oip = newIpv4Header();
  oip.totalLen = pkt.length;
  oip.proto = 1;
  oip.src.set(mustParseAddr(PEER));
  oip.dst.set(mustParseAddr(LOCAL));
  emitIpv4(oip, pkt, 0);
  h.stack.receive('eth0', pkt);
  const out = h.take();
  assert.ok(out.length >= 1, 'resent at once');
  assert.equal(out[0].seq, seq);
  assert.equal(out[0].len, 1200 - 40);
  assert.equal(e.s.info().tcpi_snd_mss, 1200 - 40);
});
