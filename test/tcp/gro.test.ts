import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BulkReceiver, BulkSender, connectPair, duplexTransfer } from '../scenario/transfer-harness.js';

const MiB = 1 << 20;

/**
 * One-way bulk transfer a -> b; returns the segments a received (all ACKs)
 * and whether every byte arrived intact.
 */
function oneWay(b: { gro?: boolean; devWeight?: number }, bytes = 2 * MiB): { acks: number; ok: boolean } {
  const p = connectPair({
    wire: { delay: 1, mtu: 1500 },
    b: { gro: b.gro, sysctl: b.devWeight ? { 'net.core.dev_weight': b.devWeight } : undefined },
  });
  const s = new BulkSender(p.ca, bytes, 7);
  const r = new BulkReceiver(p.cb);
  p.ca.onEvent = () => s.pump();
  p.cb.onEvent = () => r.pump();
  const before = p.a.counters.get('TcpInSegs');
  s.pump();
  p.world.runUntil(() => r.eof, { timeout: 600_000, maxSteps: 1e8 });
  const ok = r.received === bytes && s.hash.digest('hex') === r.hash.digest('hex');
  return { acks: p.a.counters.get('TcpInSegs') - before, ok };
}

test('GRO: segments delivered in one burst are acknowledged per merged run, not one ACK per two segments', () => {
  const on = oneWay({});
  const off = oneWay({ gro: false });
  assert.ok(on.ok && off.ok);
  // Without GRO: about one ACK per two segments (2 MiB / 1448 B = 1449 segments).
  assert.ok(off.acks > 600, `gro off: ${off.acks} ACKs`);
  // With GRO: at most one per 64 KiB merged (plus the handshake and teardown).
  assert.ok(on.acks * 4 < off.acks, `gro on: ${on.acks} ACKs, off: ${off.acks}`);
});

test('GRO: a NAPI budget of net.core.dev_weight frames ends a burst', () => {
  const wide = oneWay({});
  const narrow = oneWay({ devWeight: 2 });
  assert.ok(wide.ok && narrow.ok);
  // Polls of two frames leave nothing to merge: ACKs as without GRO.
  assert.ok(narrow.acks > 3 * wide.acks, `dev_weight 2: ${narrow.acks} ACKs, 64: ${wide.acks}`);
});

test('GRO: data in both directions over a lossy, reordering wire still arrives intact', () => {
  const p = connectPair({ wire: { delay: 2, mtu: 1500, loss: 0.02, reorder: 0.02, seed: 5 } });
  const r = duplexTransfer(p, MiB);
  assert.ok(r.ok, JSON.stringify(r));
});
