/**
 * The `usnet drill` command as a user runs it: exit status 0 only when every
 * script passes, 1 when one fails, 2 on bad usage; --help documents it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

function usnet(args: string[]) {
  const r = spawnSync(process.execPath, ['bin/usnet.mjs', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

test('usnet drill --help documents flags, language, markers and targets', () => {
  const r = usnet(['drill', '--help']);
  assert.equal(r.status, 0);
  for (const s of [
    '--target',
    '--ip_version',
    '--local_ip',
    '--remote_ip',
    '--gateway_ip',
    '--netmask_ip',
    '--mtu',
    '--tolerance_usecs',
    '--define',
    '--verbose',
    '--pcap',
    '--dry_run',
    'usnet-drill: kernel-only',
    'ss -tan',
    'nstat',
    'sysctl',
    '%{ python }%',
    '192.0.2.1',
    'Exit status',
  ])
    assert.ok(r.out.includes(s), `help lacks ${s}`);
});

test('exit status: 0 when all pass, 1 when one fails, 2 on bad usage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'drill-cli-'));
  try {
    const ok = join(dir, 'ok.pkt');
    const bad = join(dir, 'bad.pkt');
    writeFileSync(ok, '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 close(3) = 0\n');
    writeFileSync(
      bad,
      '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 close(3) = -1 EBADF (Bad file descriptor)\n',
    );
    const a = usnet(['drill', ok]);
    assert.equal(a.status, 0, a.out + a.err);
    assert.match(a.out, /PASS .*ok\.pkt\n1 passed, 0 failed/);
    const b = usnet(['drill', ok, bad]);
    assert.equal(b.status, 1);
    assert.match(
      b.out,
      /FAIL .*bad\.pkt\n.*bad\.pkt:2: runtime error in close call: Expected result -1 but got 0/,
    );
    assert.match(b.out, /1 passed, 1 failed/);
    // packetdrill-style --flag=value and -D
    const c = usnet(['drill', '--tolerance_usecs=10000', '-D', 'FD=3', '--ip_version=ipv6', ok]);
    assert.equal(c.status, 0, c.out + c.err);
    assert.equal(usnet(['drill', '--ip_version=ipv5', ok]).status, 2);
    assert.equal(usnet(['drill', '--target', 'bsd', ok]).status, 2);
    assert.equal(usnet(['drill', '--no_such_flag=1', ok]).status, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
