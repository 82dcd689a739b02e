// Namespace helpers: sysctls are per namespace, deletion is by name and
// idempotent, and a process that dies (normal exit or SIGTERM) without
// deleting its namespaces still leaves none behind.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { isSysError } from '../../src/errno.js';
import { kernelTestsAvailable, liveNetns, Netns, netnsExists, reapStaleNetns } from '../../src/node/netns.js';

const avail = kernelTestsAvailable();
const skip = avail.ok ? false : `needs root and ip(8): ${avail.reason}`;
const netnsModule = pathToFileURL(join(import.meta.dirname, '../../src/node/netns.ts')).href;

test('a namespace has its own sysctls, runs commands inside, and is deleted by name', {
  skip,
  timeout: 30000,
}, async () => {
  const ns = Netns.create('nstest', {
    'net.ipv4.tcp_congestion_control': 'reno',
    'net.ipv4.tcp_fin_timeout': 7,
  });
  try {
    assert.match(ns.name, new RegExp(`^usnet-nstest-${process.pid}-\\d+$`));
    assert.ok(liveNetns().includes(ns.name));
    assert.equal(ns.sysctlGet('net.ipv4.tcp_congestion_control'), 'reno');
    assert.equal(ns.sysctlGet('net.ipv4.tcp_fin_timeout'), '7');
    const r = await ns.shell('ip -o link show | wc -l; echo $X', { env: { ...process.env, X: 'from-env' } });
    assert.equal(r.code, 0);
    assert.deepEqual(r.stdout.trim().split('\n'), ['1', 'from-env']); // only lo
    const slow = await ns.exec(['sleep', '5'], { timeoutMs: 200 });
    assert.equal(slow.timedOut, true);
    assert.throws(
      () => ns.sysctlSync('net.ipv4.no_such_sysctl', 1),
      (e) => isSysError(e, 'EINVAL'),
    );
  } finally {
    ns.delete();
  }
  assert.equal(netnsExists(ns.name), false);
  assert.equal(liveNetns().includes(ns.name), false);
  ns.delete(); // idempotent
  assert.throws(
    () => Netns.create('Bad Name'),
    (e) => isSysError(e, 'EINVAL'),
  );
});

async function childLeaves(how: 'exit' | 'SIGTERM' | 'throw'): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'usnet-netns-'));
  try {
    const file = join(dir, 'child.ts');
    writeFileSync(
      file,
      `import { Netns } from ${JSON.stringify(netnsModule)};
const ns = Netns.create('orphan');
console.log(ns.name);
if (${JSON.stringify(how)} === 'exit') process.exit(3);
if (${JSON.stringify(how)} === 'throw') throw new Error('boom');
setTimeout(() => {}, 20000);
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'ignore'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), 20000);
    let out = '';
    const name = await new Promise<string>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      child.on('exit', () => resolve(out.trim()));
    });
    assert.match(name, /^usnet-orphan-\d+-0$/);
    if (how === 'SIGTERM') child.kill('SIGTERM');
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve([child.exitCode, child.signalCode]);
      else child.on('exit', (c, s) => resolve([c, s]));
    });
    clearTimeout(killer);
    if (how === 'exit') assert.equal(code, 3);
    if (how === 'SIGTERM') assert.equal(signal, 'SIGTERM');
    if (how === 'throw') assert.equal(code, 1);
    return name;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const how of ['exit', 'SIGTERM', 'throw'] as const) {
  test(`a namespace left behind is deleted when its process ends (${how})`, {
    skip,
    timeout: 30000,
  }, async () => {
    const name = await childLeaves(how);
    try {
      assert.equal(netnsExists(name), false);
    } finally {
      // Belt and braces: never leave it on the machine even if the assertion failed.
      if (netnsExists(name)) spawn('ip', ['netns', 'delete', name]);
    }
  });
}

test('netOnly commands enter just the network namespace and see its sockets and sysctls', {
  skip,
  timeout: 30000,
}, async () => {
  const ns = Netns.create('nsenter', { 'net.ipv4.tcp_fin_timeout': 9 });
  try {
    const r = await ns.shell('sysctl -n net.ipv4.tcp_fin_timeout; ip -o link show | wc -l', {
      netOnly: true,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['9', '1']);
  } finally {
    ns.delete();
  }
});

test('namespaces left by a process that died unannounced (SIGKILL) are reaped; live ones are not', {
  skip,
  timeout: 30000,
}, async () => {
  // A pid that has just exited stands for the killed process.
  const dead = spawnSync('true').pid!;
  const stale = `usnet-stale-${dead}-0`;
  const live = Netns.create('alive');
  const foreign = `usnet-foreign-${process.pid}`; // not our pattern: never touched
  spawnSync('ip', ['netns', 'add', stale]);
  spawnSync('ip', ['netns', 'add', foreign]);
  try {
    const reaped = reapStaleNetns();
    assert.ok(reaped.includes(stale), `reaped ${reaped.join(', ')}`);
    assert.equal(netnsExists(stale), false);
    assert.equal(netnsExists(live.name), true);
    assert.equal(netnsExists(foreign), true);
  } finally {
    live.delete();
    spawnSync('ip', ['netns', 'delete', stale]);
    spawnSync('ip', ['netns', 'delete', foreign]);
  }
});
