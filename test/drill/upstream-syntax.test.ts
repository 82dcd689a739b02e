/**
 * Forms that scripts written for packetdrill's own TUN set-up rely on (found
 * by running upstream suites, docs/upstream-scripts.md), in snippets of our
 * own: outbound TSO super-segments and inbound segments bigger than the MTU.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyOption, defaultConfig } from '../../src/drill/config.js';
import { runOne } from '../../src/drill/drill.js';

// A passive open with MSS 1000 from the peer; the stack then writes.
const SERVER = `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 60000 <mss 1000,nop,wscale 0>
+0 > S. 0:0(0) ack 1 <...>
+.05 < . 1:1(0) ack 1 win 60000
+0 accept(3, ..., ...) = 4
`;

async function run(body: string, options: [string, string][] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'drill-upstream-'));
  try {
    const f = join(dir, 't.pkt');
    writeFileSync(f, body);
    const cfg = defaultConfig();
    for (const [k, v] of options) assert.equal(applyOption(cfg, k, v, false), null);
    return await runOne(f, { target: 'usnet', config: cfg, pcap: null });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a burst of MSS-sized segments matches one TSO super-segment of the same total', async () => {
  const r = await run(
    `${SERVER}+0 write(4, ..., 3000) = 3000\n+0 > P. 1:3001(3000) ack 1\n+.05 < . 1:1(0) ack 3001 win 60000\n`,
  );
  assert.equal(r.error ?? null, null);
  assert.equal(r.ok, true);
});

test('a super-segment is split where the script splits it', async () => {
  // (the write leaves as a GSO packet of two segments and one of one, each ending in PSH)
  const r = await run(
    `${SERVER}+0 write(4, ..., 3000) = 3000\n+0 > P. 1:2001(2000) ack 1\n+0 > P. 2001:3001(1000) ack 1\n`,
  );
  assert.equal(r.error ?? null, null);
});

test('a total the burst cannot make exactly fails on the first segment', async () => {
  const r = await run(`${SERVER}+0 write(4, ..., 3000) = 3000\n+0 > P. 1:2501(2500) ack 1\n`);
  assert.equal(r.ok, false);
  assert.match(r.error ?? '', /t\.pkt:10: error handling packet: live packet field tcp_(flags|data_len)/);
});

test('--tso_coalesce=0 compares segment by segment', async () => {
  const r = await run(`${SERVER}+0 write(4, ..., 3000) = 3000\n+0 > P. 1:3001(3000) ack 1\n`, [
    ['tso_coalesce', '0'],
  ]);
  assert.equal(r.ok, false);
  assert.match(r.error ?? '', /t\.pkt:10: error handling packet: live packet field tcp_(flags|data_len)/);
});

test('segments sent later than the tolerance are not merged into one', async () => {
  // 1000 bytes fit a 1000-byte window; the rest waits for the window update.
  const r = await run(
    `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 1000 <mss 1000,nop,wscale 0>
+0 > S. 0:0(0) ack 1 <...>
+.05 < . 1:1(0) ack 1 win 1000
+0 accept(3, ..., ...) = 4
+0 write(4, ..., 2000) = 2000
+0 > . 1:1001(1000) ack 1
+.1 < . 1:1(0) ack 1001 win 60000
+0 > P. 1001:2001(1000) ack 1
`,
  );
  assert.equal(r.error ?? null, null);
  const merged = await run(
    `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 1000 <mss 1000,nop,wscale 0>
+0 > S. 0:0(0) ack 1 <...>
+.05 < . 1:1(0) ack 1 win 1000
+0 accept(3, ..., ...) = 4
+0 write(4, ..., 2000) = 2000
+0 > P. 1:2001(2000) ack 1
`,
  );
  assert.equal(merged.ok, false);
});

test('an inbound segment larger than the MTU is delivered (as through packetdrill TUN)', async () => {
  const r = await run(
    `${SERVER}+0 < P. 1:4001(4000) ack 1 win 60000\n+0 > . 1:1(0) ack 4001 <...>\n+0 read(4, ..., 10000) = 4000\n`,
  );
  assert.equal(r.error ?? null, null);
});
