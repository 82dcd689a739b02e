import assert from 'node:assert/strict';
import { test } from 'node:test';
import { A, closeToTimeWait, errOf, Sock, setup } from './helpers.js';

/**
 * Buckets connect() made are reused for later ports once empty (and their
 * emptied address slots for later addresses): a reused bucket must behave
 * exactly like a new one, whoever made it before.
 */
test('a recycled bind bucket carries nothing over: bind() after connect() churn sees a fresh bucket', () => {
  const { host, tables } = setup(3);
  const used = new Set<number>();
  for (let i = 0; i < 50; i++) {
    const c = new Sock(4);
    tables.connect(c, A('198.18.0.2'), 80 + (i % 3));
    used.add(c.lport);
    assert.equal(tables.bucket(c.lport)?.fastreuse, -1);
    assert.equal(tables.bucket(c.lport)?.owners, 1);
    if (i % 2 === 0) {
      tables.removeEstablished(c);
    } else {
      closeToTimeWait(tables, c, host.now);
      // The TIME_WAIT entry holds the port (a bucket of its own kind).
      assert.equal(tables.bucket(c.lport)?.owners, 1);
    }
  }
  // A port bind() takes now gets a bucket made by bind: SO_REUSEADDR sharing on, one owner, one address.
  const s = new Sock(4, { reuseAddr: true });
  tables.bind(s, A('198.18.0.1'), 5000);
  const b = tables.bucket(5000);
  assert.ok(b !== undefined);
  assert.equal(b.port, 5000);
  assert.equal(b.fastreuse, 1);
  assert.equal(b.fastreuseport, 0);
  assert.equal(b.owners, 1);
  assert.equal(b.slots.length, 1);
  assert.deepEqual([...b.slots[0].bound.addr], [198, 18, 0, 1]);
  assert.equal(b.slots[0].total, 1);
  // Conflicts are judged on the new owner only: another SO_REUSEADDR socket may share, a plain one may not.
  assert.equal(
    errOf(() => tables.bind(new Sock(4, { reuseAddr: true }), A('198.18.0.1'), 5000)),
    'OK',
  );
  assert.equal(
    errOf(() => tables.bind(new Sock(4), A('198.18.0.1'), 5000)),
    'EADDRINUSE',
  );
  // A wildcard bind on a port whose recycled bucket last held a specific address.
  const w = new Sock(4);
  const port = [...used][0];
  if (tables.bucket(port) === undefined) {
    tables.bind(w, null, port);
    const wb = tables.bucket(port);
    assert.ok(wb !== undefined);
    assert.equal(wb.fastreuse, 0);
    assert.equal(wb.slots.length, 1);
    assert.equal(wb.slots[0].bound.any, true);
  }
});

test('connect() churn leaves no owners behind: every emptied bucket is gone from the port table', () => {
  const { tables } = setup(4);
  const ports: number[] = [];
  for (let i = 0; i < 200; i++) {
    const c = new Sock(4);
    tables.connect(c, A('198.18.0.2'), 443);
    ports.push(c.lport);
    tables.removeEstablished(c);
  }
  for (const p of ports) assert.equal(tables.bucket(p), undefined);
});
