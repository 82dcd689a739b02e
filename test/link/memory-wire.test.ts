import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryWire, type MemoryWireOptions } from '../../src/link/memory-wire.js';
import { World } from '../../src/sim/world.js';

/** A frame carrying its sequence number in the first 4 bytes. */
function frame(seq: number, len = 100): Uint8Array {
  const f = new Uint8Array(len);
  new DataView(f.buffer).setUint32(0, seq);
  for (let i = 4; i < len; i++) f[i] = (seq * 31 + i) & 255;
  return f;
}
const seqOf = (f: Uint8Array): number => new DataView(f.buffer, f.byteOffset).getUint32(0);

type Delivery = { t: number; seq: number; bytes: Uint8Array };

/** Send `n` frames a→b, one every `gap` ms, and collect what b receives. */
function runTraffic(opts: MemoryWireOptions, n: number, gap = 1, len = 100) {
  const world = new World();
  const wire = world.add(new MemoryWire({ ...opts, clock: world.clock }));
  const got: Delivery[] = [];
  wire.b.onReceive = (f) => got.push({ t: world.now, seq: seqOf(f), bytes: f });
  for (let i = 0; i < n; i++) {
    if (i > 0 && gap > 0) world.run({ until: world.now + gap });
    wire.a.transmit(frame(i, len));
  }
  world.run();
  return { wire, got, world };
}

/** |observed - n·p| within 5 binomial standard deviations. */
function assertBinomial(observed: number, n: number, p: number, what: string): void {
  const mean = n * p;
  const sd = Math.sqrt(n * p * (1 - p));
  assert.ok(Math.abs(observed - mean) <= 5 * sd, `${what}: ${observed}, expected ${mean} ± ${5 * sd}`);
}

describe('MemoryWire basics', () => {
  test('delivery only in advance(), never inside transmit(), even with zero delay', () => {
    const wire = new MemoryWire();
    const got: Uint8Array[] = [];
    wire.b.onReceive = (f) => got.push(f);
    const f = frame(1);
    wire.a.transmit(f);
    assert.equal(got.length, 0);
    f[10] ^= 0xff; // the wire copied the frame: changing ours afterwards does not matter
    assert.equal(wire.nextDeadline(), 0);
    wire.advance(0);
    assert.equal(got.length, 1);
    assert.deepEqual(got[0], frame(1));
  });

  test('a reply sent from inside onReceive waits for the next advance()', () => {
    const wire = new MemoryWire();
    let bGot = 0;
    let aGot = 0;
    wire.b.onReceive = (f) => {
      bGot++;
      wire.b.transmit(f);
    };
    wire.a.onReceive = () => aGot++;
    wire.a.transmit(frame(1));
    wire.advance(0);
    assert.deepEqual([bGot, aGot], [1, 0]);
    assert.equal(wire.nextDeadline(), 0);
    wire.advance(0);
    assert.deepEqual([bGot, aGot], [1, 1]);
  });

  test('both directions, per-direction options, stats', () => {
    const { wire } = (() => {
      const world = new World();
      const wire = world.add(new MemoryWire({ clock: world.clock, delay: 5, aToB: { loss: 1 } }));
      const atA: number[] = [];
      wire.a.onReceive = (f) => atA.push(seqOf(f));
      wire.b.onReceive = () => assert.fail('a→b loses everything');
      wire.a.transmit(frame(1));
      wire.b.transmit(frame(2));
      world.run();
      assert.deepEqual(atA, [2]);
      assert.equal(world.now, 5);
      return { wire };
    })();
    assert.equal(wire.statsAToB.sent, 1);
    assert.equal(wire.statsAToB.dropped.loss, 1);
    assert.equal(wire.statsAToB.delivered, 0);
    assert.equal(wire.statsBToA.delivered, 1);
    assert.equal(wire.statsBToA.deliveredBytes, 100);
  });

  test('no receiver attached: dropped and counted', () => {
    const wire = new MemoryWire();
    wire.a.transmit(frame(1));
    wire.advance(0);
    assert.equal(wire.statsAToB.dropped.noReceiver, 1);
    assert.equal(wire.inFlight, 0);
  });

  test('MTU: frames above it dropped and counted, frames of exactly the MTU pass', () => {
    const { wire, got } = runTraffic({ mtu: 1280 }, 0);
    assert.equal(wire.a.mtu, 1280);
    wire.a.transmit(new Uint8Array(1280));
    wire.a.transmit(new Uint8Array(1281));
    wire.advance(1);
    assert.equal(got.length, 1);
    assert.equal(wire.statsAToB.dropped.mtu, 1);
  });

  test('bad options are refused', () => {
    assert.throws(() => new MemoryWire({ loss: 1.5 }), RangeError);
    assert.throws(() => new MemoryWire({ delay: -1 }), RangeError);
    assert.throws(() => new MemoryWire({ burstLoss: { p: -0.1, r: 0.5 } }), RangeError);
  });

  test('setImpairments changes the link at run time', () => {
    const world = new World();
    const wire = world.add(new MemoryWire({ clock: world.clock }));
    const got: number[] = [];
    wire.b.onReceive = (f) => got.push(seqOf(f));
    wire.a.transmit(frame(1));
    world.run();
    wire.setImpairments('aToB', { loss: 1 });
    wire.a.transmit(frame(2));
    world.run();
    wire.setImpairments('both', { loss: 0, delay: 7 });
    wire.a.transmit(frame(3));
    world.run();
    assert.deepEqual(got, [1, 3]);
    assert.equal(world.now, 7);
  });
});

describe('MemoryWire timing', () => {
  test('delay: every frame arrives exactly `delay` after it was sent', () => {
    const { got } = runTraffic({ delay: 12.5 }, 50, 3);
    assert.equal(got.length, 50);
    for (const d of got) assert.equal(d.t, d.seq * 3 + 12.5);
  });

  test('jitter: arrivals within [delay, delay + jitter), spread over the range, FIFO kept by default', () => {
    const { got } = runTraffic({ delay: 10, jitter: 20 }, 2000, 0.01);
    assert.equal(got.length, 2000);
    const extra = got.map((d) => d.t - d.seq * 0.01 - 10);
    assert.ok(Math.min(...extra) >= -1e-9 && Math.max(...extra) < 20 + 1e-9);
    assert.ok(Math.max(...extra) > 19, 'the range is used');
    for (let i = 1; i < got.length; i++) assert.ok(got[i].seq > got[i - 1].seq, 'no reordering');
  });

  test('jitter with jitterReorders: frames overtake each other, each within its own window', () => {
    const { got } = runTraffic({ delay: 10, jitter: 20, jitterReorders: true }, 2000, 0.01);
    let inversions = 0;
    for (let i = 1; i < got.length; i++) if (got[i].seq < got[i - 1].seq) inversions++;
    assert.ok(inversions > 100, `${inversions} inversions`);
    for (const d of got) {
      const extra = d.t - d.seq * 0.01 - 10;
      assert.ok(extra >= -1e-9 && extra < 20 + 1e-9);
    }
    // Uniform on [0, 20): the mean extra delay is 10 (± 5 sd of the mean).
    const mean = got.reduce((s, d) => s + (d.t - d.seq * 0.01 - 10), 0) / got.length;
    const sdMean = 20 / Math.sqrt(12) / Math.sqrt(got.length);
    assert.ok(Math.abs(mean - 10) < 5 * sdMean, `mean extra ${mean}`);
  });

  test('bandwidth: serialization delay back to back, then propagation delay', () => {
    // 8,000 bit/s = 1 byte per ms: a 100-byte frame takes 100 ms to serialize.
    const { got } = runTraffic({ rateBps: 8000, delay: 5 }, 5, 0);
    assert.deepEqual(
      got.map((d) => d.t),
      [105, 205, 305, 405, 505],
    );
    // Spaced wider than the serialization time, frames do not queue.
    const spaced = runTraffic({ rateBps: 8000, delay: 5 }, 3, 250).got;
    assert.deepEqual(
      spaced.map((d) => d.t),
      [105, 355, 605],
    );
  });

  test('queue limit: tail drop while the queue is full, accepted again once it drains', () => {
    const world = new World();
    const wire = world.add(new MemoryWire({ clock: world.clock, rateBps: 8000, queueLimit: 250 }));
    const got: [number, number][] = [];
    wire.b.onReceive = (f) => got.push([seqOf(f), world.now]);
    for (let i = 0; i < 4; i++) wire.a.transmit(frame(i)); // 100 + 100 fit, 300 > 250
    assert.equal(wire.statsAToB.dropped.queue, 2);
    world.run({ until: 100 }); // frame 0 fully serialized: 100 bytes queued
    wire.a.transmit(frame(4)); // 200 <= 250: accepted
    wire.a.transmit(frame(5)); // 300 > 250: dropped
    assert.equal(wire.statsAToB.dropped.queue, 3);
    world.run();
    assert.deepEqual(got, [
      [0, 100],
      [1, 200],
      [4, 300],
    ]);
  });
});

describe('MemoryWire impairments at the requested rate', () => {
  const N = 20_000;

  test('random loss', () => {
    const { wire, got } = runTraffic({ loss: 0.1, seed: 3 }, N, 0.1);
    assertBinomial(wire.statsAToB.dropped.loss, N, 0.1, 'lost');
    assert.equal(got.length, N - wire.statsAToB.dropped.loss);
  });

  test('duplication', () => {
    const { wire, got } = runTraffic({ duplicate: 0.05, seed: 4 }, N, 0.1);
    const st = wire.statsAToB;
    assertBinomial(st.duplicated, N, 0.05, 'duplicated');
    assert.equal(got.length, N + st.duplicated);
    const seen = new Map<number, number>();
    for (const d of got) seen.set(d.seq, (seen.get(d.seq) ?? 0) + 1);
    assert.equal([...seen.values()].filter((c) => c === 2).length, st.duplicated);
    assert.equal(st.delivered, got.length);
  });

  test('corruption flips exactly one bit of the corrupted frames', () => {
    const { wire, got } = runTraffic({ corrupt: 0.02, seed: 5 }, N, 0.1, 64);
    // No loss and FIFO: the i-th delivery is frame i, even when its sequence
    // number field was the part hit.
    assert.equal(got.length, N);
    let flipped = 0;
    let corruptedFrames = 0;
    got.forEach((d, idx) => {
      const orig = frame(idx, 64);
      let bits = 0;
      for (let i = 0; i < 64; i++) {
        let x = orig[i] ^ d.bytes[i];
        while (x) {
          bits += x & 1;
          x >>= 1;
        }
      }
      assert.ok(bits <= 1);
      flipped += bits;
      if (bits) corruptedFrames++;
    });
    const st = wire.statsAToB;
    assertBinomial(st.corrupted, N, 0.02, 'corrupted');
    assert.equal(flipped, st.corrupted);
    assert.equal(corruptedFrames, st.corrupted);
  });

  test('reordering: the chosen share is held back and overtaken', () => {
    const { wire, got } = runTraffic({ reorder: 0.05, reorderDelay: 5, seed: 6 }, N, 1);
    const st = wire.statsAToB;
    assertBinomial(st.reordered, N, 0.05, 'reordered');
    assert.equal(got.length, N);
    let maxSeen = -1;
    let late = 0;
    for (const d of got) {
      if (d.seq < maxSeen) late++;
      else maxSeen = d.seq;
    }
    // Every held frame is overtaken, unless all 5 frames after it were held too.
    assert.ok(late <= st.reordered && late >= st.reordered - 3, `${late} late, ${st.reordered} held`);
  });

  test('Gilbert-Elliott burst loss: mean rate p/(p+r), mean burst length 1/r', () => {
    const n = 50_000;
    const p = 0.01;
    const r = 0.2;
    const { wire, got } = runTraffic({ burstLoss: { p, r }, seed: 7 }, n, 0.1, 20);
    const lost = wire.statsAToB.dropped.burst;
    const pi = p / (p + r);
    // Losses are correlated: the variance of a two-state Markov chain's
    // occupancy is n·π(1−π)·(1+λ)/(1−λ), λ = 1−p−r.
    const lambda = 1 - p - r;
    const sd = Math.sqrt((n * pi * (1 - pi) * (1 + lambda)) / (1 - lambda));
    assert.ok(Math.abs(lost - n * pi) <= 5 * sd, `lost ${lost}, expected ${n * pi} ± ${5 * sd}`);
    // Bursts: runs of missing sequence numbers.
    const present = new Uint8Array(n);
    for (const d of got) present[d.seq] = 1;
    let runs = 0;
    for (let i = 0; i < n; i++) if (!present[i] && (i === 0 || present[i - 1])) runs++;
    const meanBurst = lost / runs;
    // Geometric with mean 1/r = 5, sd sqrt(1-r)/r ≈ 4.5 per burst.
    const sdMean = Math.sqrt(1 - r) / r / Math.sqrt(runs);
    assert.ok(Math.abs(meanBurst - 1 / r) <= 5 * sdMean, `mean burst ${meanBurst}`);
    // Random loss at the same rate has bursts of ~1/(1-π) ≈ 1.05.
    const rnd = runTraffic({ loss: pi, seed: 7 }, n, 0.1, 20);
    const pr = new Uint8Array(n);
    for (const d of rnd.got) pr[d.seq] = 1;
    let rruns = 0;
    for (let i = 0; i < n; i++) if (!pr[i] && (i === 0 || pr[i - 1])) rruns++;
    assert.ok(rnd.wire.statsAToB.dropped.loss / rruns < 1.2);
  });

  test('lossGood/lossBad: partial loss in each state', () => {
    const n = 50_000;
    const { wire } = runTraffic(
      { burstLoss: { p: 0.1, r: 0.1, lossBad: 0.5, lossGood: 0.1 }, seed: 8 },
      n,
      0.1,
      20,
    );
    // π = 1/2 in each state: mean loss 0.3. Variance per frame: the
    // Bernoulli part within each state, plus the state-dependent mean's
    // variance π(1−π)(qB−qG)² inflated by the chain's correlation
    // (1+λ)/(1−λ), λ = 1−p−r = 0.8.
    const lost = wire.statsAToB.dropped.burst;
    const within = 0.5 * 0.5 * 0.5 + 0.5 * 0.1 * 0.9;
    const between = 0.25 * (0.5 - 0.1) ** 2 * (1.8 / 0.2);
    const sd = Math.sqrt(n * (within + between));
    assert.ok(Math.abs(lost - 0.3 * n) <= 5 * sd, `lost ${lost}`);
  });
});

describe('MemoryWire determinism', () => {
  const opts: MemoryWireOptions = {
    delay: 3,
    jitter: 4,
    jitterReorders: true,
    loss: 0.05,
    burstLoss: { p: 0.02, r: 0.3 },
    duplicate: 0.03,
    reorder: 0.04,
    corrupt: 0.03,
    rateBps: 1e6,
    queueLimit: 3000,
  };
  const log = (seed: number): string =>
    runTraffic({ ...opts, seed }, 3000, 0.3)
      .got.map((d) => `${d.t.toFixed(6)}:${d.seq}:${Buffer.from(d.bytes).toString('base64')}`)
      .join('\n');

  test('same seed, same deliveries (times, order, bytes); different seed, different ones', () => {
    const a = log(42);
    assert.equal(log(42), a);
    assert.notEqual(log(43), a);
  });

  test('frames arrive in (arrival time, send order) across both directions, in-order and overtaking mixed', () => {
    // Stepping to each nextDeadline() delivers every frame at exactly its
    // arrival time, so the log must be sorted by (time, send index) whatever
    // mix of FIFO traffic, reordering, free jitter and duplicates produced it.
    for (const seed of [1, 2, 3]) {
      const world = new World();
      const wire = world.add(new MemoryWire({ seed, clock: world.clock, delay: 2, duplicate: 0.05 }));
      const got: { t: number; seq: number }[] = [];
      wire.a.onReceive = (f) => got.push({ t: world.now, seq: seqOf(f) });
      wire.b.onReceive = (f) => got.push({ t: world.now, seq: seqOf(f) });
      const modes: MemoryWireOptions[] = [
        { reorder: 0.2, reorderDelay: 3, jitter: 0 },
        { reorder: 0, jitter: 1.5, jitterReorders: true },
        { reorder: 0, jitter: 1, jitterReorders: false, delay: 0.5 },
        { reorder: 0.1, jitter: 0.7, jitterReorders: false, delay: 3 },
      ];
      let sent = 0;
      for (let i = 0; i < 2000; i++) {
        if (i % 250 === 0) wire.setImpairments(i % 500 === 0 ? 'aToB' : 'bToA', modes[(i / 250) % 4]);
        (i % 3 === 0 ? wire.b : wire.a).transmit(frame(i));
        sent++;
        if (i % 7 === 0) world.run({ until: world.now + 0.37 });
      }
      world.run();
      const dups = wire.statsAToB.duplicated + wire.statsBToA.duplicated;
      assert.ok(dups > 0);
      assert.equal(got.length, sent + dups);
      assert.equal(wire.inFlight, 0);
      for (let k = 1; k < got.length; k++) {
        const p = got[k - 1];
        const q = got[k];
        assert.ok(
          p.t < q.t || (p.t === q.t && p.seq <= q.seq),
          `seed ${seed}: #${k} ${JSON.stringify([p, q])}`,
        );
      }
    }
  });

  test('delivered frames are separate copies: writing one changes neither the sender nor other frames', () => {
    const world = new World();
    const wire = world.add(new MemoryWire({ clock: world.clock, mtu: 65535, duplicate: 0.3, seed: 5 }));
    const got: Uint8Array[] = [];
    wire.b.onReceive = (f) => got.push(f);
    const sent: Uint8Array[] = [];
    // Sizes around the slab's limits: small frames share slabs, big ones do not.
    const sizes = [1, 7, 8, 9, 60, 1500, 8191, 8192, 8193, 20000, 65535];
    for (let i = 0; i < 200; i++) {
      const f = frame(i, Math.max(4, sizes[i % sizes.length]));
      sent.push(f.slice());
      wire.a.transmit(f);
      f.fill(0xee); // the sender reuses its buffer at once
    }
    world.run();
    assert.equal(got.length, 200 + wire.statsAToB.duplicated);
    // Contents as sent (duplicates follow their original).
    let n = 0;
    for (const f of got) {
      while (seqOf(sent[n]) !== seqOf(f)) n++;
      assert.deepEqual(f, sent[n]);
    }
    // The receiver owns its frames and may write them: no two share bytes.
    for (let k = 0; k < got.length; k++) got[k].fill((k % 251) + 1);
    for (let k = 0; k < got.length; k++) {
      assert.ok(
        got[k].every((x) => x === (k % 251) + 1),
        `frame ${k} overlaps another`,
      );
    }
  });
});
