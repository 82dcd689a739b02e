/**
 * D-SACK recognition (RFC 2883 §4) by the sender: which first blocks are
 * duplicates, how many segments they stand for, and that the SACK
 * scoreboard never takes them as new information.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import fc from 'fast-check';
import { Reno } from '../../../src/tcp/congestion/reno.js';
import {
  type AckEvent,
  CaState,
  newAckEvent,
  TCP_INFINITE_SSTHRESH,
} from '../../../src/tcp/congestion/types.js';
import { DSACK_NONE, DSACK_OFO, DSACK_OLD, dsackKind, dsackSegs } from '../../../src/tcp/recovery/dsack.js';
import { SackRecovery } from '../../../src/tcp/recovery/sack.js';
import {
  DSACK_NO_UNDO,
  DSACK_OLD_IGNORED,
  DSACK_VALID,
  newRecoveryAction,
  UNDO_DSACK,
  UNDO_FULL,
} from '../../../src/tcp/recovery/types.js';

const b = (...v: number[]) => Uint32Array.from(v.map((x) => x >>> 0));

test('a first block starting below the cumulative ACK is a D-SACK (also when it reaches above it)', () => {
  assert.equal(dsackKind(b(1000, 2000), 1, 3000), DSACK_OLD);
  assert.equal(dsackKind(b(1000, 4000), 1, 3000), DSACK_OLD);
  assert.equal(dsackKind(b(2999, 3000, 5000, 6000), 2, 3000), DSACK_OLD);
  // Exactly at the ACK is not below it: an ordinary block.
  assert.equal(dsackKind(b(3000, 4000), 1, 3000), DSACK_NONE);
});

test('a first block inside the second is a D-SACK of out-of-order data; overlapping or outside is not', () => {
  assert.equal(dsackKind(b(5000, 6000, 4000, 7000), 2, 3000), DSACK_OFO);
  assert.equal(dsackKind(b(4000, 7000, 4000, 7000), 2, 3000), DSACK_OFO); // equal counts as inside
  assert.equal(dsackKind(b(5000, 8000, 4000, 7000), 2, 3000), DSACK_NONE);
  assert.equal(dsackKind(b(3500, 5000, 4000, 7000), 2, 3000), DSACK_NONE);
  assert.equal(dsackKind(b(8000, 9000, 4000, 7000), 2, 3000), DSACK_NONE);
  // Only the second block is compared (RFC 2883 §4).
  assert.equal(dsackKind(b(8000, 9000, 4000, 7000, 7500, 9500), 3, 3000), DSACK_NONE);
  // A lone block above the ACK is ordinary SACK information.
  assert.equal(dsackKind(b(5000, 6000), 1, 3000), DSACK_NONE);
  assert.equal(dsackKind(b(), 0, 3000), DSACK_NONE);
});

test('the rules hold across sequence-number wrap-around', () => {
  const ack = 0x100;
  assert.equal(dsackKind(b(0xffff_ff00, 0x80), 1, ack), DSACK_OLD);
  assert.equal(dsackKind(b(0x200, 0x300, 0xffff_fff0, 0x400), 2, ack), DSACK_OFO);
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff_ffff }),
      fc.integer({ min: 1, max: 1 << 20 }),
      (base, len) => {
        const ack = (base + 2 * len) >>> 0;
        return (
          dsackKind(b(base, base + len), 1, ack) === DSACK_OLD &&
          dsackKind(b(ack + len, ack + 2 * len, ack, ack + 3 * len), 2, ack) === DSACK_OFO &&
          dsackKind(b(ack, ack + len), 1, ack) === DSACK_NONE
        );
      },
    ),
  );
});

test('segments a D-SACK stands for; empty, reversed or wider-than-any-window blocks are dubious (0)', () => {
  assert.equal(dsackSegs(1000, 2000, 1000, 65535), 1);
  assert.equal(dsackSegs(1000, 1001, 1000, 65535), 1); // a FIN or one byte
  assert.equal(dsackSegs(1000, 3500, 1000, 65535), 3);
  assert.equal(dsackSegs(1000, 1000, 1000, 65535), 0);
  assert.equal(dsackSegs(2000, 1000, 1000, 65535), 0);
  assert.equal(dsackSegs(0, 70000, 1000, 65535), 0);
  assert.equal(dsackSegs(0xffff_fc00, 0x400, 1000, 65535), 3); // wraps: 2048 bytes
});

const MSS = 1000;
const ISS = 0xffff_f000;

function sender(n: number) {
  const cc = new Reno();
  cc.init(0);
  const rec = new SackRecovery(cc, 3);
  const una = (ISS + 1) >>> 0;
  rec.init(una, 0);
  const st = {
    cc,
    rec,
    una,
    nxt: (una + n * MSS) >>> 0,
    ev: newAckEvent() as AckEvent,
    act: newRecoveryAction(),
  };
  const seg = (i: number) => (una + i * MSS) >>> 0;
  const ack = (a: number, blocks: number[]) => {
    const ev = st.ev;
    const acked = (a - st.una) | 0;
    ev.now = 0;
    ev.ack = a >>> 0;
    ev.sndUna = st.una;
    ev.sndNxt = st.nxt;
    ev.ackedBytes = acked;
    ev.ackedSegs = Math.ceil(acked / MSS);
    ev.isDup = acked === 0;
    ev.inFlightSegs = Math.ceil(((st.nxt - st.una) | 0) / MSS);
    ev.mss = MSS;
    ev.rttMs = -1;
    ev.sackBlocks = blocks.length > 0 ? b(...blocks) : null;
    ev.sackCount = blocks.length / 2;
    rec.onAck(ev, st.act);
    if (acked > 0) st.una = a >>> 0;
    return st.act;
  };
  return { st, seg, ack };
}

test('SACK recovery: D-SACK-only ACKs add nothing, count as no duplicate ACK and start no recovery', () => {
  const { st, seg, ack } = sender(10);
  for (let i = 0; i < 5; i++) {
    const a = ack(seg(0), [seg(0) - 2 * MSS, seg(0) - MSS]);
    assert.equal(a.newlySacked, 0);
    assert.equal(a.entered, false);
  }
  assert.equal(st.rec.count, 0);
  assert.equal(st.rec.dupAcks, 0);
  assert.equal(st.rec.caState, CaState.Open);
});

test('SACK recovery: an out-of-order D-SACK is skipped; the block holding it still counts once', () => {
  const { st, seg, ack } = sender(10);
  let a = ack(seg(0), [seg(2), seg(4)]);
  assert.equal(a.newlySacked, 2 * MSS);
  // Duplicate of segment 3, inside [2, 4): nothing new.
  a = ack(seg(0), [seg(3), seg(4), seg(2), seg(4)]);
  assert.equal(a.newlySacked, 0);
  assert.equal(st.rec.dupAcks, 1);
  assert.deepEqual([st.rec.sStart[0], st.rec.sEnd[0]], [seg(2), seg(4)]);
  assert.equal(st.rec.count, 1);
  // A D-SACK below the ACK beside new information: only the new block counts.
  a = ack(seg(0), [seg(0) - MSS, seg(0), seg(5), seg(6), seg(2), seg(4)]);
  assert.equal(a.newlySacked, MSS);
  assert.equal(st.rec.count, 2);
});

test('SACK recovery: a first block straddling the ACK is a D-SACK, kept out of the scoreboard', () => {
  const { st, seg, ack } = sender(10);
  let a = ack(seg(2), [seg(1), seg(5)]);
  assert.equal(st.rec.count, 0);
  assert.equal(a.sackDiscarded, 0); // a D-SACK is not an invalid block
  a = ack(seg(2), [seg(6), seg(7), seg(1), seg(5)]);
  // As a later block it is an ordinary, invalid one: discarded whole (Linux).
  assert.equal(a.sackDiscarded, 1);
  assert.equal(st.rec.count, 1);
  assert.deepEqual([st.rec.sStart[0], st.rec.sEnd[0]], [seg(6), seg(7)]);
});

/** Three SACKed segments above a hole: recovery, the head retransmitted. */
function inRecovery() {
  const s = sender(6);
  const { st, seg, ack } = s;
  ack(seg(0), [seg(1), seg(4)]);
  assert.equal(st.rec.caState, CaState.Recovery);
  st.rec.onRetransmit(seg(0), MSS);
  return s;
}

test('undo (RFC 2883 §5): once every retransmission of the episode is reported as a duplicate', () => {
  const { st, seg, ack } = inRecovery();
  assert.equal(st.cc.ssthresh, 5);
  // The original head arrived late; the peer D-SACKs our retransmission.
  assert.equal(st.rec.onDsack(seg(0), seg(1), 1, seg(0), seg(4)), 0);
  const a = ack(seg(4), [seg(0), seg(1)]);
  assert.equal(a.undo, UNDO_DSACK);
  assert.equal(st.rec.caState, CaState.Open);
  assert.equal(st.cc.ssthresh, TCP_INFINITE_SSTHRESH);
  assert.ok(st.cc.cwnd >= 10);
});

test('no undo while some retransmission is unaccounted for; full undo when recovery ends with none left', () => {
  const { st, seg, ack } = inRecovery();
  st.rec.onRetransmit(seg(4), MSS); // a second one
  st.rec.onDsack(seg(0), seg(1), 1, seg(0), seg(4));
  let a = ack(seg(4), [seg(0), seg(1)]);
  assert.equal(a.undo, 0);
  assert.equal(st.rec.caState, CaState.Recovery);
  assert.equal(st.cc.ssthresh, 5);
  // The second comes back as a duplicate too, with the ACK that ends recovery.
  st.rec.onDsack(seg(4), seg(5), 1, seg(4), seg(6));
  a = ack(seg(6), [seg(4), seg(5)]);
  assert.equal(a.exited, true);
  assert.equal(a.undo, UNDO_FULL);
  assert.equal(st.cc.ssthresh, TCP_INFINITE_SSTHRESH);
});

test('onDsack verdicts as Linux judges a D-SACK block: no episode, older than it, or straddling the ACK', () => {
  const { st, seg } = sender(6);
  assert.equal(st.rec.onDsack(seg(0) - MSS, seg(0), 1, seg(0), seg(0)), DSACK_NO_UNDO);
  // Above the ACK: always a valid block.
  assert.equal(st.rec.onDsack(seg(2), seg(3), 1, seg(0), seg(0)), DSACK_VALID);
  const r = inRecovery();
  assert.equal(r.st.rec.onDsack(seg(0) - 2 * MSS, seg(0) - MSS, 1, seg(0), seg(4)), DSACK_OLD_IGNORED);
  assert.equal(r.st.rec.onDsack(seg(0), seg(5), 5, seg(0), seg(4)), DSACK_OLD_IGNORED);
  assert.equal(r.st.rec.onDsack(seg(0), seg(1), 1, seg(0), seg(4)), DSACK_VALID);
});
