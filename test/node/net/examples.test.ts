/**
 * The examples in examples/ run as a user would run them
 * (`node --import tsx examples/X.ts`): each must exit 0 by itself and print
 * what it promises.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

function run(file: string): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `${file} failed:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

test('examples/echo-server.ts echoes three lines and closes', () => {
  const out = run('examples/echo-server.ts');
  assert.match(out, /server: listening on 198\.18\.0\.2:7/);
  assert.match(out, /client: echoed "hello"\nclient: echoed "from"\nclient: echoed "a user-space TCP stack"/);
  assert.match(out, /client: closed; 34 bytes sent, 34 received/);
  assert.match(out, /server: closed/);
});

test('examples/http.ts makes three GETs over one keep-alive connection', () => {
  const out = run('examples/http.ts');
  const lines = out.split('\n').filter((l) => l.startsWith('GET '));
  assert.equal(lines.length, 3);
  const ports = new Set(lines.map((l) => /client port (\d+)/.exec(l)?.[1]));
  assert.equal(ports.size, 1);
  assert.match(
    lines[1] ?? '',
    /^GET \/about -> 200 \(client port \d+\) you asked for \/about, from 198\.18\.0\.1$/,
  );
});

test('examples/eaddrnotavail.ts: the range runs out, tcp_tw_reuse=1 recycles, 60 s frees', () => {
  const out = run('examples/eaddrnotavail.ts');
  assert.equal((out.match(/closed -> TIME_WAIT/g) ?? []).length, 10);
  assert.match(out, /connection 11: connect\(\) failed: EADDRNOTAVAIL/);
  assert.match(out, /10 ports in TIME_WAIT/);
  assert.match(out, /tcp_tw_reuse = 2: connect\(\) -> EADDRNOTAVAIL/);
  assert.match(
    out,
    /sysctl -w net\.ipv4\.tcp_tw_reuse=1\n.*connect\(\) -> OK, local port 400\d\d\n\s+TcpExtTWRecycled \+1/,
  );
  assert.match(out, /back to tcp_tw_reuse=2; connect\(\) -> EADDRNOTAVAIL/);
  assert.match(out, /60 s later: 0 ports in TIME_WAIT; connect\(\) -> OK/);
});
