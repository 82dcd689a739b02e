/**
 * Issue 2's tshark criterion: two stacks exchange ICMP echo (v4, v6), UDP
 * (v4, v6, fragmented v4 and v6) and ICMP port unreachable over a MemoryWire
 * wrapped in a PcapTap, in virtual time; tshark reads the capture with
 * checksum validation on, finds nothing malformed and no bad checksum, and
 * decodes the fields we sent.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PcapTap } from '../../src/link/pcap-tap.js';
import { saveCapture } from '../../src/node/pcap-file.js';
import { PcapWriter } from '../../src/wire/pcap.js';
import { twoStacks } from './helpers.js';

const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
const inCi = process.env.CI === 'true';
const skip = hasTshark || inCi ? false : 'tshark not installed (apt-get install tshark; .ci/run installs it)';

const CHECKS = [
  '-o',
  'ip.check_checksum:TRUE',
  '-o',
  'tcp.check_checksum:TRUE',
  '-o',
  'udp.check_checksum:TRUE',
  // Our UDP payloads are plain bytes: without this tshark picks a dissector by
  // port number (47000 is "HCrt") and calls the bytes malformed.
  '-d',
  'udp.port==47000,data',
  '-d',
  'tcp.port==47000-47001,data',
];

function tshark(file: string, args: string[]): string {
  const r = spawnSync('tshark', ['-r', file, ...CHECKS, ...args], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `tshark failed: ${r.stderr}`);
  return r.stdout;
}

/** tshark -T fields: one object per frame, first occurrence of each field. */
function fields(file: string, names: string[], filter?: string): Record<string, string>[] {
  const args = ['-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=f'];
  for (const n of names) args.push('-e', n);
  if (filter) args.push('-Y', filter);
  const out = tshark(file, args).replace(/\n$/, '');
  if (out === '') return [];
  return out.split('\n').map((line) => {
    const v = line.split('\t');
    const row: Record<string, string> = {};
    names.forEach((n, i) => {
      row[n] = v[i] ?? '';
    });
    return row;
  });
}

test('tshark finds no malformed packets or bad checksums in a two-stack capture and decodes what was sent', {
  skip,
}, () => {
  assert.ok(hasTshark, 'tshark is required when CI=true: apt-get install -y tshark (.ci/run does this)');
  const dir = mkdtempSync(join(tmpdir(), 'usnet-tshark-'));
  try {
    const pcap = new PcapWriter();
    const { world, a, b } = twoStacks({
      delay: 2,
      a: { seed: 11 },
      b: { seed: 12 },
      linkA: (end, w) => new PcapTap(end, pcap, w.clock, 'a-eth0'),
    });
    const replies: string[] = [];
    a.onEchoReply = (r) => replies.push(`${r.family}/${r.id}/${r.seq}/${r.data.length}`);

    const payload = new Uint8Array(48).map((_, i) => i);
    assert.equal(a.ping('198.18.0.2', 0x4242, 1, payload), 0);
    assert.equal(a.ping('fd00::2', 0x4343, 2, payload), 0);
    world.run({ until: 20 });

    const srv4 = b.socket('udp', 4);
    srv4.bind('198.18.0.2', 47000);
    const srv6 = b.socket('udp', 6);
    srv6.v6only = true;
    srv6.bind('fd00::2', 47000);
    const cli4 = a.socket('udp', 4);
    cli4.bind('198.18.0.1', 40001);
    const cli6 = a.socket('udp', 6);
    cli6.bind('fd00::1', 40002);
    cli4.sendto(new TextEncoder().encode('hello v4'), '198.18.0.2', 47000);
    cli6.sendto(new TextEncoder().encode('hello v6!'), 'fd00::2', 47000);
    world.run({ until: 40 });
    const d4 = srv4.recvfrom();
    srv4.sendto(d4.data, d4.addr, d4.port);
    const d6 = srv6.recvfrom();
    srv6.sendto(d6.data, d6.addr, d6.port);
    world.run({ until: 60 });
    // To closed ports: ICMP port unreachable (v4) and destination unreachable code 4 (v6).
    cli4.sendto(new Uint8Array(4), '198.18.0.2', 9);
    cli6.sendto(new Uint8Array(4), 'fd00::2', 9);
    world.run({ until: 80 });
    // Fragmented datagrams: 4000 bytes over a 1500-byte MTU, both families.
    const big = new Uint8Array(4000).map((_, i) => (i * 13) & 0xff);
    cli4.sendto(big, '198.18.0.2', 47000);
    cli6.sendto(big, 'fd00::2', 47000);
    world.run({ until: 100 });
    assert.deepEqual(srv4.recv(), big);
    assert.deepEqual(srv6.recv(), big);
    assert.deepEqual(replies.sort(), ['4/16962/1/48', '6/17219/2/48']);

    const file = join(dir, 'two-stacks.pcap');
    saveCapture(file, pcap);

    // 1. Nothing malformed, no checksum errors, no expert errors.
    const bad = tshark(file, ['-Y', '_ws.malformed || _ws.expert.severity >= error']);
    assert.equal(bad.trim(), '', `tshark flagged packets:\n${bad}`);

    // 2. Every checksum tshark verifies is good (status 1 = Good, 2 = Bad; empty = not present).
    const sums = [
      'ip.checksum.status',
      'udp.checksum.status',
      'icmp.checksum.status',
      'icmpv6.checksum.status',
    ];
    const all = fields(file, ['frame.number', ...sums]);
    // 4 echo + 4 UDP + 2 to closed ports + 2 unreachables + 6 fragments
    assert.equal(all.length, 18, 'frames in the capture');
    for (const f of sums) {
      const present = all.filter((r) => r[f] !== '');
      assert.ok(present.length > 0, `${f}: some packets carry it`);
      for (const r of present) assert.equal(r[f], '1', `frame ${r['frame.number']}: ${f} must be Good`);
    }

    // 3. Decoded fields match what was sent.
    const echo4 = fields(
      file,
      ['ip.src', 'ip.dst', 'icmp.type', 'icmp.ident', 'icmp.seq', 'ip.len'],
      'icmp.type == 8 || icmp.type == 0',
    );
    assert.deepEqual(echo4, [
      {
        'ip.src': '198.18.0.1',
        'ip.dst': '198.18.0.2',
        'icmp.type': '8',
        'icmp.ident': '16962',
        'icmp.seq': '1',
        'ip.len': '76',
      },
      {
        'ip.src': '198.18.0.2',
        'ip.dst': '198.18.0.1',
        'icmp.type': '0',
        'icmp.ident': '16962',
        'icmp.seq': '1',
        'ip.len': '76',
      },
    ]);
    const echo6 = fields(
      file,
      [
        'ipv6.src',
        'ipv6.dst',
        'icmpv6.type',
        'icmpv6.echo.identifier',
        'icmpv6.echo.sequence_number',
        'ipv6.plen',
      ],
      'icmpv6.type == 128 || icmpv6.type == 129',
    );
    assert.deepEqual(
      echo6.map((r) => Object.values(r)),
      [
        ['fd00::1', 'fd00::2', '128', '0x4343', '2', '56'],
        ['fd00::2', 'fd00::1', '129', '0x4343', '2', '56'],
      ],
    );
    const udpRows = fields(
      file,
      ['ip.src', 'ipv6.src', 'udp.srcport', 'udp.dstport', 'udp.length'],
      'udp && !icmp && !icmpv6 && udp.length < 100',
    );
    assert.deepEqual(
      udpRows.map(
        (r) => `${r['ip.src'] || r['ipv6.src']} ${r['udp.srcport']}>${r['udp.dstport']} ${r['udp.length']}`,
      ),
      [
        '198.18.0.1 40001>47000 16',
        'fd00::1 40002>47000 17',
        '198.18.0.2 47000>40001 16',
        'fd00::2 47000>40002 17',
        '198.18.0.1 40001>9 12',
        'fd00::1 40002>9 12',
      ],
    );
    const unreach = fields(
      file,
      ['ip.src', 'ipv6.src', 'icmp.type', 'icmp.code', 'icmpv6.type', 'icmpv6.code'],
      'icmp.type == 3 || icmpv6.type == 1',
    );
    assert.deepEqual(
      unreach.map(
        (r) =>
          `${r['ip.src'] || r['ipv6.src']} ${r['icmp.type'] || r['icmpv6.type']}/${r['icmp.code'] || r['icmpv6.code']}`,
      ),
      ['198.18.0.2 3/3', 'fd00::2 1/4'],
    );
    // Fragments: IPv4 1480+1480+1048 data bytes with MF on all but the last, one id.
    const frags4 = fields(
      file,
      ['ip.id', 'ip.flags.mf', 'ip.frag_offset', 'ip.len'],
      'ip.flags.mf == 1 || ip.frag_offset > 0',
    );
    assert.deepEqual(
      frags4.map((r) => [r['ip.flags.mf'], r['ip.frag_offset'], r['ip.len']]),
      [
        ['1', '0', '1500'],
        ['1', String(1480 / 8), '1500'], // tshark 4.0 shows the field in 8-byte units
        ['0', String(2960 / 8), '1068'],
      ],
    );
    assert.equal(new Set(frags4.map((r) => r['ip.id'])).size, 1);
    const frags6 = fields(
      file,
      ['ipv6.fraghdr.offset', 'ipv6.fraghdr.more', 'ipv6.fraghdr.ident', 'ipv6.plen'],
      'ipv6.fraghdr',
    );
    assert.deepEqual(
      frags6.map((r) => [r['ipv6.fraghdr.offset'], r['ipv6.fraghdr.more'], r['ipv6.plen']]),
      [
        ['0', '1', '1456'],
        [String(1448 / 8), '1', '1456'], // 8-byte units here too
        [String(2896 / 8), '0', '1120'],
      ],
    );
    // tshark reassembles both and finds the whole UDP datagram with a good checksum.
    assert.equal(new Set(frags6.map((r) => r['ipv6.fraghdr.ident'])).size, 1);
    const whole = fields(file, ['udp.length', 'udp.checksum.status'], 'udp.length == 4008');
    assert.deepEqual(whole, [
      { 'udp.length': '4008', 'udp.checksum.status': '1' },
      { 'udp.length': '4008', 'udp.checksum.status': '1' },
    ]);
  } finally {
    if (!process.env.KEEP_PCAP) rmSync(dir, { recursive: true, force: true });
    else console.log('pcap kept in', dir);
  }
});

test('tshark: a TCP connection between two stacks (v4 and v6) has good TCP checksums and decodes as sent', {
  skip,
}, async () => {
  assert.ok(hasTshark, 'tshark is required when CI=true: apt-get install -y tshark (.ci/run does this)');
  const { TcpLayer } = await import('../../src/tcp/tcp.js');
  const dir = mkdtempSync(join(tmpdir(), 'usnet-tshark-tcp-'));
  try {
    const pcap = new PcapWriter();
    const { world, a, b } = twoStacks({
      delay: 2,
      a: { seed: 21 },
      b: { seed: 22 },
      linkA: (end, w) => new PcapTap(end, pcap, w.clock, 'a-eth0'),
    });
    new TcpLayer(a);
    new TcpLayer(b);
    const payload = new Uint8Array(5000).map((_, i) => (i * 7) & 0xff);
    for (const [family, addr, port] of [
      [4, '198.18.0.2', 47000],
      [6, 'fd00::2', 47001],
    ] as const) {
      const lsn = b.socket('tcp', family) as InstanceType<
        typeof import('../../src/socket/tcp-socket.js').TcpSocket
      >;
      lsn.bind(null, port);
      lsn.listen(8);
      const cli = a.socket('tcp', family) as typeof lsn;
      try {
        cli.connect(addr, port);
      } catch (e) {
        if ((e as { code?: string }).code !== 'EINPROGRESS') throw e;
      }
      world.run({ until: world.now + 50 });
      const srv = lsn.accept();
      assert.equal(cli.send(payload), payload.length);
      world.run({ until: world.now + 200 });
      assert.deepEqual(srv.recv(), payload);
      cli.close();
      srv.close();
      lsn.close();
      world.run({ until: world.now + 500 });
    }
    const file = join(dir, 'tcp.pcap');
    saveCapture(file, pcap);
    const bad = tshark(file, ['-Y', '_ws.malformed || _ws.expert.severity >= error']);
    assert.equal(bad.trim(), '', `tshark flagged packets:\n${bad}`);
    const rows = fields(
      file,
      ['tcp.checksum.status', 'tcp.flags.syn', 'tcp.flags.fin', 'tcp.dstport', 'tcp.srcport', 'tcp.len'],
      'tcp',
    );
    assert.ok(rows.length >= 12, `TCP segments captured: ${rows.length}`);
    for (const r of rows) assert.equal(r['tcp.checksum.status'], '1', 'TCP checksum Good');
    const syns = rows.filter((r) => r['tcp.flags.syn'] === '1');
    assert.equal(syns.length, 4, 'SYN and SYN-ACK, twice');
    const fins = rows.filter((r) => r['tcp.flags.fin'] === '1');
    assert.equal(fins.length, 4, 'a FIN each way, twice');
    const bytesToServer = rows
      .filter((r) => r['tcp.dstport'] === '47000' || r['tcp.dstport'] === '47001')
      .reduce((n, r) => n + Number(r['tcp.len']), 0);
    assert.equal(bytesToServer, 2 * payload.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
