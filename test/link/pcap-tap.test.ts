import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryWire } from '../../src/link/memory-wire.js';
import { PcapTap } from '../../src/link/pcap-tap.js';
import { World } from '../../src/sim/world.js';
import { DIR_IN, DIR_OUT, PcapWriter, readPcap } from '../../src/wire/pcap.js';
import { PcapngWriter, readPcapng } from '../../src/wire/pcapng.js';

test('PcapTap records both directions with the given clock and passes frames through unchanged', () => {
  const world = new World({ now: 1000 });
  const wire = world.add(new MemoryWire({ clock: world.clock, delay: 2.5, mtu: 1400 }));
  const cap = new PcapngWriter();
  const tapA = new PcapTap(wire.a, cap, world.clock, 'a0');
  const tapB = new PcapTap(wire.b, cap, () => world.now, 'b0');
  assert.equal(tapA.mtu, 1400);
  const atB: Uint8Array[] = [];
  const atA: Uint8Array[] = [];
  tapB.onReceive = (f) => {
    atB.push(f);
    tapB.transmit(new Uint8Array([0x45, 2]));
  };
  tapA.onReceive = (f) => atA.push(f);
  tapA.transmit(new Uint8Array([0x45, 1]));
  world.run();
  assert.deepEqual(atB, [new Uint8Array([0x45, 1])]);
  assert.deepEqual(atA, [new Uint8Array([0x45, 2])]);
  const r = readPcapng(cap.toBytes());
  assert.equal(r.error, null);
  assert.deepEqual(
    r.interfaces.map((i) => i.name),
    ['a0', 'b0'],
  );
  assert.deepEqual(
    r.records.map((x) => [x.iface, x.dir, x.timeMs, x.data[1]]),
    [
      [0, DIR_OUT, 1000, 1],
      [1, DIR_IN, 1002.5, 1],
      [1, DIR_OUT, 1002.5, 2],
      [0, DIR_IN, 1005, 2],
    ],
  );
});

test('PcapTap into a classic pcap writer; frames arriving with nothing attached are still recorded', () => {
  const world = new World();
  const wire = world.add(new MemoryWire({ clock: world.clock, delay: 1 }));
  const cap = new PcapWriter();
  const tap = new PcapTap(wire.b, cap, world.clock);
  wire.a.transmit(new Uint8Array([0x45, 7]));
  world.run();
  assert.equal(tap.onReceive, null);
  const r = readPcap(cap.toBytes());
  assert.equal(r.records.length, 1);
  assert.equal(r.records[0].timeMs, 1);
});
