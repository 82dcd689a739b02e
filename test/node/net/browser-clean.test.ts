/**
 * The parts of src/node/net meant for reuse in a browser front end stay free
 * of Node: no node:* imports, no Buffer/process/setImmediate, and their
 * imports reach only each other and the browser-clean core (src/ outside
 * node/ and drill/, which test/... checks on its own).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const CLEAN = ['address.ts', 'conn.ts', 'context.ts', 'errors.ts', 'tcpdump.ts'];

test('conn, address, context, errors and tcpdump use no Node built-ins', () => {
  for (const f of CLEAN) {
    const src = readFileSync(new URL(`../../../src/node/net/${f}`, import.meta.url), 'utf8');
    const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    assert.doesNotMatch(code, /from 'node:/, `${f} imports a node: module`);
    assert.doesNotMatch(code, /\b(Buffer|process|setImmediate|require)\b/, `${f} uses a Node global`);
    for (const m of code.matchAll(/from '([^']+)'/g)) {
      const spec = m[1] as string;
      const ok =
        (spec.startsWith('./') && CLEAN.includes(spec.slice(2).replace(/\.js$/, '.ts'))) ||
        (spec.startsWith('../../') && !spec.startsWith('../../node/') && !spec.startsWith('../../drill/'));
      assert.ok(ok, `${f} imports ${spec}`);
    }
  }
});
