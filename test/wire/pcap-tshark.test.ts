import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { saveCapture } from '../../src/node/pcap-file.js';
import { DIR_IN, DIR_OUT, PcapWriter } from '../../src/wire/pcap.js';
import { PcapngWriter } from '../../src/wire/pcapng.js';

// Hand-made IPv4/UDP and IPv6/UDP packets with an independent RFC 1071
// checksum, so this test checks the capture format alone.
function csum(bytes: number[]): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) s += (bytes[i] << 8) | (bytes[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

function udp4(src: number[], dst: number[], sport: number, dport: number, payload: number[]): Uint8Array {
  const ulen = 8 + payload.length;
  const u = [sport >> 8, sport & 255, dport >> 8, dport & 255, ulen >> 8, ulen & 255, 0, 0, ...payload];
  const c = csum([...src, ...dst, 0, 17, ulen >> 8, ulen & 255, ...u]) || 0xffff;
  u[6] = c >> 8;
  u[7] = c & 255;
  const tot = 20 + ulen;
  const ip = [0x45, 0, tot >> 8, tot & 255, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0, ...src, ...dst];
  const ic = csum(ip);
  ip[10] = ic >> 8;
  ip[11] = ic & 255;
  return new Uint8Array([...ip, ...u]);
}

function udp6(src: number[], dst: number[], sport: number, dport: number, payload: number[]): Uint8Array {
  const ulen = 8 + payload.length;
  const u = [sport >> 8, sport & 255, dport >> 8, dport & 255, ulen >> 8, ulen & 255, 0, 0, ...payload];
  const c = csum([...src, ...dst, 0, 0, ulen >> 8, ulen & 255, 0, 0, 0, 17, ...u]) || 0xffff;
  u[6] = c >> 8;
  u[7] = c & 255;
  return new Uint8Array([0x60, 0, 0, 0, ulen >> 8, ulen & 255, 17, 64, ...src, ...dst, ...u]);
}

const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
const A4 = [198, 18, 0, 1];
const B4 = [198, 18, 0, 2];
const A6 = [0xfd, 0, ...new Array(13).fill(0), 1];
const B6 = [0xfd, 0, ...new Array(13).fill(0), 2];

function tshark(file: string, args: string[]): string {
  const r = spawnSync(
    'tshark',
    [
      '-r',
      file,
      '-o',
      'ip.check_checksum:TRUE',
      '-o',
      'udp.check_checksum:TRUE',
      '-o',
      'tcp.check_checksum:TRUE',
      ...args,
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

describe('captures read by tshark', {
  skip: hasTshark ? false : 'tshark not installed (.ci/run installs it)',
}, () => {
  for (const fmt of ['pcap', 'pcapng'] as const) {
    test(`${fmt}: tshark decodes our IPv4/IPv6 UDP packets with good checksums and our timestamps`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'usnet-pcap-'));
      try {
        const w = fmt === 'pcap' ? new PcapWriter() : new PcapngWriter();
        const iface = w.addInterface('wire0');
        w.writePacket(1000.5, udp4(A4, B4, 40000, 52001, [1, 2, 3]), iface, DIR_OUT);
        w.writePacket(1001.25, udp4(B4, A4, 52001, 40000, [4, 5, 6, 7]), iface, DIR_IN);
        w.writePacket(2500.000001, udp6(A6, B6, 51000, 51001, [9]), iface, DIR_OUT);
        const file = join(dir, `t.${fmt}`);
        saveCapture(file, w);
        const out = tshark(file, [
          '-T',
          'fields',
          '-E',
          'separator=,',
          '-e',
          'frame.time_epoch',
          '-e',
          'ip.src',
          '-e',
          'ipv6.dst',
          '-e',
          'udp.srcport',
          '-e',
          'udp.dstport',
          '-e',
          'udp.length',
          '-e',
          'udp.checksum.status',
          '-e',
          'ip.checksum.status',
        ]);
        const rows = out.trim().split('\n');
        assert.equal(rows.length, 3, out);
        const f = rows.map((r) => r.split(','));
        assert.equal(f[0][0], '1.000500000');
        assert.equal(f[0][1], '198.18.0.1');
        assert.deepEqual(f[0].slice(3), ['40000', '52001', '11', '1', '1']);
        assert.equal(f[1][0], '1.001250000');
        assert.equal(f[1][1], '198.18.0.2');
        assert.deepEqual(f[1].slice(3), ['52001', '40000', '12', '1', '1']);
        // µs pcap rounds 2500.000001 ms to 2.500000 s; pcapng keeps the nanosecond.
        assert.equal(f[2][0], fmt === 'pcap' ? '2.500000000' : '2.500000001');
        assert.equal(f[2][2], 'fd00::2');
        assert.deepEqual(f[2].slice(3, 7), ['51000', '51001', '9', '1']);
        // Nothing malformed, no bad checksum, no expert warnings or errors.
        const bad = tshark(file, ['-Y', '_ws.malformed || _ws.expert.severity >= warning']);
        assert.equal(bad.trim(), '');
        if (fmt === 'pcapng') {
          const d = tshark(file, ['-T', 'fields', '-e', 'frame.interface_name', '-e', 'frame.p2p_dir']);
          assert.match(d, /wire0/);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
