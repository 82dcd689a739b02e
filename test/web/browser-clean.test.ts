/**
 * DESIGN principle 7, checked: nothing under src/ outside src/node/ and
 * src/drill/ imports a Node built-in or uses Buffer or `process`; the core
 * (everything but src/web/, the browser adapter) also never reads a clock or
 * arms a timer. The esbuild browser build refuses node:* imports as well;
 * this catches globals the bundler cannot see.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Source without comments (good enough for this check: no comment markers inside strings here). */
function code(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

const NODE_ONLY = [/from\s+'node:/, /import\(\s*'node:/, /\brequire\(/, /\bBuffer\b/, /\bprocess\./];
const NO_TIME = [
  /\bsetTimeout\b/,
  /\bsetInterval\b/,
  /\bsetImmediate\b/,
  /\bDate\.now\b/,
  /\bperformance\.now\b/,
];

it('src/ outside node/ and drill/ is browser-clean; the core reads no clock and arms no timer', () => {
  const bad: string[] = [];
  for (const f of walk('src', [])) {
    const rel = f.split('\\').join('/');
    if (rel.startsWith('src/node/') || rel.startsWith('src/drill/')) continue;
    const c = code(readFileSync(f, 'utf8'));
    const rules = rel.startsWith('src/web/') ? NODE_ONLY : [...NODE_ONLY, ...NO_TIME];
    for (const re of rules) if (re.test(c)) bad.push(`${rel}: ${re}`);
  }
  assert.deepEqual(bad, []);
});
