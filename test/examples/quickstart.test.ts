/** The README's quickstart runs and says what the README says it says. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

test('examples/quickstart.ts: connect, echo, client-side TIME_WAIT that ends after 60 s', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'examples/quickstart.ts'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^connected \d+ -> 7 at t=\d+(\.\d+)? ms, state ESTABLISHED$/m);
  assert.match(r.stdout, /^echoed: hello, usnet$/m);
  assert.match(r.stdout, /^client: TIME-WAIT \d+ -> 7$/m);
  assert.match(r.stdout, /^TcpExtTW = 1$/m);
  assert.match(r.stdout, /^after 60 s: 0 client sockets left$/m);
});
