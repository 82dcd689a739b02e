import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERRNO, isSysError, SysError } from '../src/errno.js';

function makeIt(code: 'EAGAIN' | 'EINPROGRESS' | 'EALREADY' | 'EADDRINUSE'): SysError {
  return new SysError(code, 'connect', code === 'EADDRINUSE' ? 'detail' : undefined);
}

test('routine codes: same fields and message, no captured frames; the stack limit is restored', () => {
  const before = Error.stackTraceLimit;
  for (const code of ['EAGAIN', 'EINPROGRESS', 'EALREADY'] as const) {
    const e = makeIt(code);
    assert.ok(e instanceof SysError && e instanceof Error && isSysError(e, code));
    assert.equal(e.code, code);
    assert.equal(e.errno, ERRNO[code]);
    assert.equal(e.syscall, 'connect');
    assert.equal(e.name, 'SysError');
    assert.match(e.message, new RegExp(`^connect ${code}: `));
    assert.doesNotMatch(e.stack ?? '', /\n\s+at /);
    assert.equal(Error.stackTraceLimit, before);
  }
});

test('real errors keep their stack trace', () => {
  const e = makeIt('EADDRINUSE');
  assert.equal(e.message, 'connect EADDRINUSE: Address already in use (detail)');
  assert.match(e.stack ?? '', /\n\s+at .*makeIt/);
});
