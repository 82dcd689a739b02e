import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CaptureFileWriter, readCaptureFile, saveCapture } from '../../src/node/pcap-file.js';
import { DIR_OUT, PcapWriter } from '../../src/wire/pcap.js';

test('CaptureFileWriter streams pcap and pcapng to disk; files read back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'usnet-capfile-'));
  try {
    for (const name of ['a.pcap', 'b.pcapng']) {
      const path = join(dir, name);
      const cap = new CaptureFileWriter(path, { chunkSize: 256 });
      const iface = cap.writer.addInterface('eth0');
      for (let i = 0; i < 100; i++)
        cap.writer.writePacket(i * 0.5, new Uint8Array(40).fill(i), iface, DIR_OUT);
      cap.close();
      cap.close(); // idempotent
      const r = readCaptureFile(path);
      assert.equal(r.error, null);
      assert.equal(r.format, name.endsWith('.pcapng') ? 'pcapng' : 'pcap');
      assert.equal(r.records.length, 100);
      assert.equal(r.records[99].timeMs, 49.5);
      assert.deepEqual(r.records[7].data, new Uint8Array(40).fill(7));
    }
    const w = new PcapWriter();
    w.writePacket(1, new Uint8Array([0x45]));
    const p = join(dir, 'c.pcap');
    saveCapture(p, w);
    assert.deepEqual(new Uint8Array(readFileSync(p)), w.toBytes());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
