import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Reno } from '../../../src/tcp/congestion/reno.js';
import { type AckEvent, CaState, newAckEvent } from '../../../src/tcp/congestion/types.js';
import { MAX_RANGES, SackRecovery } from '../../../src/tcp/recovery/sack.js';
import { newRecoveryAction } from '../../../src/tcp/recovery/types.js';
import { seqGt, seqLeq, seqLt } from '../../../src/wire/seq.js';

const MSS = 1000;
const ISS = 0xffff_f800; // wraps during the tests

class Sender {
  cc = new Reno();
  rec = new SackRecovery(this.cc, 3);
  act = newRecoveryAction();
  ev: AckEvent = newAckEvent();
  blocks = new Uint32Array(8);
  una = (ISS + 1) >>> 0;
  nxt = (ISS + 1) >>> 0;
  constructor() {
    this.cc.init(0);
    this.rec.init(this.una, 0);
  }
  seg(i: number): number {
    return (ISS + 1 + i * MSS) >>> 0;
  }
  send(n: number): void {
    this.nxt = (this.nxt + n * MSS) >>> 0;
  }
  /** ACK `ack` with SACK blocks given as [first, last+1) segment indexes (or raw seqs with raw=true). */
  ack(ack: number, sacks: [number, number][] = [], raw = false) {
    const ev = this.ev;
    const acked = (ack - this.una) | 0;
    ev.now = 0;
    ev.ack = ack >>> 0;
    ev.sndUna = this.una;
    ev.sndNxt = this.nxt;
    ev.ackedBytes = acked;
    ev.ackedSegs = Math.ceil(acked / MSS);
    ev.isDup = acked === 0 && this.nxt !== this.una;
    ev.inFlightSegs = Math.ceil(((this.nxt - this.una) | 0) / MSS);
    ev.mss = MSS;
    ev.rttMs = -1;
    sacks.slice(0, 4).forEach(([l, r], i) => {
      this.blocks[2 * i] = raw ? l >>> 0 : this.seg(l);
      this.blocks[2 * i + 1] = raw ? r >>> 0 : this.seg(r);
    });
    ev.sackBlocks = sacks.length > 0 ? this.blocks : null;
    ev.sackCount = Math.min(4, sacks.length);
    this.rec.onAck(ev, this.act);
    if (acked > 0) this.una = ack >>> 0;
    return this.act;
  }
  ranges(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < this.rec.count; i++) out.push([this.rec.sStart[i], this.rec.sEnd[i]]);
    return out;
  }
}

test('one hole: recovery starts when more than 2 MSS are SACKed above it (RFC 6675 IsLost)', () => {
  const s = new Sender();
  s.send(10); // segment 0 lost
  let a = s.ack(s.una, [[1, 2]]);
  assert.equal(a.entered, false);
  assert.equal(s.rec.caState, CaState.Disorder);
  // Limited Transmit: the SACKed segment left the network, one new one may go.
  assert.equal(s.rec.sendWindowSegs() * MSS - s.rec.inFlightBytes(s.una, s.nxt), MSS);
  a = s.ack(s.una, [[1, 3]]);
  assert.equal(a.entered, false);
  a = s.ack(s.una, [[1, 4]]);
  assert.equal(a.entered, true);
  assert.equal(a.retransmitSeq, s.seg(0));
  assert.equal(s.rec.caState, CaState.Recovery);
  assert.equal(s.cc.ssthresh, 5);
  assert.equal(s.rec.recover, s.nxt);
  s.rec.onRetransmit(s.seg(0), MSS);
  // pipe = 10 out − 3 SACKed − 1 lost + 1 resent
  assert.equal(s.rec.inFlightBytes(s.una, s.nxt), 7 * MSS);
  assert.equal(s.rec.nextRetransmit(s.una, s.nxt), -1);
});

/** The core's send loop (see recovery/types.ts): returns segments sent. */
function sendLoop(s: Sender, maxNew = 100): number {
  let n = 0;
  while (s.rec.inFlightBytes(s.una, s.nxt) < s.rec.sendWindowSegs() * MSS && n < 100) {
    const q = s.rec.nextRetransmit(s.una, s.nxt);
    if (q >= 0) s.rec.onRetransmit(q, MSS);
    else if (maxNew-- > 0) s.send(1);
    else break;
    n++;
  }
  return n;
}

test('PRR (RFC 6937): cwnd = pipe + sndcnt brings the flight down to ssthresh smoothly', () => {
  const s = new Sender();
  s.cc.cwnd = 20;
  s.send(20);
  // Segment 0 lost; SACKs for 1.. arrive one by one and the sender keeps sending.
  const cwnds: number[] = [];
  const sent: number[] = [];
  for (let i = 2; i <= 20; i++) {
    const a = s.ack(s.una, [[1, i]]);
    if (a.retransmitSeq >= 0) s.rec.onRetransmit(a.retransmitSeq, MSS);
    cwnds.push(s.cc.cwnd);
    sent.push(sendLoop(s));
  }
  assert.equal(s.cc.ssthresh, 10);
  assert.deepEqual(cwnds.slice(0, 2), [20, 20]); // Disorder: cwnd unchanged (Limited Transmit sends 1 each)
  assert.deepEqual(sent.slice(0, 2), [1, 1]);
  // After entering: no inflation, cwnd falls steadily to ssthresh.
  const after = cwnds.slice(2);
  for (let i = 1; i < after.length; i++) assert.ok(after[i] <= after[i - 1], `non-increasing: ${after}`);
  assert.equal(after[after.length - 1], 10);
  assert.equal(s.rec.inFlightBytes(s.una, s.nxt), 10 * MSS);
  // PRR lets out ssthresh/RecoverFS = 1/2 segment per delivered segment while
  // pipe > ssthresh: 17 delivered → about 8 new segments, never a burst.
  const duringRecovery = sent.slice(2).reduce((x, y) => x + y, 0);
  assert.ok(duringRecovery >= 7 && duringRecovery <= 10, `sent ${duringRecovery}: ${sent}`);
  assert.ok(Math.max(...sent) <= 2, `no burst: ${sent}`);
  const f = s.ack(s.nxt);
  assert.equal(f.exited, true);
  // cwnd = ssthresh, then the ending ACK counts for congestion avoidance as
  // Linux does: it newly delivered the retransmission and everything sent
  // since the loss (≥ cwnd segments): + 1.
  assert.equal(s.cc.cwnd, 11);
  assert.equal(s.cc.ssthresh, 10);
});

test('PRR slow-start reduction bound: after heavy loss, pipe grows back towards ssthresh by delivered + 1 MSS', () => {
  const s = new Sender();
  s.cc.cwnd = 20;
  s.send(20);
  // Segments 0..11 lost; 12..19 SACKed in one ACK.
  const a = s.ack(s.una, [[12, 20]]);
  assert.equal(a.entered, true);
  s.rec.onRetransmit(a.retransmitSeq, MSS);
  // pipe = 20 − 8 SACKed − 12 lost + 1 resent = 1, below ssthresh 10:
  // sndcnt = min(ssthresh − pipe, max(delivered − out, delivered) + MSS).
  assert.equal(s.rec.inFlightBytes(s.una, s.nxt), 1 * MSS);
  assert.ok(s.cc.cwnd <= 10);
  const n = sendLoop(s);
  assert.ok(n >= 1 && s.rec.inFlightBytes(s.una, s.nxt) <= 10 * MSS);
});

test('several holes are retransmitted in order, stepping over SACKed data (NextSeg)', () => {
  const s = new Sender();
  s.cc.cwnd = 20;
  s.send(20); // 0 and 4 and 9 lost
  const a = s.ack(s.una, [[1, 4]]);
  assert.equal(a.entered, true);
  assert.equal(a.retransmitSeq, s.seg(0));
  s.ack(s.una, [
    [5, 9],
    [1, 4],
  ]);
  const b = s.ack(s.una, [
    [10, 20],
    [5, 9],
    [1, 4],
  ]);
  assert.equal(b.entered, false);
  assert.equal(b.retransmitSeq, -1);
  assert.deepEqual(s.ranges(), [
    [s.seg(1), s.seg(4)],
    [s.seg(5), s.seg(9)],
    [s.seg(10), s.seg(20)],
  ]);
  assert.equal(s.rec.lossEdge(s.una), s.seg(10));
  s.rec.onRetransmit(s.seg(0), MSS);
  assert.equal(s.rec.nextRetransmit(s.una, s.nxt), s.seg(4));
  s.rec.onRetransmit(s.seg(4), MSS);
  assert.equal(s.rec.nextRetransmit(s.una, s.nxt), s.seg(9));
  s.rec.onRetransmit(s.seg(9), MSS);
  assert.equal(s.rec.nextRetransmit(s.una, s.nxt), -1);
  // pipe = 20 − 17 SACKed − 3 lost + 3 resent
  assert.equal(s.rec.inFlightBytes(s.una, s.nxt), 3 * MSS);
  // Partial ACK: the first retransmission arrived.
  const p = s.ack(s.seg(4), [
    [10, 20],
    [5, 9],
  ]);
  assert.equal(p.exited, false);
  assert.equal(s.rec.caState, CaState.Recovery);
  assert.deepEqual(s.ranges(), [
    [s.seg(5), s.seg(9)],
    [s.seg(10), s.seg(20)],
  ]);
  // Full ACK.
  const f = s.ack(s.nxt);
  assert.equal(f.exited, true);
  assert.equal(s.rec.caState, CaState.Open);
  assert.equal(s.rec.count, 0);
  assert.equal(s.cc.cwnd, 10);
});

test('three discontiguous SACKed ranges mark the hole below them lost even when small', () => {
  const s = new Sender();
  s.send(10);
  s.ack(s.una, [[1, 2]]);
  s.ack(s.una, [
    [3, 4],
    [1, 2],
  ]);
  const a = s.ack(s.una, [
    [5, 6],
    [3, 4],
    [1, 2],
  ]);
  assert.equal(a.entered, true);
  assert.equal(s.rec.lossEdge(s.una), s.seg(1));
});

test('D-SACK, blocks beyond snd_nxt and inverted blocks are ignored', () => {
  const s = new Sender();
  s.send(5);
  s.ack(s.seg(2));
  s.ack(s.una, [[0, 1]]); // below the cumulative ACK: a D-SACK
  s.ack(s.una, [[4, 9]]); // beyond snd_nxt
  s.ack(s.una, [[3, 3]]); // empty
  s.ack(s.una, [[4, 3]]); // inverted
  assert.equal(s.rec.count, 0);
  // A first block starting below the ACK is a D-SACK (RFC 2883 §4) even
  // when it reaches above it: ignored, as Linux does without an undo point.
  s.ack(s.una, [[1, 4]]);
  assert.equal(s.rec.count, 0);
  // A later block reaching down to the ACK is discarded whole, not clipped
  // (Linux tcp_is_sackblock_valid, TcpExtTCPSACKDiscard).
  const a = s.ack(s.una, [
    [4, 5],
    [1, 4],
  ]);
  assert.equal(a.sackDiscarded, 1);
  assert.deepEqual(s.ranges(), [[s.seg(4), s.seg(5)]]);
});

test('the scoreboard stays bounded whatever the peer SACKs', () => {
  const s = new Sender();
  s.cc.cwnd = 1000;
  s.send(1000);
  for (let i = 1; i < 990; i += 2) s.ack(s.una, [[i, i + 1]]);
  assert.ok(s.rec.count <= MAX_RANGES);
  const r = s.ranges();
  for (let i = 1; i < r.length; i++) assert.ok(seqLt(r[i - 1][1], r[i][0]));
});

test('an RTO enters Loss: unSACKed data is resent from snd_una in slow start, SACKed data is skipped', () => {
  const s = new Sender();
  s.send(10);
  s.ack(s.una, [[3, 5]]);
  s.rec.onRto(s.una, s.nxt, 10, true, 0);
  assert.equal(s.rec.caState, CaState.Loss);
  assert.equal(s.cc.cwnd, 1);
  assert.equal(s.cc.ssthresh, 5);
  // pipe: 10 out − 2 SACKed − 8 lost
  assert.equal(s.rec.inFlightBytes(s.una, s.nxt), 0);
  const order: number[] = [];
  for (let q = s.rec.nextRetransmit(s.una, s.nxt); q >= 0; q = s.rec.nextRetransmit(s.una, s.nxt)) {
    order.push(((q - s.seg(0)) | 0) / MSS);
    s.rec.onRetransmit(q, MSS);
  }
  assert.deepEqual(order, [0, 1, 2, 5, 6, 7, 8, 9]);
  assert.equal(s.rec.inFlightBytes(s.una, s.nxt), 8 * MSS);
  const a = s.ack(s.nxt);
  assert.equal(a.exited, true);
  assert.equal(s.rec.caState, CaState.Open);
});

test('a second RTO without progress forgets the SACKed ranges (the receiver may have reneged)', () => {
  const s = new Sender();
  s.send(10);
  s.ack(s.una, [[3, 5]]);
  s.rec.onRto(s.una, s.nxt, 10, true, 0);
  assert.equal(s.rec.count, 1);
  s.rec.onRto(s.una, s.nxt, 10, false, 1);
  assert.equal(s.rec.count, 0);
  assert.equal(s.rec.nextRetransmit(s.una, s.nxt), s.seg(0));
  assert.equal(s.cc.ssthresh, 5); // not halved again for the same loss
});

test('duplicate ACKs without SACK blocks prove no loss: no fast retransmit, the state stays Open (Linux counts SACKed segments)', () => {
  const s = new Sender();
  s.send(10);
  for (let i = 0; i < 4; i++) {
    const a = s.ack(s.una);
    assert.equal(a.entered, false);
    assert.equal(a.retransmitSeq, -1);
  }
  assert.equal(s.rec.caState, CaState.Open);
});

test('after a recovery, a loss in data sent later starts a new episode', () => {
  const s = new Sender();
  s.send(10);
  s.ack(s.una, [[1, 4]]);
  s.ack(s.nxt); // everything
  assert.equal(s.rec.caState, CaState.Open);
  s.send(10);
  // A new loss after the recovery point is handled.
  const a = s.ack(s.una, [[11, 14]]);
  assert.equal(a.entered, true);
  assert.equal(a.retransmitSeq, s.seg(10));
});

test('property: scoreboard sorted, disjoint and inside (snd_una, snd_nxt]; pipe within [0, flight]', () => {
  const op = fc.oneof(
    fc.record({ k: fc.constant('send' as const), n: fc.integer({ min: 1, max: 30 }) }),
    fc.record({
      k: fc.constant('sack' as const),
      n: fc.integer({ min: 0, max: 40 }),
      blocks: fc.array(fc.tuple(fc.integer({ min: -5, max: 60 }), fc.integer({ min: -5, max: 60 })), {
        maxLength: 4,
      }),
    }),
    fc.record({ k: fc.constant('rto' as const), n: fc.integer({ min: 0, max: 1 }) }),
    fc.record({ k: fc.constant('rtx' as const), n: fc.integer({ min: 1, max: 5 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 150 }), (ops) => {
      const s = new Sender();
      for (const o of ops) {
        const flight = (s.nxt - s.una) | 0;
        if (o.k === 'send') s.send(o.n);
        else if (o.k === 'sack') {
          if (flight === 0) continue;
          const ack = (s.una + Math.min(o.n * 300, flight)) >>> 0;
          const blocks = o.blocks.map(
            ([l, r]) => [(s.una + l * 500) >>> 0, (s.una + r * 500) >>> 0] as [number, number],
          );
          const a = s.ack(ack, blocks, true);
          assert.ok(a.retransmitSeq === -1 || a.retransmitSeq === s.una);
        } else if (o.k === 'rto') {
          if (flight > 0) s.rec.onRto(s.una, s.nxt, Math.ceil(flight / MSS), o.n === 1, 0);
        } else {
          for (let i = 0; i < o.n; i++) {
            const q = s.rec.nextRetransmit(s.una, s.nxt);
            if (q < 0) break;
            assert.ok(seqLeq(s.una, q) && seqLt(q, s.nxt));
            for (const [l, r] of s.ranges())
              assert.ok(!(seqLeq(l, q) && seqLt(q, r)), 'not inside SACKed data');
            s.rec.onRetransmit(q, Math.min(MSS, (s.nxt - q) | 0));
          }
        }
        const r = s.ranges();
        for (let i = 0; i < r.length; i++) {
          assert.ok(seqLt(r[i][0], r[i][1]));
          assert.ok(seqLeq(s.una, r[i][0]) && seqLeq(r[i][1], s.nxt));
          if (i > 0) assert.ok(seqGt(r[i][0], r[i - 1][1]), 'disjoint, not touching');
        }
        const pipe = s.rec.inFlightBytes(s.una, s.nxt);
        assert.ok(pipe >= 0 && pipe <= ((s.nxt - s.una) | 0));
        assert.ok(s.cc.cwnd >= 1 && s.cc.ssthresh >= 2);
      }
    }),
  );
});

test('PRR on entry with pipe below ssthresh: the retransmission only, no extra segment (Linux 6.x PRR-CRB)', () => {
  const s = new Sender();
  s.send(6);
  s.ack(s.una, [[1, 2]]);
  s.ack(s.una, [[1, 3]]);
  const a = s.ack(s.una, [[1, 4]]);
  assert.equal(a.entered, true);
  // pipe = 6 out − 3 SACKed − 1 lost = 2 segments; ssthresh 5: cwnd = pipe + 1 (the fast retransmit).
  assert.equal(s.cc.ssthresh, 5);
  assert.equal(s.cc.cwnd, 3);
});
