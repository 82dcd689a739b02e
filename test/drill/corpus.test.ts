/**
 * Runs every script of the corpus (test/drill/*.pkt and its subfolders,
 * except pending/) against usnet; each must pass. Scripts marked
 * `// usnet-drill: kernel-only: <reason>` are reported as not run.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultConfig } from '../../src/drill/config.js';
import { runOne } from '../../src/drill/drill.js';

const DIR = 'test/drill';

function scripts(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      // pending/: known usnet gaps; kernel-target/: the kernel target's own checks (kernel-drill.test.ts)
      if (name !== 'pending' && name !== 'kernel-target') out.push(...scripts(p));
    } else if (name.endsWith('.pkt')) out.push(p);
  }
  return out;
}

const files = scripts(DIR);

test('the corpus is not empty', () => {
  assert.ok(files.length >= 10, `only ${files.length} scripts`);
});

for (const f of files) {
  test(`drill ${f}`, async () => {
    const r = await runOne(f, { target: 'usnet', config: defaultConfig() });
    assert.equal(r.error, null);
    assert.ok(r.ok);
    assert.deepEqual(r.skipped, [], 'corpus scripts must not rely on %{ }% blocks');
  });
}

// pending/: scripts that pass against the kernel but not yet against usnet.
// Each must say why in its first line; one that starts passing is reported
// (move it into the corpus), not failed.
const PENDING = join(DIR, 'pending');
// (git keeps no empty folder: with no pending script left there is none)
for (const name of (existsSync(PENDING) ? readdirSync(PENDING) : [])
  .filter((n) => n.endsWith('.pkt'))
  .sort()) {
  const f = join(PENDING, name);
  test(`pending ${f}`, async (t) => {
    const first = readFileSync(f, 'utf8').split('\n')[0];
    assert.match(
      first,
      /^\/\/ usnet pending: \S/,
      'a pending script starts with "// usnet pending: <reason>"',
    );
    const r = await runOne(f, { target: 'usnet', config: defaultConfig() });
    if (r.ok) t.diagnostic(`${f} now passes against usnet: move it into test/drill/`);
    else assert.ok(r.error && !/internal error/.test(r.error), r.error ?? '');
  });
}
