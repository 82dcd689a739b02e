/**
 * The browser demo run in Node (same code as the page): the HTTP bodies,
 * keep-alive, the lifecycle each side went through, and a pcap that parses
 * (and that tshark reads without malformed packets, when tshark is there).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { bigBody, DATA_JSON, fnv1a, HELLO_TEXT, INDEX_TEXT, startDemo } from '../../src/web/demo.js';
import { readPcap } from '../../src/wire/pcap.js';

it('the demo exchanges four HTTP responses and walks both close orders to TIME-WAIT', {
  timeout: 60_000,
}, async (t) => {
  const d = startDemo({ bigBytes: 100_000 });
  try {
    const r = await d.result;
    assert.equal(r.error, undefined);
    assert.equal(r.ok, true);
    const by = new Map(r.responses.map((x) => [x.path, x]));
    assert.equal(by.get('/')?.text, INDEX_TEXT);
    assert.equal(by.get('/hello.txt')?.text, HELLO_TEXT);
    assert.equal(by.get('/data.json')?.text, DATA_JSON);
    assert.equal(by.get('/big.bin')?.length, 100_000);
    assert.equal(by.get('/big.bin')?.fnv, fnv1a(bigBody(100_000)));
    const keepAlivePorts = new Set(r.responses.filter((x) => x.client === 1).map((x) => x.localPort));
    assert.equal(keepAlivePorts.size, 1, 'client 1 reused one connection');
    const hist = (host: string, pred: (s: string[]) => boolean) =>
      r.history.filter((h) => h.host === host).some((h) => pred(h.states));
    const endsWith = (s: string[], tail: string[]) =>
      tail.every((x, i) => s[s.length - tail.length + i] === x);
    // Client 1 closes first: FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT; its server side CLOSE-WAIT → LAST-ACK.
    assert.ok(hist('client', (s) => endsWith(s, ['ESTAB', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT'])));
    assert.ok(hist('server', (s) => endsWith(s, ['ESTAB', 'CLOSE-WAIT', 'LAST-ACK'])));
    // The server closes /big.bin's connection first: the TIME-WAIT is on its side.
    assert.ok(hist('server', (s) => s.includes('FIN-WAIT-1') && s[s.length - 1] === 'TIME-WAIT'));
    assert.ok(hist('client', (s) => s[s.length - 1] === 'LAST-ACK' || s[s.length - 1] === 'CLOSE-WAIT'));
    // No spurious retransmission on a loss-free wire.
    assert.equal(d.a.counters.get('TcpRetransSegs') + d.b.counters.get('TcpRetransSegs'), 0);
    const cap = readPcap(d.pcap.toBytes());
    assert.equal(cap.error, null);
    assert.equal(cap.records.length, d.log.count);
    assert.equal(cap.records.length, r.segments);
    const tshark = spawnSync('tshark', ['-v'], { encoding: 'utf8' });
    if (tshark.status !== 0) {
      t.diagnostic('tshark not installed: pcap checked with readPcap only');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'usnet-web-pcap-'));
    try {
      const file = join(dir, 'demo.pcap');
      writeFileSync(file, d.pcap.toBytes());
      const all = spawnSync('tshark', ['-n', '-r', file], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(all.status, 0, all.stderr);
      assert.equal(all.stdout.trim().split('\n').length, r.segments);
      const bad = spawnSync(
        'tshark',
        ['-n', '-r', file, '-Y', '_ws.malformed || _ws.expert.severity >= error'],
        {
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
      assert.equal(bad.status, 0, bad.stderr);
      assert.equal(bad.stdout.trim(), '', 'no malformed packets');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    d.stop();
  }
});

it('the demo completes with intact bodies over a lossy wire (5% each way)', {
  timeout: 90_000,
}, async (t) => {
  const d = startDemo({ loss: 0.05, seed: 5, delayMs: 10, bigBytes: 100_000 });
  try {
    const r = await d.result;
    assert.equal(r.error, undefined);
    assert.equal(r.ok, true);
    const big = r.responses.find((x) => x.path === '/big.bin');
    assert.equal(big?.fnv, fnv1a(bigBody(100_000)));
    assert.equal(r.responses.find((x) => x.path === '/hello.txt')?.text, HELLO_TEXT);
    const lost = d.wire.statsAToB.dropped.loss + d.wire.statsBToA.dropped.loss;
    const retrans = d.a.counters.get('TcpRetransSegs') + d.b.counters.get('TcpRetransSegs');
    t.diagnostic(`${lost} frames lost on the wire, ${retrans} segments retransmitted`);
  } finally {
    d.stop();
  }
});
