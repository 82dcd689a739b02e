// Every packetdrill script under test/drill/ run against the Linux kernel
// (`usnet drill --target kernel`): a fresh namespace + TUN per script, real
// time. Needs root, /dev/net/tun, ip and python3; skipped with the reason
// otherwise (CI runs as root). Scripts marked `usnet-only` are reported as
// not run. A failing script is run up to twice more before it counts as
// failed (real-time timing on a loaded machine); earlier failures are
// reported as diagnostics. Set USNET_DRILL_FILTER=substring to run a subset.
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { defaultConfig } from '../../src/drill/config.js';
import { runOne } from '../../src/drill/drill.js';
import { kernelTestsAvailable, liveNetns } from '../../src/node/netns.js';

const avail = kernelTestsAvailable();
const skip = avail.ok ? false : `kernel drill runs need root, /dev/net/tun, ip and python3: ${avail.reason}`;
const root = import.meta.dirname;
const filter = process.env.USNET_DRILL_FILTER ?? '';

function scripts(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) scripts(p, out);
    else if (name.endsWith('.pkt') && p.includes(filter)) out.push(p);
  }
  return out;
}

const files = scripts(root);

test('the kernel drill corpus is not empty', { skip }, () => {
  assert.ok(files.length > 0, `no .pkt scripts under ${root}${filter ? ` matching ${filter}` : ''}`);
});

for (const file of files) {
  const name = relative(root, file);
  // Real time: a script runs as long as its timeline (TIME_WAIT scripts take a minute).
  test(`kernel: ${name}`, { skip, timeout: 180_000 }, async (t) => {
    const before = new Set(liveNetns());
    let r = await runOne(file, { target: 'kernel', config: defaultConfig() });
    if (r.notRun) {
      t.skip(`not for the kernel target (${r.notRun})`);
      return;
    }
    // Real time on a shared machine: a loaded CPU can delay the kernel's own
    // softirq work (or our reader of its TUN device) by milliseconds. A
    // script that is wrong fails every time; one that lost a scheduling race
    // passes on a later attempt (at most three in all).
    for (let attempt = 2; !r.ok && attempt <= 3; attempt++) {
      t.diagnostic(`attempt ${attempt - 1} failed, retrying: ${r.error}`);
      r = await runOne(file, { target: 'kernel', config: defaultConfig() });
    }
    assert.ok(r.ok, r.error ?? 'failed');
    // The runner closed the target: its namespace is gone.
    assert.deepEqual(
      liveNetns().filter((n) => !before.has(n)),
      [],
    );
  });
}
