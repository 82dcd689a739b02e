/**
 * ECN (RFC 3168) between two usnet stacks over a MemoryWire: negotiation,
 * ECT(0) on new data only, the CE → ECE → CWR loop and the once-per-window
 * reduction, with a "router" on the client's link that can mark CE. The
 * exact segment shapes are checked against the kernel by the drill scripts
 * test/drill/ecn-*.pkt; these tests check the loop end to end.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSysError } from '../../src/errno.js';
import type { Link } from '../../src/link/link.js';
import { MemoryWire, type MemoryWireOptions } from '../../src/link/memory-wire.js';
import { World } from '../../src/sim/world.js';
import type { TcpSocket } from '../../src/socket/tcp-socket.js';
import { Stack } from '../../src/stack.js';
import { Sysctl } from '../../src/sysctl.js';
import { TcpLayer } from '../../src/tcp/tcp.js';
import { checksum } from '../../src/wire/checksum.js';
import { emitIpv4, newIpv4Header, parseIpv4 } from '../../src/wire/ipv4.js';

const ECE = 0x40;
const CWR = 0x80;
const SYN = 0x02;

interface Seen {
  /** ECN field of the IP header. */
  ecn: number;
  flags: number;
  seq: number;
  len: number;
}

function tcpView(frame: Uint8Array): Seen & { ihl: number } {
  const ihl = (frame[0] & 15) * 4;
  const total = (frame[2] << 8) | frame[3];
  const doff = (frame[ihl + 12] >> 4) * 4;
  const seq =
    ((frame[ihl + 4] << 24) | (frame[ihl + 5] << 16) | (frame[ihl + 6] << 8) | frame[ihl + 7]) >>> 0;
  return { ihl, ecn: frame[1] & 3, flags: frame[ihl + 13], seq, len: total - ihl - doff };
}

/**
 * The client's side of the wire, seen from a router: records what the
 * client sends and receives, and sets CE on the ECT packets `markCe`
 * picks (as an AQM would instead of dropping them, RFC 3168 §5).
 */
class Router implements Link {
  onReceive: ((frame: Uint8Array) => void) | null = null;
  readonly out: Seen[] = [];
  readonly in: Seen[] = [];
  marked = 0;
  constructor(
    private readonly inner: Link,
    private readonly markCe: (s: Seen, dataIndex: number) => boolean,
  ) {
    inner.onReceive = (frame) => {
      this.in.push(tcpView(frame));
      this.onReceive?.(frame);
    };
  }
  get mtu(): number {
    return this.inner.mtu;
  }
  private dataSent = 0;
  transmit(frame: Uint8Array): void {
    const v = tcpView(frame);
    if (v.len > 0 && v.ecn !== 0 && this.markCe(v, this.dataSent)) {
      // CE, and the IPv4 header checksum again.
      frame[1] |= 3;
      frame[10] = 0;
      frame[11] = 0;
      const c = checksum(frame, 0, v.ihl);
      frame[10] = c >> 8;
      frame[11] = c & 0xff;
      this.marked++;
    }
    if (v.len > 0) this.dataSent++;
    this.out.push({ ecn: frame[1] & 3, flags: v.flags, seq: v.seq, len: v.len });
    this.inner.transmit(frame);
  }
}

interface Run {
  wire: MemoryWire;
  router: Router;
  a: Stack;
  b: Stack;
  ca: TcpSocket;
  cb: TcpSocket;
  world: World;
}

/** a (tcp_ecn from `ecnA`) connects to b and sends `bytes`; b reads them all. */
function transfer(
  ecnA: number,
  ecnB: number,
  bytes: number,
  markCe: (s: Seen, i: number) => boolean = () => false,
  wireOpts: MemoryWireOptions = {},
): Run {
  const world = new World({ maxStepsSameTime: 1_000_000 });
  const wire = world.add(new MemoryWire({ delay: 5, mtu: 1500, ...wireOpts, clock: world.clock }));
  const a = world.add(new Stack({ seed: 1, name: 'a', sysctl: { 'net.ipv4.tcp_ecn': ecnA } }));
  const b = world.add(new Stack({ seed: 2, name: 'b', sysctl: { 'net.ipv4.tcp_ecn': ecnB } }));
  const router = new Router(wire.a, markCe);
  a.addInterface('eth0', router, { addrs: ['198.18.0.1/24'] });
  b.addInterface('eth0', wire.b, { addrs: ['198.18.0.2/24'] });
  const ta = new TcpLayer(a);
  const tb = new TcpLayer(b);
  const l = tb.socket(4);
  l.bind('198.18.0.2', 5001);
  l.listen(4);
  const ca = ta.socket(4);
  assert.throws(
    () => ca.connect('198.18.0.2', 5001),
    (e) => isSysError(e, 'EINPROGRESS'),
  );
  let cb: TcpSocket | null = null;
  const data = new Uint8Array(bytes).map((_, i) => (i * 7) & 0xff);
  let sent = 0;
  let got = 0;
  let ok = true;
  const done = world.runUntil(
    () => {
      if (cb === null) {
        try {
          cb = l.accept();
        } catch {
          return false;
        }
      }
      while (sent < bytes) {
        try {
          sent += ca.send(data, sent, bytes - sent);
        } catch (e) {
          if (isSysError(e, 'EAGAIN')) break;
          throw e;
        }
      }
      for (;;) {
        let r: Uint8Array;
        try {
          r = cb.recv(1 << 16);
        } catch (e) {
          if (isSysError(e, 'EAGAIN')) break;
          throw e;
        }
        if (r.length === 0) break;
        for (let i = 0; i < r.length; i++) if (r[i] !== (((got + i) * 7) & 0xff)) ok = false;
        got += r.length;
      }
      return got === bytes;
    },
    { timeout: 120_000 },
  );
  assert.ok(done, `transfer stalled at ${got} of ${bytes}`);
  assert.ok(ok, 'bytes arrived intact');
  return { wire, router, a, b, ca, cb: cb as unknown as TcpSocket, world };
}

test('sysctl: tcp_ecn takes 0..2 (default 2), tcp_ecn_fallback 0..1 (default 1), as the 6.18 kernel', () => {
  const s = new Sysctl();
  assert.equal(s.v['net.ipv4.tcp_ecn'], 2);
  assert.equal(s.v['net.ipv4.tcp_ecn_fallback'], 1);
  s.set('net.ipv4.tcp_ecn', 1);
  s.set('net.ipv4.tcp_ecn', '0');
  for (const bad of [3, -1, 5]) {
    assert.throws(
      () => s.set('net.ipv4.tcp_ecn', bad),
      (e) => isSysError(e, 'EINVAL'),
    );
  }
  assert.throws(
    () => s.set('net.ipv4.tcp_ecn_fallback', 2),
    (e) => isSysError(e, 'EINVAL'),
  );
  s.set('net.ipv4.tcp_ecn_fallback', 0);
  assert.equal(s.v['net.ipv4.tcp_ecn_fallback'], 0);
});

test('tcp_ecn=1 asks, tcp_ecn=2 agrees: new data leaves ECT(0) both ways, ACKs and SYNs Not-ECT', () => {
  const r = transfer(1, 2, 100_000);
  const out = r.router.out;
  assert.equal(out[0].flags & (SYN | ECE | CWR), SYN | ECE | CWR, 'SYN asks with ECE|CWR');
  const synAck = r.router.in[0];
  assert.equal(synAck.flags & (SYN | ECE | CWR), SYN | ECE, 'SYN-ACK agrees with ECE alone');
  assert.equal(out[0].ecn, 0);
  assert.equal(synAck.ecn, 0);
  const data = out.filter((s) => s.len > 0);
  assert.ok(data.length > 60);
  assert.ok(
    data.every((s) => s.ecn === 2),
    'every data segment ECT(0) (no loss: no retransmission)',
  );
  assert.ok(
    out.filter((s) => s.len === 0).every((s) => s.ecn === 0),
    'pure ACKs and SYN Not-ECT',
  );
  assert.ok(r.router.in.filter((s) => s.len === 0).every((s) => s.ecn === 0));
  assert.equal(r.b.counters.get('IpExtInECT0Pkts'), data.length);
  assert.equal(r.b.counters.get('IpExtInCEPkts'), 0);
  // Reply from b: ECT(0) as well.
  r.cb.send(new Uint8Array(500));
  r.world.run({ until: r.world.now + 50 });
  const reply = r.router.in.filter((s) => s.len > 0);
  assert.equal(reply.length, 1);
  assert.equal(reply[0].ecn, 2);
  assert.equal(r.a.counters.get('IpExtInECT0Pkts'), 1);
  // TCP_INFO: TCPI_OPT_ECN on both; ECN_SEEN on the side that received ECT data.
  assert.equal(r.ca.info().tcpi_options & 8, 8);
  assert.equal(r.cb.info().tcpi_options & 24, 24);
  assert.ok(
    [...out, ...r.router.in].every((s) => s.flags & SYN || !(s.flags & ECE)),
    'no echo without CE',
  );
});

test('ECN off unless asked: tcp_ecn=2 on both ends (the default) and tcp_ecn=1 towards tcp_ecn=0', () => {
  for (const [ea, eb] of [
    [2, 2],
    [1, 0],
  ]) {
    const r = transfer(ea, eb, 20_000);
    const out = r.router.out;
    assert.equal(out[0].flags & (ECE | CWR), ea === 1 ? ECE | CWR : 0);
    assert.equal(r.router.in[0].flags & (ECE | CWR), 0, 'the SYN-ACK does not agree');
    assert.ok(out.every((s) => s.ecn === 0) && r.router.in.every((s) => s.ecn === 0));
    assert.equal(r.ca.info().tcpi_options & 8, 0);
  }
});

test('one CE mark: ECE until CWR, one window reduction (ssthresh = cwnd / 2), every byte delivered', () => {
  const r = transfer(1, 2, 400_000, (_s, i) => i === 40);
  assert.equal(r.router.marked, 1);
  assert.equal(r.b.counters.get('IpExtInCEPkts'), 1);
  const acks = r.router.in;
  const firstEce = acks.findIndex((s) => s.flags & ECE && !(s.flags & SYN));
  assert.ok(firstEce > 0, 'the receiver echoed the mark');
  // The echo is contiguous: from the ACK of the CE segment until the CWR arrived.
  let lastEce = firstEce;
  while (lastEce + 1 < acks.length && acks[lastEce + 1].flags & ECE) lastEce++;
  assert.ok(
    acks.slice(lastEce + 1).every((s) => !(s.flags & ECE)),
    'no ECE after the echo stopped',
  );
  const cwrs = r.router.out.filter((s) => s.flags & CWR && !(s.flags & SYN));
  assert.equal(cwrs.length, 1, 'exactly one data segment carries CWR');
  assert.ok(cwrs[0].len > 0 && cwrs[0].ecn === 2, 'CWR rides on new (ECT) data');
  const info = r.ca.info();
  assert.ok(info.tcpi_snd_ssthresh < 0x7fffffff, 'ssthresh was set by the reduction');
  assert.ok(info.tcpi_delivered_ce >= 1);
  assert.equal(r.a.counters.get('TcpExtTCPDeliveredCE'), info.tcpi_delivered_ce);
  assert.equal(r.a.counters.get('TcpRetransSegs'), 0, 'marking is not loss: nothing resent');
});

test('a reduction per window: CE on every data segment still delivers everything, with far fewer CWRs than marks', () => {
  const r = transfer(1, 2, 300_000, () => true);
  const cwrs = r.router.out.filter((s) => s.flags & CWR && !(s.flags & SYN)).length;
  assert.ok(r.router.marked > 100);
  assert.ok(cwrs >= 2, `${cwrs} reductions`);
  assert.ok(cwrs * 2 < r.router.marked, `${cwrs} CWRs for ${r.router.marked} marks: at most one per window`);
  const info = r.ca.info();
  assert.ok(info.tcpi_snd_cwnd <= 4, `cwnd ${info.tcpi_snd_cwnd} driven down by the marks`);
  assert.equal(r.a.counters.get('TcpRetransSegs'), 0);
});

/** An IPv4 (or IPv6) packet of `len` bytes with ECN field `ecn`. */
function packet(family: 4 | 6, ecn: number, len = 600): Uint8Array {
  const buf = new Uint8Array(len);
  if (family === 4) {
    const h = newIpv4Header();
    h.totalLen = len;
    h.proto = 17;
    h.ttl = 64;
    h.tos = 0x20 | ecn; // a DSCP to keep
    h.src.set([198, 18, 0, 1]);
    h.dst.set([198, 18, 0, 2]);
    emitIpv4(h, buf, 0);
  } else {
    buf[0] = 0x60 | 0x2; // traffic class 0x2x
    buf[1] = ecn << 4;
    buf[4] = (len - 40) >> 8;
    buf[5] = (len - 40) & 0xff;
    buf[6] = 59;
  }
  return buf;
}

test('MemoryWire ecnMarkBytes: ECT packets finding a queue above the threshold leave CE (IPv4 checksum kept), others untouched', () => {
  const world = new World();
  const wire = world.add(new MemoryWire({ rateBps: 1_000_000, ecnMarkBytes: 1000, clock: world.clock }));
  const got: Uint8Array[] = [];
  wire.b.onReceive = (f) => got.push(f.slice());
  // Queue: 0, 600, 1200 (> 1000: marked), 1800 (Not-ECT: unmarked), 2400 (ECT(1): marked), IPv6 too.
  wire.a.transmit(packet(4, 2));
  wire.a.transmit(packet(4, 2));
  wire.a.transmit(packet(4, 2));
  wire.a.transmit(packet(4, 0));
  wire.a.transmit(packet(4, 1));
  wire.a.transmit(packet(6, 2));
  world.run({ until: 1000 });
  assert.equal(got.length, 6);
  const h = newIpv4Header();
  const ecn4 = got.slice(0, 5).map((f) => {
    assert.equal(parseIpv4(f, h), null, 'header checksum still right');
    assert.equal(h.tos >> 2, 0x20 >> 2, 'DSCP kept');
    return h.tos & 3;
  });
  assert.deepEqual(ecn4, [2, 2, 3, 0, 3]);
  assert.equal((got[5][1] >> 4) & 3, 3);
  assert.equal(got[5][0] & 0xf, 0x2, 'traffic class DSCP bits kept');
  assert.equal(wire.statsAToB.ceMarked, 3);
  assert.equal(wire.statsAToB.dropped.queue, 0);
});

test('an ECN bottleneck (ecnMarkBytes below queueLimit) keeps an ECN flow from losing packets; without ECN the queue overflows', () => {
  const bottleneck: MemoryWireOptions = {
    aToB: { rateBps: 20_000_000, queueLimit: 60_000, ecnMarkBytes: 15_000 },
  };
  const ecn = transfer(1, 2, 3_000_000, () => false, bottleneck);
  const st = ecn.wire.statsAToB;
  assert.ok(st.ceMarked > 0, 'the queue built up and marked');
  assert.equal(st.dropped.queue, 0, 'marks instead of drops');
  assert.equal(ecn.a.counters.get('TcpRetransSegs'), 0);
  assert.ok(ecn.router.out.filter((s) => s.flags & CWR && !(s.flags & SYN)).length > 0);
  const plain = transfer(2, 2, 3_000_000, () => false, bottleneck);
  assert.equal(plain.wire.statsAToB.ceMarked, 0, 'Not-ECT traffic is never marked');
  assert.ok(plain.wire.statsAToB.dropped.queue > 0, 'without ECN the same queue overflows');
  assert.ok(plain.a.counters.get('TcpRetransSegs') > 0);
});
