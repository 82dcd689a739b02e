/**
 * Ground truth for the TCP option codec (DESIGN principle 3): the Linux
 * kernel, reached through a TUN device in a namespace we create, answers a
 * SYN and an out-of-order data segment that we build with emitTcp. For each
 * combination of tcp_timestamps / tcp_sack / tcp_window_scaling we check that
 *  - the kernel accepted our segments (so our checksums and layouts are valid),
 *  - its SYN (it connects to us), its SYN-ACK and its SACKing duplicate ACK
 *    parse and verify (tcpChecksumOk),
 *  - and re-emitting each parsed header from its fields with the Linux layout
 *    (writeLinuxOptions) gives back the kernel's exact bytes.
 * Needs root, /dev/net/tun, ip and python3; skipped with the reason otherwise.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { test } from 'node:test';
import { kernelTestsAvailable, Netns } from '../../src/node/netns.js';
import type { TunLink } from '../../src/node/tun.js';
import { pseudoSumV4 } from '../../src/wire/checksum.js';
import { emitIpv4Fast, newIpv4Header, parseIpv4 } from '../../src/wire/ipv4.js';
import {
  emitTcp,
  newTcpHeader,
  parseTcp,
  TCP_ACK,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  type TcpHeader,
  tcpChecksumOk,
  tcpFillChecksum,
} from '../../src/wire/tcp.js';
import { parseTcpOptionList } from '../../src/wire/tcp-options.js';
import { spawnPython, untilReady } from './netns-python.js';

const avail = kernelTestsAvailable();
const skip = avail.ok ? false : `needs root, /dev/net/tun, ip and python3: ${avail.reason}`;

const K4 = Uint8Array.from([198, 18, 0, 1]); // the kernel
const P4 = Uint8Array.from([198, 18, 0, 2]); // us
const KPORT = 5000;

/** An IPv4 frame carrying a TCP segment built from `h` (Linux option layout from its fields). */
function frame(h: TcpHeader, payload: Uint8Array, id: number): Uint8Array {
  const buf = new Uint8Array(20 + 60 + payload.length);
  const hl = emitTcp(h, buf, 20);
  buf.set(payload, 20 + hl);
  const seglen = hl + payload.length;
  tcpFillChecksum(buf, 20, seglen, pseudoSumV4(P4, K4, 6, seglen));
  emitIpv4Fast(buf, 0, 20 + seglen, id, 0x4000, 64, 6, 0, P4, K4);
  return buf.subarray(0, 20 + seglen);
}

interface KernelSegment {
  h: TcpHeader;
  /** The kernel's TCP header bytes. */
  raw: Uint8Array;
  kinds: string[];
}

/** Parse and verify a frame from the kernel; null if it is not TCP from K4 to our port. */
function fromKernel(f: Uint8Array, dport: number): KernelSegment | null {
  const ip = newIpv4Header();
  if (f[0] >> 4 !== 4 || parseIpv4(f, ip) !== null || ip.proto !== 6) return null;
  if (ip.src[3] !== 1 || ip.dst[3] !== 2) return null;
  const h = newTcpHeader();
  const seglen = ip.totalLen - ip.headerLen;
  assert.equal(parseTcp(f, h, ip.headerLen, seglen), null);
  if (h.dstPort !== dport) return null;
  assert.ok(
    tcpChecksumOk(f, ip.headerLen, seglen, pseudoSumV4(K4, P4, 6, seglen)),
    'kernel checksum verifies',
  );
  const list = parseTcpOptionList(f, ip.headerLen + 20, h.dataOffset - 20);
  assert.ok(Array.isArray(list));
  return {
    h,
    raw: f.slice(ip.headerLen, ip.headerLen + h.dataOffset),
    kinds: list.map((o) => o.kind),
  };
}

function reemit(k: KernelSegment): string {
  const out = new Uint8Array(60);
  const n = emitTcp(k.h, out, 0);
  return Buffer.from(out.subarray(0, n)).toString('hex');
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

async function waitFor<T>(get: () => T | undefined, ms: number): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 5));
  }
}

const CONFIGS = [
  {
    ts: 1,
    sack: 1,
    ws: 1,
    synAck: ['mss', 'sackOk', 'ts', 'nop', 'wscale'],
    dupAck: ['nop', 'nop', 'ts', 'nop', 'nop', 'sack'],
  },
  {
    ts: 0,
    sack: 1,
    ws: 1,
    synAck: ['mss', 'nop', 'nop', 'sackOk', 'nop', 'wscale'],
    dupAck: ['nop', 'nop', 'sack'],
  },
  {
    ts: 1,
    sack: 0,
    ws: 1,
    synAck: ['mss', 'nop', 'nop', 'ts', 'nop', 'wscale'],
    dupAck: ['nop', 'nop', 'ts'],
  },
  {
    ts: 1,
    sack: 1,
    ws: 0,
    synAck: ['mss', 'sackOk', 'ts'],
    dupAck: ['nop', 'nop', 'ts', 'nop', 'nop', 'sack'],
  },
  { ts: 0, sack: 0, ws: 0, synAck: ['mss'], dupAck: [] },
];

test("the kernel's SYN, SYN-ACK and SACK option layouts equal writeLinuxOptions, byte for byte", {
  skip,
  timeout: 90_000,
}, async () => {
  const ns = Netns.create('wireopts');
  let listener: ChildProcess | null = null;
  let tun: TunLink | null = null;
  try {
    tun = await ns.openTun({ nameInNetns: 'tun0', addrs: ['198.18.0.1/24'] });
    const frames: Uint8Array[] = [];
    tun.onReceive = (f) => {
      frames.push(f.slice());
    };
    // A listener that stays until we close its stdin (or 60 s pass).
    listener = spawnPython(
      ns,
      [
        'import socket, sys, signal',
        'signal.alarm(60)',
        's = socket.socket()',
        's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
        `s.bind(("198.18.0.1", ${KPORT}))`,
        's.listen(16)',
        'out = []',
        'print("ready", flush=True)',
        'for line in sys.stdin:',
        '    c = socket.socket()',
        '    c.setblocking(False)',
        '    c.connect_ex(("198.18.0.2", 6000))',
        '    out.append(c)',
      ],
      'pipe',
    );
    const ready = await untilReady(listener);
    assert.ok(ready, 'listener started');

    let sport = 41000;
    let id = 1;
    for (const cfg of CONFIGS) {
      ns.sysctlSync('net.ipv4.tcp_timestamps', cfg.ts);
      ns.sysctlSync('net.ipv4.tcp_sack', cfg.sack);
      ns.sysctlSync('net.ipv4.tcp_window_scaling', cfg.ws);
      const what = `ts=${cfg.ts} sack=${cfg.sack} ws=${cfg.ws}`;
      sport++;
      frames.length = 0;
      const find = (pred: (k: KernelSegment) => boolean) => () => {
        for (const f of frames) {
          const k = fromKernel(f, sport);
          if (k && pred(k)) return k;
        }
        return undefined;
      };

      // SYN offering everything, in Linux's layout.
      const iss = 1000;
      const syn = newTcpHeader();
      Object.assign(syn, { srcPort: sport, dstPort: KPORT, seq: iss, flags: TCP_SYN, window: 64240 });
      Object.assign(syn, { mss: 1460, sackOk: true, hasTs: true, tsVal: 5000, tsEcr: 0, wscale: 7 });
      tun.transmit(frame(syn, new Uint8Array(0), id++));
      const synAck = await waitFor(
        find((k) => (k.h.flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK)),
        3000,
      );
      assert.ok(synAck, `${what}: kernel answered our SYN`);
      assert.equal(synAck.h.ack, iss + 1);
      assert.deepEqual(synAck.kinds, cfg.synAck, `${what}: SYN-ACK option order`);
      assert.equal(reemit(synAck), hex(synAck.raw), `${what}: SYN-ACK re-emitted`);

      // Complete the handshake, then send bytes 100..199 leaving a hole at 0..99.
      const ack = newTcpHeader();
      const tsOn = synAck.h.hasTs;
      Object.assign(ack, { srcPort: sport, dstPort: KPORT, seq: iss + 1, ack: (synAck.h.seq + 1) >>> 0 });
      Object.assign(ack, { flags: TCP_ACK, window: 502, hasTs: tsOn, tsVal: 5001, tsEcr: synAck.h.tsVal });
      tun.transmit(frame(ack, new Uint8Array(0), id++));
      const data = newTcpHeader();
      Object.assign(data, ack, {
        seq: iss + 1 + 100,
        flags: TCP_ACK | TCP_PSH,
        tsVal: 5002,
        sackBlocks: new Uint32Array(8),
      });
      tun.transmit(frame(data, new Uint8Array(100).fill(0x61), id++));
      const dup = await waitFor(
        find((k) => k.h.flags === TCP_ACK && k.h.ack === iss + 1),
        3000,
      );
      assert.ok(dup, `${what}: kernel sent a duplicate ACK for the out-of-order segment`);
      assert.deepEqual(dup.kinds, cfg.dupAck, `${what}: duplicate ACK option order`);
      if (cfg.sack) {
        assert.equal(dup.h.sackCount, 1);
        assert.deepEqual([...dup.h.sackBlocks.subarray(0, 2)], [iss + 101, iss + 201]);
      }
      assert.equal(reemit(dup), hex(dup.raw), `${what}: duplicate ACK re-emitted`);

      // The kernel's own SYN (it connects to us) uses the same layout.
      frames.length = 0;
      listener.stdin!.write('connect\n');
      let ksyn: KernelSegment | undefined;
      for (let tries = 0; tries < 300 && !ksyn; tries++) {
        await new Promise((r) => setTimeout(r, 10));
        for (const f of frames) {
          const k = fromKernel(f, 6000);
          if (k && k.h.flags === TCP_SYN) ksyn = k;
        }
      }
      assert.ok(ksyn, `${what}: kernel sent a SYN`);
      assert.deepEqual(ksyn.kinds, cfg.synAck, `${what}: SYN option order`);
      assert.equal(reemit(ksyn), hex(ksyn.raw), `${what}: SYN re-emitted`);
      const refuse = newTcpHeader();
      Object.assign(refuse, {
        srcPort: 6000,
        dstPort: ksyn.h.srcPort,
        ack: (ksyn.h.seq + 1) >>> 0,
        flags: TCP_RST | TCP_ACK,
      });
      tun.transmit(frame(refuse, new Uint8Array(0), id++));

      // Reset the connection so the next round starts clean.
      const rst = newTcpHeader();
      Object.assign(rst, { srcPort: sport, dstPort: KPORT, seq: iss + 1, flags: TCP_RST });
      tun.transmit(frame(rst, new Uint8Array(0), id++));
    }
  } finally {
    if (listener) {
      listener.stdin?.end();
      if (listener.exitCode === null) listener.kill('SIGKILL');
    }
    if (tun) await tun.close();
    ns.delete();
  }
});
