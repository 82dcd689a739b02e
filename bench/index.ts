/**
 * Runs every benchmark in bench/ one after the other, each in its own
 * process (so one's JIT state and heap do not colour the next), and prints
 * their tables. Each is first bundled with esbuild into plain JavaScript
 * beside its source (bench/.<name>.bundle.mjs, removed afterwards) and run
 * with plain node: what is measured is the code as a user runs the built
 * package, not tsx's on-the-fly transform (which wraps every function to
 * keep its name and costs 5-10% on the connection-rate loop).
 * `npm run bench` runs them all; name some to run a subset:
 *
 *   npm run bench -- wire timewait
 *   USNET_BENCH_QUICK=1 npm run bench      (shorter runs where a bench supports it)
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();

let failed = 0;
for (const f of files) {
  console.log(`\n=== ${f}`);
  const bundle = join(here, `.${f.replace(/\.ts$/, '')}.bundle.mjs`);
  buildSync({
    entryPoints: [join(here, f)],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
    // Stack traces (the copy counter names call sites) point into src/.
    sourcemap: 'inline',
  });
  let r: ReturnType<typeof spawnSync>;
  try {
    r = spawnSync(process.execPath, ['--enable-source-maps', bundle], { stdio: 'inherit' });
  } finally {
    rmSync(bundle, { force: true });
  }
  if (r.status !== 0) {
    failed++;
    console.log(`(${f} exited with ${r.status ?? r.signal})`);
  }
}
process.exit(failed === 0 ? 0 : 1);
