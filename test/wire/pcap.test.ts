import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DIR_IN, DIR_OUT, DIR_UNKNOWN, LINKTYPE_RAW, PcapWriter, readPcap } from '../../src/wire/pcap.js';
import { PcapngWriter, readCapture, readPcapng } from '../../src/wire/pcapng.js';

const u32le = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset).getUint32(o, true);
const u16le = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset).getUint16(o, true);

describe('pcap writer', () => {
  test('global header is the standard one: magic a1b2c3d4, 2.4, snaplen 262144, linktype 101', () => {
    const b = new PcapWriter().toBytes();
    assert.equal(b.length, 24);
    assert.deepEqual(
      [...b],
      [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 101, 0, 0, 0],
    );
  });

  test('a record: seconds, rounded microseconds, lengths, bytes', () => {
    const w = new PcapWriter();
    w.writePacket(61_234.5678, new Uint8Array([0x45, 1, 2, 3, 4]));
    w.writePacket(999.9999, new Uint8Array([0x60])); // rounds up into the next second
    const b = w.toBytes();
    assert.equal(u32le(b, 24), 61);
    assert.equal(u32le(b, 28), 234_568);
    assert.equal(u32le(b, 32), 5);
    assert.equal(u32le(b, 36), 5);
    assert.deepEqual([...b.subarray(40, 45)], [0x45, 1, 2, 3, 4]);
    assert.equal(u32le(b, 45), 1);
    assert.equal(u32le(b, 49), 0);
    assert.equal(b.length, 24 + 16 + 5 + 16 + 1);
  });

  test('packets longer than snaplen are cut, orig_len keeps the size', () => {
    const w = new PcapWriter({ snaplen: 10 });
    w.writePacket(0, new Uint8Array(25).fill(7));
    const r = readPcap(w.toBytes());
    assert.equal(r.error, null);
    assert.equal(r.records[0].data.length, 10);
    assert.equal(r.records[0].origLen, 25);
  });

  test('bad timestamps are refused', () => {
    const w = new PcapWriter();
    assert.throws(() => w.writePacket(-1, new Uint8Array(1)), RangeError);
    assert.throws(() => w.writePacket(Number.NaN, new Uint8Array(1)), RangeError);
    assert.throws(() => w.writePacket(2 ** 32 * 1000, new Uint8Array(1)), RangeError);
  });

  test('streaming to onChunk in small chunks gives the same bytes as one buffer', () => {
    const chunks: Uint8Array[] = [];
    const a = new PcapWriter({ onChunk: (c) => chunks.push(c), chunkSize: 256 });
    const b = new PcapWriter();
    for (let i = 0; i < 100; i++) {
      const p = new Uint8Array(i * 7).fill(i);
      a.writePacket(i * 1.5, p);
      b.writePacket(i * 1.5, p);
    }
    a.flush();
    assert.ok(chunks.length > 5);
    assert.throws(() => a.toBytes());
    const joined = Buffer.concat(chunks);
    assert.deepEqual(new Uint8Array(joined), b.toBytes());
    assert.equal(a.byteLength, joined.length);
  });
});

describe('pcap reader', () => {
  test('reads big-endian and nanosecond files', () => {
    const be = new Uint8Array(24 + 16 + 2);
    const v = new DataView(be.buffer);
    v.setUint32(0, 0xa1b23c4d); // ns magic, big-endian
    v.setUint16(4, 2);
    v.setUint16(6, 4);
    v.setUint32(16, 65535);
    v.setUint32(20, LINKTYPE_RAW);
    v.setUint32(24, 3);
    v.setUint32(28, 500_000_001);
    v.setUint32(32, 2);
    v.setUint32(36, 2);
    be[40] = 0x45;
    be[41] = 0x99;
    const r = readPcap(be);
    assert.equal(r.error, null);
    assert.equal(r.interfaces[0].unitsPerSec, 1e9);
    assert.equal(r.records[0].timeMs, 3500.000001);
    assert.deepEqual([...r.records[0].data], [0x45, 0x99]);
  });

  test('truncated and foreign input: typed errors, the records before them kept', () => {
    const w = new PcapWriter();
    w.writePacket(1, new Uint8Array(10));
    w.writePacket(2, new Uint8Array(10));
    const b = w.toBytes();
    const cut = readPcap(b.subarray(0, b.length - 3));
    assert.equal(cut.error, 'truncated');
    assert.equal(cut.records.length, 1);
    assert.equal(readPcap(new Uint8Array(24)).error, 'bad-format');
    assert.equal(readPcap(new Uint8Array(0)).error, 'truncated');
    assert.equal(readCapture(new Uint8Array([1, 2, 3, 4, 5])).error, 'bad-format');
  });
});

describe('pcapng writer', () => {
  test('SHB, IDB (linktype 101, if_tsresol 9, if_name), EPB with direction flags', () => {
    const w = new PcapngWriter();
    const i0 = w.addInterface('eth0');
    const i1 = w.addInterface();
    assert.deepEqual([i0, i1], [0, 1]);
    w.writePacket(1.5, new Uint8Array([0x45, 0, 0]), i1, DIR_OUT);
    const b = w.toBytes();
    // SHB
    assert.equal(u32le(b, 0), 0x0a0d0d0a);
    const shbLen = u32le(b, 4);
    assert.equal(u32le(b, 8), 0x1a2b3c4d);
    assert.equal(u16le(b, 12), 1);
    assert.equal(u16le(b, 14), 0);
    assert.equal(u32le(b, shbLen - 4), shbLen);
    // IDB 0
    let o = shbLen;
    assert.equal(u32le(b, o), 1);
    const idbLen = u32le(b, o + 4);
    assert.equal(u16le(b, o + 8), 101);
    assert.equal(u32le(b, o + 12), 262144);
    assert.equal(u16le(b, o + 16), 2); // if_name
    assert.equal(u16le(b, o + 18), 4);
    assert.equal(new TextDecoder().decode(b.subarray(o + 20, o + 24)), 'eth0');
    assert.equal(u16le(b, o + 24), 9); // if_tsresol
    assert.equal(u16le(b, o + 26), 1);
    assert.equal(b[o + 28], 9);
    o += idbLen;
    assert.equal(u32le(b, o), 1);
    o += u32le(b, o + 4);
    // EPB
    assert.equal(u32le(b, o), 6);
    const epbLen = u32le(b, o + 4);
    assert.equal(epbLen % 4, 0);
    assert.equal(u32le(b, o + 8), 1); // interface 1
    assert.equal(u32le(b, o + 12), 0); // ts high
    assert.equal(u32le(b, o + 16), 1_500_000); // ts low: 1.5 ms in ns
    assert.equal(u32le(b, o + 20), 3);
    assert.equal(u32le(b, o + 24), 3);
    assert.equal(u16le(b, o + 32), 2); // epb_flags
    assert.equal(u32le(b, o + 36), 2); // outbound
    assert.equal(u32le(b, o + epbLen - 4), epbLen); // trailing block length
    assert.equal(o + epbLen, b.length);
  });

  test('a packet on a writer without interfaces gets a default one', () => {
    const w = new PcapngWriter();
    w.writePacket(0, new Uint8Array([1]));
    const r = readPcapng(w.toBytes());
    assert.equal(r.error, null);
    assert.equal(r.interfaces.length, 1);
    assert.equal(r.interfaces[0].linktype, 101);
    assert.throws(() => w.writePacket(0, new Uint8Array(1), 5), RangeError);
  });

  test('wall-clock nanosecond timestamps survive exactly', () => {
    const w = new PcapngWriter();
    const t = 1_764_000_000_123.456; // ms since the epoch, µs fraction
    w.writePacket(t, new Uint8Array([0x45]));
    const b = w.toBytes();
    const r = readPcapng(b);
    assert.equal(r.error, null);
    // 1764000000123456000 ns
    const ns = (BigInt(u32le(b, b.length - 28)) << 32n) | BigInt(u32le(b, b.length - 24));
    assert.ok(ns > 0n);
    assert.equal(r.records[0].timeMs, t);
  });

  test('reads µs-resolution interfaces, big-endian sections, simple packet blocks, and skips unknown blocks', () => {
    // Hand-made big-endian file: SHB, IDB (no tsresol → µs), unknown block, EPB, SPB.
    const parts: number[][] = [];
    const be32 = (x: number) => [(x >>> 24) & 255, (x >>> 16) & 255, (x >>> 8) & 255, x & 255];
    const be16 = (x: number) => [(x >>> 8) & 255, x & 255];
    const block = (type: number, body: number[]) => {
      const total = 12 + body.length;
      parts.push([...be32(type), ...be32(total), ...body, ...be32(total)]);
    };
    block(0x0a0d0d0a, [
      ...be32(0x1a2b3c4d),
      ...be16(1),
      ...be16(0),
      ...be32(0xffffffff),
      ...be32(0xffffffff),
    ]);
    block(1, [...be16(101), 0, 0, ...be32(1500)]);
    block(0x0bad, [1, 2, 3, 4]);
    block(6, [...be32(0), ...be32(0), ...be32(2_500_000), ...be32(3), ...be32(60), 0x45, 7, 8, 0]);
    block(3, [...be32(2), 0x60, 9, 0, 0]);
    const bytes = new Uint8Array(parts.flat());
    const r = readCapture(bytes);
    assert.equal(r.error, null);
    assert.equal(r.format, 'pcapng');
    assert.equal(r.interfaces[0].unitsPerSec, 1e6);
    assert.equal(r.records.length, 2);
    assert.equal(r.records[0].timeMs, 2500);
    assert.deepEqual([...r.records[0].data], [0x45, 7, 8]);
    assert.equal(r.records[0].origLen, 60);
    assert.ok(Number.isNaN(r.records[1].timeMs));
    assert.deepEqual([...r.records[1].data], [0x60, 9]);
  });
});

describe('capture round trips (property)', () => {
  const packetArb = fc.record({
    t: fc.oneof(
      fc.double({ min: 0, max: 1e7, noNaN: true }),
      fc.integer({ min: 0, max: 2 ** 31 }),
      fc.double({ min: 1.7e12, max: 1.8e12, noNaN: true }),
    ),
    data: fc.uint8Array({ maxLength: 300 }),
    dir: fc.constantFrom(DIR_UNKNOWN, DIR_IN, DIR_OUT),
    iface: fc.nat(2),
  });

  for (const fmt of ['pcap-us', 'pcap-ns', 'pcapng'] as const) {
    test(`${fmt}: read(write(x)) gives the packets back, timestamps to the unit, and rewriting is byte-identical`, () => {
      const make = (chunkSize: number) =>
        fmt === 'pcapng'
          ? new PcapngWriter({ chunkSize })
          : new PcapWriter({ nanos: fmt === 'pcap-ns', chunkSize });
      const unitMs = fmt === 'pcap-us' ? 1e-3 : 1e-6;
      fc.assert(
        fc.property(
          fc.array(packetArb, { maxLength: 30 }),
          fc.integer({ min: 256, max: 4096 }),
          (pkts, cs) => {
            const w = make(cs);
            if (w instanceof PcapngWriter) for (let i = 0; i < 3; i++) w.addInterface(`if${i}`);
            for (const p of pkts) w.writePacket(p.t, p.data, p.iface, p.dir);
            const bytes = w.toBytes();
            const r = readCapture(bytes);
            assert.equal(r.error, null);
            assert.equal(r.records.length, pkts.length);
            const w2 = make(cs);
            if (w2 instanceof PcapngWriter) for (let i = 0; i < 3; i++) w2.addInterface(`if${i}`);
            pkts.forEach((p, i) => {
              const rec = r.records[i];
              assert.deepEqual(rec.data, p.data);
              assert.equal(rec.origLen, p.data.length);
              // Half a unit of rounding, plus the double's own resolution at wall-clock magnitudes.
              assert.ok(Math.abs(rec.timeMs - p.t) <= unitMs / 2 + p.t * 2 ** -52, `${rec.timeMs} vs ${p.t}`);
              if (fmt === 'pcapng') {
                assert.equal(rec.dir, p.dir);
                assert.equal(rec.iface, p.iface);
              }
              w2.writePacket(rec.timeMs, rec.data, rec.iface, rec.dir);
            });
            assert.deepEqual(w2.toBytes(), bytes);
          },
        ),
        { numRuns: 200 },
      );
    });
  }

  test('readers never throw on random or mutated input', () => {
    const w = new PcapngWriter();
    w.addInterface('x');
    const p = new PcapWriter();
    for (let i = 0; i < 5; i++) {
      w.writePacket(i, new Uint8Array(i * 5 + 1).fill(i), 0, DIR_IN);
      p.writePacket(i, new Uint8Array(i * 5 + 1).fill(i));
    }
    const seeds = [w.toBytes(), p.toBytes()];
    fc.assert(
      fc.property(
        fc.nat(1),
        fc.array(fc.record({ at: fc.nat(), val: fc.nat(255) }), { maxLength: 8 }),
        fc.nat(),
        (which, muts, cut) => {
          const b = seeds[which].slice(0, 1 + (cut % seeds[which].length));
          for (const m of muts) b[m.at % b.length] = m.val;
          const r = readCapture(b);
          for (const rec of r.records)
            assert.ok(rec.data.byteOffset + rec.data.length <= b.byteOffset + b.length);
          assert.ok(r.error === null || ['truncated', 'bad-format'].includes(r.error));
        },
      ),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        readCapture(b);
        readPcap(b);
        readPcapng(b);
      }),
    );
  });
});
