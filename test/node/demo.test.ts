/**
 * `usnet demo` (npm start) as a new user runs it: it must finish by itself
 * with status 0, print tcpdump-style lines and ss tables through the close
 * sequence, and write a pcap that tshark reads with checksum validation on
 * and nothing malformed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;

function demo(args: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/usnet.ts', 'demo', ...args], {
    encoding: 'utf8',
    timeout: 90_000,
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

function tshark(file: string, args: string[]): string {
  const r = spawnSync(
    'tshark',
    ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', ...args],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(r.status, 0, `tshark failed: ${r.stderr}`);
  return r.stdout;
}

test('demo: trace, ss tables through the close, pcap that tshark reads cleanly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'usnet-demo-'));
  try {
    const pcap = join(dir, 'demo.pcap');
    const r = demo(['--pcap', pcap, '--requests', '4']);
    assert.equal(r.status, 0, `demo failed:\n${r.err}\n${r.out}`);
    const lines = r.out.split('\n');
    const segs = lines.filter((l) => /^\d\d:\d\d:\d\d\.\d{6} IP /.test(l));
    // The handshake, with Linux's SYN options in tcpdump's words.
    assert.match(
      segs[0] ?? '',
      /^00:00:00\.000000 IP 198\.18\.0\.1\.\d+ > 198\.18\.0\.2\.80: Flags \[S\], seq \d+, win 64240, options \[mss 1460,sackOK,TS val \d+ ecr 0,nop,wscale \d+\], length 0$/,
    );
    assert.match(
      segs[1] ?? '',
      /198\.18\.0\.2\.80 > 198\.18\.0\.1\.\d+: Flags \[S\.\], seq \d+, ack \d+, win \d+/,
    );
    assert.match(
      segs[2] ?? '',
      /Flags \[\.\], ack 1, win \d+, options \[nop,nop,TS val \d+ ecr \d+\], length 0$/,
    );
    // Relative sequence numbers after the handshake, HTTP first lines, a FIN each way.
    assert.ok(segs.some((l) => /Flags \[P\.\], seq 1:\d+, ack 1, .*: HTTP: GET \/ HTTP\/1\.1$/.test(l)));
    assert.ok(segs.some((l) => /: HTTP: HTTP\/1\.1 200 OK$/.test(l)));
    assert.equal(segs.filter((l) => /Flags \[F\.\]/.test(l)).length, 2);
    // ss tables: the states of an active close on a, a passive one on b.
    for (const st of ['ESTAB', 'FIN-WAIT-1', 'CLOSE-WAIT', 'LAST-ACK', 'TIME-WAIT', 'LISTEN'])
      assert.ok(
        lines.some((l) => new RegExp(`^ {4}[ab] +${st} `).test(l)),
        `no ss row in state ${st}`,
      );
    assert.ok(lines.some((l) => /^ {4}a +TIME-WAIT .*timer:\(timewait,\d+sec,0\)/.test(l)));
    assert.equal(lines.filter((l) => l.includes('>>> GET ')).length, 4);
    assert.match(r.out, /4\/4 requests OK over 1 connection\(s\), (\d+) segments/);
    const n = Number(/(\d+) segments/.exec(r.out)?.[1]);
    assert.equal(n, segs.length);
    if (hasTshark) {
      const bad = tshark(pcap, [
        '-Y',
        '_ws.malformed || _ws.expert.severity >= error || ip.checksum.status == "Bad" || tcp.checksum.status == "Bad"',
      ]);
      assert.equal(bad.trim(), '', `tshark found problems:\n${bad}`);
      const frames = tshark(pcap, ['-T', 'fields', '-e', 'frame.number']).trim().split('\n');
      assert.equal(frames.length, segs.length);
      const reqs = tshark(pcap, ['-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri'])
        .trim()
        .split('\n');
      assert.deepEqual(reqs, ['/', '/data.bin', '/api/time', '/']);
      const chunked = tshark(pcap, [
        '-Y',
        'http.transfer_encoding == "chunked"',
        '-T',
        'fields',
        '-e',
        'frame.number',
      ]);
      assert.ok(chunked.trim().length > 0, 'no chunked response decoded');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('demo: with loss and delay on the wire it still completes every request', () => {
  const dir = mkdtempSync(join(tmpdir(), 'usnet-demo-'));
  try {
    const pcap = join(dir, 'lossy.pcap');
    const r = demo(['--pcap', pcap, '--loss', '10', '--delay', '3', '--requests', '3']);
    assert.equal(r.status, 0, `demo failed:\n${r.err}\n${r.out}`);
    assert.match(r.out, /loss 10%/);
    assert.match(r.out, /3\/3 requests OK/);
    if (hasTshark) {
      const bad = tshark(pcap, ['-Y', '_ws.malformed || tcp.checksum.status == "Bad"']);
      assert.equal(bad.trim(), '');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('demo: bad options are refused with status 2', () => {
  const r = demo(['--loss', '150']);
  assert.equal(r.status, 2);
  assert.match(r.err, /--loss/);
});
