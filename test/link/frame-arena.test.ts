import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { FrameArena } from '../../src/link/frame-arena.js';
import { MemoryWire, type MemoryWireOptions } from '../../src/link/memory-wire.js';
import { PcapTap } from '../../src/link/pcap-tap.js';
import { World } from '../../src/sim/world.js';
import { POLLIN, POLLOUT } from '../../src/socket/poll.js';
import { Stack } from '../../src/stack.js';
import { TcpLayer } from '../../src/tcp/tcp.js';
import { sum16, sum16Portable } from '../../src/wire/checksum.js';
import { PcapWriter } from '../../src/wire/pcap.js';

describe('FrameArena', () => {
  test('slots taken and released in any order never overlap, views are exactly as long as asked', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 9000 })), { maxLength: 400 }),
        (ops) => {
          const a = new FrameArena(9000, 1 << 20);
          const live: { h: number; v: Uint8Array }[] = [];
          for (const [pick, len] of ops) {
            if (pick % 3 !== 0 || live.length === 0) {
              const h = a.take(len);
              if (h < 0) continue;
              const v = a.lastView;
              assert.equal(v.length, len);
              for (const l of live) {
                assert.notEqual(l.h, h);
                if (l.v.buffer !== v.buffer) continue;
                const ok =
                  v.byteOffset + len <= l.v.byteOffset || l.v.byteOffset + l.v.length <= v.byteOffset;
                assert.ok(ok, 'no overlap');
              }
              live.push({ h, v });
            } else {
              const [f] = live.splice(pick % live.length, 1);
              a.release(f.h);
            }
            assert.equal(a.live, live.length);
          }
        },
      ),
    );
  });

  test('the slot released last is the next one taken (still in cache)', () => {
    const a = new FrameArena(1500, 1 << 20);
    const hs = [a.take(1500), a.take(1500), a.take(1500)];
    a.release(hs[1]);
    assert.equal(a.take(1400), hs[1]);
    a.release(hs[0]);
    a.release(hs[2]);
    assert.equal(a.take(1500), hs[2]);
  });

  test('at its size limit take refuses, and works again once a slot comes back', () => {
    const a = new FrameArena(1500, 4 << 20);
    const hs: number[] = [];
    for (let h = a.take(1500); h >= 0; h = a.take(1500)) hs.push(h);
    assert.ok(hs.length >= 2000 && hs.length < 4000, `${hs.length} slots`);
    assert.equal(a.take(100) >= 0, true, 'short frames have slots of their own');
    a.release(hs[7]);
    assert.equal(a.take(1500), hs[7]);
    assert.equal(a.take(1501), -1, 'longer than the largest frame');
  });

  test('untake gives back exactly the slot the last take gave', () => {
    const a = new FrameArena(1500, 1 << 20);
    a.take(100);
    const second = a.take(1000);
    a.untake();
    assert.equal(a.live, 1);
    assert.equal(a.take(1000), second);
  });

  test('the slots are WebAssembly memory: sums read them in place and agree with the portable sum', () => {
    const a = new FrameArena(1500, 1 << 20);
    a.take(1500);
    const v = a.lastView;
    for (let i = 0; i < v.length; i++) v[i] = (i * 7 + 3) & 255;
    assert.equal(sum16(v, 0, v.length), sum16Portable(v, 0, v.length));
  });
});

/** A frame whose bytes say which it is. */
function frame(seq: number, len: number): Uint8Array {
  const f = new Uint8Array(len);
  for (let i = 0; i < len; i++) f[i] = (seq * 131 + i * 7) & 255;
  f[0] = seq >>> 8;
  f[1] = seq & 255;
  return f;
}

/** Bits in which a and b differ. */
function bitDiff(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    let x = a[i] ^ b[i];
    while (x !== 0) {
      n += x & 1;
      x >>>= 1;
    }
  }
  return n;
}

/**
 * Send `n` frames a→b to a receiver that borrows frames (copies them on
 * arrival, then scribbles over the frame it was lent, as a careless borrower
 * might), some built in lent buffers (txBuffer), and check every delivery.
 */
function borrowRun(opts: MemoryWireOptions, n: number, lendEvery: number) {
  const world = new World();
  const wire = world.add(new MemoryWire({ mtu: 2000, ...opts, clock: world.clock }));
  const got: Uint8Array[] = [];
  wire.b.rxBorrow = true;
  wire.b.onReceive = (f) => {
    got.push(f.slice());
    f.fill(0xee); // the wire must not rely on the frame after delivery
  };
  const sent: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const len = 40 + ((i * 397) % 1460);
    const src = frame(i, len);
    sent.push(src);
    const lent = i % lendEvery === 0 ? (wire.a.txBuffer?.(len) ?? null) : null;
    if (lent !== null) {
      lent.set(src);
      wire.a.transmit(lent);
    } else wire.a.transmit(src);
    if (i % 7 === 0) world.run({ until: world.now + 0.5 });
  }
  world.run();
  return { wire, got, sent };
}

describe('MemoryWire to a borrowing receiver (frame arena, lent buffers)', () => {
  test('plain: every frame arrives intact and in order, lent or copied', () => {
    const { got, sent, wire } = borrowRun({ delay: 1 }, 3000, 2);
    assert.equal(got.length, sent.length);
    for (let i = 0; i < sent.length; i++) assert.deepEqual(got[i], sent[i], `frame ${i}`);
    assert.equal(wire.statsAToB.delivered, 3000);
  });

  test('with loss, duplication, corruption and reordering: each delivery is a sent frame, duplicates independent', () => {
    const { got, sent, wire } = borrowRun(
      { delay: 1, loss: 0.05, duplicate: 0.1, corrupt: 0.05, reorder: 0.05, reorderDelay: 3 },
      4000,
      1,
    );
    const st = wire.statsAToB;
    assert.equal(got.length, st.delivered);
    assert.equal(st.delivered, st.sent - st.dropped.loss + st.duplicated);
    assert.ok(st.duplicated > 0 && st.corrupted > 0 && st.reordered > 0 && st.dropped.loss > 0);
    let corrupted = 0;
    const seen = new Map<number, number>();
    for (const f of got) {
      const seq = (f[0] << 8) | f[1];
      const d = bitDiff(f, sent[seq]);
      // A flipped bit may hit the sequence bytes: then it names another frame of a different length, or the same one.
      if (f.length === sent[seq].length && d <= 1) {
        corrupted += d;
        seen.set(seq, (seen.get(seq) ?? 0) + 1);
      } else corrupted++;
    }
    assert.ok(corrupted <= st.corrupted, `${corrupted} corrupted deliveries, ${st.corrupted} corruptions`);
    // Duplicates are copies made before corruption: a frame delivered twice is at most one bit off in one copy.
    let twice = 0;
    for (const k of seen.values()) if (k === 2) twice++;
    assert.ok(twice > 0);
  });

  test('a lent buffer not transmitted is taken back; an abandoned one does not disturb later frames', () => {
    const world = new World();
    const wire = world.add(new MemoryWire({ delay: 1, clock: world.clock }));
    const got: Uint8Array[] = [];
    wire.b.rxBorrow = true;
    wire.b.onReceive = (f) => got.push(f.slice());
    for (let round = 0; round < 2000; round++) {
      const abandoned = wire.a.txBuffer?.(1400) ?? null;
      assert.ok(abandoned !== null);
      abandoned.fill(0xaa);
      wire.a.transmit(frame(round, 600)); // a different frame: the lent buffer is given back
      if (round % 50 === 0) world.run({ until: world.now + 2 });
    }
    world.run();
    assert.equal(got.length, 2000);
    for (let i = 0; i < got.length; i++) assert.deepEqual(got[i], frame(i, 600));
  });

  test('no txBuffer toward a receiver that owns its frames (the default)', () => {
    const wire = new MemoryWire();
    wire.b.onReceive = () => {};
    assert.equal(wire.a.txBuffer?.(100), null);
  });

  test('a receiver that owns its frames keeps them intact after later traffic', () => {
    const world = new World();
    const wire = world.add(new MemoryWire({ delay: 1, clock: world.clock }));
    const got: Uint8Array[] = [];
    wire.b.onReceive = (f) => got.push(f);
    for (let i = 0; i < 5000; i++) wire.a.transmit(frame(i, 1000));
    world.run();
    for (let i = 0; i < 5000; i++) assert.deepEqual(got[i], frame(i, 1000));
  });
});

describe('TCP between two stacks over a MemoryWire', () => {
  /** Transfer `bytes` a→b; the receiver checks every byte against the pattern. */
  function transfer(tap: boolean, bytes: number, mtu: number) {
    const world = new World({ maxStepsSameTime: 1_000_000 });
    const wire = world.add(new MemoryWire({ delay: 0.5, mtu, clock: world.clock }));
    const a = world.add(new Stack({ seed: 1, name: 'a' }));
    const b = world.add(new Stack({ seed: 2, name: 'b' }));
    const cap = new PcapWriter();
    a.addInterface('eth0', tap ? new PcapTap(wire.a, cap, world.clock) : wire.a, {
      addrs: ['198.18.0.1/24'],
    });
    b.addInterface('eth0', tap ? new PcapTap(wire.b, cap, world.clock) : wire.b, {
      addrs: ['198.18.0.2/24'],
    });
    const tcpA = new TcpLayer(a);
    const tcpB = new TcpLayer(b);
    const ls = tcpB.socket(4);
    ls.bind('198.18.0.2', 80);
    ls.listen(4);
    const c = tcpA.socket(4);
    try {
      c.connect('198.18.0.2', 80);
    } catch (e) {
      assert.equal((e as { code?: string }).code, 'EINPROGRESS');
    }
    let s: ReturnType<typeof ls.accept> | null = null;
    const data = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i++) data[i] = (i * 31 + (i >>> 8)) & 255;
    let sent = 0;
    let got = 0;
    let bad = 0;
    const buf = new Uint8Array(65536);
    world.runUntil(
      () => {
        if (s === null && ls.poll() & POLLIN) s = ls.accept();
        while (sent < bytes && c.poll() & POLLOUT) sent += c.send(data, sent, bytes - sent);
        while (s !== null && s.poll() & POLLIN) {
          const n = s.recvInto(buf, 0, buf.length);
          for (let i = 0; i < n; i++) if (buf[i] !== data[got + i]) bad++;
          got += n;
        }
        return got === bytes;
      },
      { timeout: 60_000 },
    );
    return { got, bad, wire, a, b };
  }

  test('segments are built in lent frames (no copy on the wire) and arrive intact, checksums verified', () => {
    const { got, bad, wire, b } = transfer(false, 3 << 20, 1500);
    assert.equal(got, 3 << 20);
    assert.equal(bad, 0);
    const st = wire.statsAToB;
    assert.ok(st.zeroCopy > 0.99 * st.sent, `${st.zeroCopy} of ${st.sent} frames without a copy`);
    assert.ok(wire.statsBToA.zeroCopy > 0.99 * wire.statsBToA.sent);
    assert.equal(b.counters.get('TcpInCsumErrors'), 0);
  });

  test('through a PcapTap (a receiver that owns its frames) every frame is copied, and still intact', () => {
    const { got, bad, wire } = transfer(true, 1 << 20, 1500);
    assert.equal(got, 1 << 20);
    assert.equal(bad, 0);
    assert.equal(wire.statsAToB.zeroCopy, 0);
  });

  test('MTU 65535: large frames use lent frames too', () => {
    const { got, bad, wire } = transfer(false, 8 << 20, 65535);
    assert.equal(got, 8 << 20);
    assert.equal(bad, 0);
    assert.ok(wire.statsAToB.zeroCopy > 0.99 * wire.statsAToB.sent);
  });
});
