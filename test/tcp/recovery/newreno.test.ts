import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Reno } from '../../../src/tcp/congestion/reno.js';
import {
  type AckEvent,
  CaState,
  type CongestionControl,
  newAckEvent,
} from '../../../src/tcp/congestion/types.js';
import { NewReno } from '../../../src/tcp/recovery/newreno.js';
import { newRecoveryAction } from '../../../src/tcp/recovery/types.js';

const MSS = 1000;
const ISS = 0xffff_f000; // sequence numbers wrap during these tests

/** A tiny sender model: tracks snd_una/snd_nxt and builds AckEvents. */
class Sender {
  cc = new Reno();
  rec = new NewReno(this.cc, 3);
  act = newRecoveryAction();
  ev: AckEvent = newAckEvent();
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
  /** An ACK for sequence `ack`; duplicate when it does not advance snd_una. */
  ack(ack: number) {
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
    this.rec.onAck(ev, this.act);
    if (acked > 0) this.una = ack >>> 0;
    return this.act;
  }
  dup(n: number) {
    for (let i = 0; i < n; i++) this.ack(this.una);
    return this.act;
  }
}

test('three duplicate ACKs: fast retransmit of snd_una, ssthresh = cwnd/2, cwnd = ssthresh + 3', () => {
  const s = new Sender();
  s.send(10); // segment 0 lost
  let a = s.ack(s.una);
  assert.equal(a.retransmitSeq, -1);
  assert.equal(s.rec.caState, CaState.Disorder);
  assert.equal(s.rec.sendWindowSegs(), 11); // Limited Transmit (RFC 3042)
  s.ack(s.una);
  assert.equal(s.rec.sendWindowSegs(), 12);
  a = s.ack(s.una);
  assert.equal(a.entered, true);
  assert.equal(a.retransmitSeq, s.seg(0));
  assert.equal(a.restartRto, true);
  assert.equal(s.rec.caState, CaState.Recovery);
  assert.equal(s.cc.ssthresh, 5);
  assert.equal(s.cc.cwnd, 8);
  assert.equal(s.rec.recover, s.nxt);
  // Further duplicates inflate cwnd by one each, and retransmit nothing.
  a = s.dup(4);
  assert.equal(a.retransmitSeq, -1);
  assert.equal(s.cc.cwnd, 12);
  assert.equal(s.rec.sendWindowSegs(), 12);
});

test('new data ACKed before the third duplicate returns to Open without a reduction', () => {
  const s = new Sender();
  s.send(10);
  s.dup(2);
  const a = s.ack(s.seg(3));
  assert.equal(a.retransmitSeq, -1);
  assert.equal(s.rec.caState, CaState.Open);
  assert.equal(s.rec.dupAcks, 0);
  assert.equal(s.cc.cwnd, 13); // slow start, +3: every newly ACKed segment counts (Linux, no ABC L = 2 cap)
});

test('a full ACK ends recovery: cwnd = ssthresh, then the newly delivered segments count (Linux)', () => {
  const s = new Sender();
  s.cc.cwnd = 20;
  s.send(20);
  s.dup(3); // ssthresh 10, cwnd 13
  s.dup(16); // 19 duplicates: the rest of the window arrived; cwnd 29
  assert.equal(s.cc.cwnd, 29);
  s.send(8); // new data sent thanks to inflation
  const a = s.ack(s.seg(20)); // everything up to recover
  assert.equal(a.exited, true);
  assert.equal(a.retransmitSeq, -1);
  assert.equal(s.rec.caState, CaState.Open);
  // 20 segments ACKed, 19 of them already counted by duplicates: 1 new,
  // below cwnd's worth, so cwnd stays at ssthresh.
  assert.equal(s.cc.cwnd, 10);
  assert.equal(s.cc.cwndCnt, 1);
});

test('partial ACKs retransmit the next hole and deflate cwnd (RFC 6582 §3.2 step 5)', () => {
  const s = new Sender();
  s.send(10); // segments 0 and 4 lost
  s.dup(3);
  assert.equal(s.cc.cwnd, 8);
  s.dup(5); // segments 1-3, 5-9 arrived: 8 duplicates in all
  assert.equal(s.cc.cwnd, 13);
  const a = s.ack(s.seg(4)); // the retransmitted segment 0 fills the first hole
  assert.equal(a.retransmitSeq, s.seg(4));
  assert.equal(a.restartRto, true);
  assert.equal(a.exited, false);
  assert.equal(s.rec.caState, CaState.Recovery);
  assert.equal(s.cc.cwnd, 13 - 4 + 1);
  // The second retransmission completes the window: full ACK.
  const b = s.ack(s.nxt);
  assert.equal(b.exited, true);
  assert.equal(s.cc.cwnd, 5); // ssthresh
});

test('a partial ACK of less than one MSS deflates without adding one back', () => {
  const s = new Sender();
  s.send(10);
  s.dup(3);
  const before = s.cc.cwnd;
  s.ack((s.una + 500) >>> 0);
  assert.equal(s.cc.cwnd, before - 1);
  assert.equal(s.act.retransmitSeq, (s.seg(0) + 500) >>> 0);
});

test('careful variant: duplicates not covering `recover` start no second recovery', () => {
  const s = new Sender();
  s.send(10);
  s.dup(3);
  s.dup(6);
  s.send(5);
  s.ack(s.seg(10)); // full ACK at recover
  assert.equal(s.rec.caState, CaState.Open);
  const cwnd = s.cc.cwnd;
  const a = s.dup(3); // stale duplicates at ack == recover
  assert.equal(a.entered, false);
  assert.equal(a.retransmitSeq, -1);
  assert.equal(s.cc.cwnd, cwnd);
  // Once the ACK moves past recover, a new loss is handled.
  s.ack(s.seg(11));
  const b = s.dup(3);
  assert.equal(b.entered, true);
  assert.equal(b.retransmitSeq, s.seg(11));
});

test('the very first data segment lost is fast-retransmitted (recover starts below snd_una)', () => {
  const s = new Sender();
  s.send(5);
  const a = s.dup(3);
  assert.equal(a.entered, true);
  assert.equal(a.retransmitSeq, s.seg(0));
});

test('dupthresh follows tcp_reordering', () => {
  const s = new Sender();
  s.rec = new NewReno(s.cc, 5);
  s.rec.init(s.una, 0);
  s.send(10);
  assert.equal(s.dup(4).entered, false);
  assert.equal(s.dup(1).entered, true);
  assert.equal(s.cc.cwnd, 5 + 5);
});

test('RTO: Loss state, cwnd 1, everything outstanding resent from snd_una within cwnd', () => {
  const s = new Sender();
  s.send(10);
  s.rec.onRto(s.una, s.nxt, 10, true, 0);
  assert.equal(s.rec.caState, CaState.Loss);
  assert.equal(s.cc.cwnd, 1);
  assert.equal(s.cc.ssthresh, 5);
  assert.equal(s.rec.recover, s.nxt);
  assert.equal(s.rec.inFlightBytes(s.una, s.nxt), 0);
  assert.equal(s.rec.nextRetransmit(s.una, s.nxt), s.seg(0));
  s.rec.onRetransmit(s.seg(0), MSS);
  assert.equal(s.rec.inFlightBytes(s.una, s.nxt), MSS);
  assert.equal(s.rec.nextRetransmit(s.una, s.nxt), s.seg(1));
  // The ACK of the retransmission: slow start, cwnd 2.
  s.ack(s.seg(1));
  assert.equal(s.cc.cwnd, 2);
  assert.equal(s.rec.inFlightBytes(s.una, s.nxt), 0);
  s.rec.onRetransmit(s.seg(1), MSS);
  s.rec.onRetransmit(s.seg(2), MSS);
  // Duplicate ACKs in Loss start no fast retransmit.
  const d = s.dup(3);
  assert.equal(d.entered, false);
  assert.equal(d.retransmitSeq, -1);
  // A cumulative ACK beyond what was resent (the receiver had the rest).
  const a = s.ack(s.nxt);
  assert.equal(a.exited, true);
  assert.equal(s.rec.caState, CaState.Open);
  assert.equal(s.rec.nextRetransmit(s.una, s.nxt), -1);
});

test('after the lost window is resent, new data counts fully in flight', () => {
  const s = new Sender();
  s.send(4);
  s.rec.onRto(s.una, s.nxt, 4, true, 0);
  for (let i = 0; i < 4; i++) s.rec.onRetransmit(s.seg(i), MSS);
  assert.equal(s.rec.nextRetransmit(s.una, s.nxt), -1);
  s.send(2);
  assert.equal(s.rec.inFlightBytes(s.una, s.nxt), 6 * MSS);
});

test('an RTO during fast recovery keeps the ssthresh of that loss; repeated RTOs too', () => {
  const s = new Sender();
  s.cc.cwnd = 20;
  s.send(20);
  s.dup(3);
  assert.equal(s.cc.ssthresh, 10);
  s.rec.onRto(s.una, s.nxt, 20, true, 0);
  assert.equal(s.cc.ssthresh, 10);
  assert.equal(s.cc.cwnd, 1);
  s.rec.onRto(s.una, s.nxt, 20, false, 1);
  assert.equal(s.cc.ssthresh, 10);
  // A first RTO in Open state halves.
  const t = new Sender();
  t.cc.cwnd = 30;
  t.send(30);
  t.rec.onRto(t.una, t.nxt, 30, true, 0);
  assert.equal(t.cc.ssthresh, 15);
});

test('window updates and other non-duplicate ACKs without new data change nothing', () => {
  const s = new Sender();
  s.send(10);
  s.ev.isDup = false;
  const ev = s.ev;
  ev.ack = s.una;
  ev.sndUna = s.una;
  ev.sndNxt = s.nxt;
  ev.ackedBytes = 0;
  ev.ackedSegs = 0;
  s.rec.onAck(ev, s.act);
  assert.equal(s.rec.dupAcks, 0);
  assert.equal(s.rec.caState, CaState.Open);
  assert.equal(s.cc.cwnd, 10);
});

test('RTT samples reach the congestion control hook', () => {
  const s = new Sender();
  const seen: number[] = [];
  (s.cc as CongestionControl).onRttSample = (r: number) => {
    seen.push(r);
  };
  s.send(2);
  s.ev.rttMs = 7;
  const ev = s.ev;
  Object.assign(ev, {
    ack: s.seg(1),
    sndUna: s.una,
    sndNxt: s.nxt,
    ackedBytes: MSS,
    ackedSegs: 1,
    isDup: false,
  });
  s.rec.onAck(ev, s.act);
  assert.deepEqual(seen, [7]);
});

test('property: any ACK/RTO sequence keeps cwnd ≥ 1, ssthresh ≥ 2, pipe within [0, flight], retransmits at snd_una', () => {
  const op = fc.oneof(
    fc.record({ k: fc.constant('send' as const), n: fc.integer({ min: 1, max: 20 }) }),
    fc.record({ k: fc.constant('dup' as const), n: fc.integer({ min: 1, max: 6 }) }),
    fc.record({ k: fc.constant('ack' as const), n: fc.integer({ min: 1, max: 20000 }) }),
    fc.record({ k: fc.constant('rto' as const), n: fc.boolean().map((b) => (b ? 1 : 0)) }),
    fc.record({ k: fc.constant('rtx' as const), n: fc.integer({ min: 1, max: 3 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const s = new Sender();
      for (const o of ops) {
        const flight = (s.nxt - s.una) | 0;
        if (o.k === 'send') s.send(o.n);
        else if (o.k === 'dup') {
          if (flight > 0) s.dup(o.n);
        } else if (o.k === 'ack') {
          if (flight > 0) {
            const a = s.ack((s.una + Math.min(o.n, flight)) >>> 0);
            assert.ok(a.retransmitSeq === -1 || a.retransmitSeq === s.una);
          }
        } else if (o.k === 'rto') {
          if (flight > 0) s.rec.onRto(s.una, s.nxt, Math.ceil(flight / MSS), o.n === 1, 0);
        } else {
          for (let i = 0; i < o.n; i++) {
            const q = s.rec.nextRetransmit(s.una, s.nxt);
            if (q < 0) break;
            s.rec.onRetransmit(q, Math.min(MSS, (s.nxt - q) | 0));
          }
        }
        assert.ok(s.cc.cwnd >= 1, `cwnd ${s.cc.cwnd}`);
        assert.ok(s.cc.ssthresh >= 2);
        const pipe = s.rec.inFlightBytes(s.una, s.nxt);
        assert.ok(pipe >= 0 && pipe <= ((s.nxt - s.una) | 0), `pipe ${pipe}`);
        assert.ok(s.rec.sendWindowSegs() >= s.cc.cwnd);
      }
    }),
  );
});
