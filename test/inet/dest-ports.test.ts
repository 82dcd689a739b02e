import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DestPorts } from '../../src/inet/dest-ports.js';
import { A } from './helpers.js';

test('DestPorts behaves like a set of (destination, port), across the list → bitmap switch', () => {
  const dests = [
    [A('198.18.0.1'), A('198.18.0.2'), 80],
    [A('::ffff:198.18.0.1'), A('::ffff:198.18.0.2'), 81],
    [A('fd00::1'), A('fd00::2'), 80],
  ] as const;
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.nat(2), fc.integer({ min: 1, max: 120 })), { maxLength: 400 }),
      (ops) => {
        const d = new DestPorts(5);
        const model = new Set<string>();
        for (const [add, k, port] of ops) {
          const [l, r, rp] = dests[k];
          if (add) {
            d.add(l, port, r, rp);
            model.add(`${k}:${port}`);
          } else {
            d.remove(l, port, r, rp);
            model.delete(`${k}:${port}`);
          }
        }
        for (let k = 0; k < 3; k++)
          for (let port = 1; port <= 120; port++) {
            const [l, r, rp] = dests[k];
            assert.equal(d.has(l, port, r, rp), model.has(`${k}:${port}`));
          }
        // Mapped and plain IPv4 are one destination.
        assert.equal(d.has(A('198.18.0.1'), 5, A('198.18.0.2'), 81), model.has('1:5'));
        const live = new Set([...model].map((s) => s.split(':')[0])).size;
        assert.equal(d.size, live);
      },
    ),
    { numRuns: 100 },
  );
});
