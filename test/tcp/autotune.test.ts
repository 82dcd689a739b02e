import assert from 'node:assert/strict';
import { test } from 'node:test';
import { POLLIN } from '../../src/socket/poll.js';
import { twoStacks } from './harness.js';

test('receive-buffer autotuning grows SO_RCVBUF and the window past 64 KiB on a long path; SO_RCVBUF set by the user stays', () => {
  for (const fixed of [false, true]) {
    const { world, ta, tb } = twoStacks({ wire: { delay: 10, rateBps: 1e9 } });
    const l = tb.socket(4);
    if (fixed) l.setsockopt('SO_RCVBUF', 65536);
    l.bind('198.18.0.2', 80);
    l.listen(4);
    const c = ta.socket(4);
    try {
      c.connect('198.18.0.2', 80);
    } catch {}
    world.runUntil(() => (l.poll() & POLLIN) !== 0, { timeout: 1000 });
    const s = l.accept();
    const chunk = new Uint8Array(65536);
    const rb = new Uint8Array(65536);
    const total = 16 << 20;
    let sent = 0;
    let got = 0;
    let maxWnd = 0;
    c.onEvent = () => {
      while (sent < total && c.poll() & 4) sent += c.send(chunk, 0, Math.min(chunk.length, total - sent));
    };
    s.onEvent = () => {
      while (s.recvQueue > 0) got += s.recvInto(rb);
      maxWnd = Math.max(maxWnd, s.t.rcvWnd);
    };
    c.onEvent(0);
    world.runUntil(() => got >= total, { timeout: 600_000, maxSteps: 1e8 });
    assert.equal(got, total);
    if (fixed) {
      assert.equal(s.getsockopt('SO_RCVBUF'), 131072);
      // The window never exceeds what the fixed buffer holds at the measured
      // payload/truesize ratio (Linux tcp_full_space with scaling_ratio).
      assert.ok(maxWnd <= Math.floor((131072 * s.t.scalingRatio) / 256), `window ${maxWnd}`);
      assert.ok(s.t.scalingRatio > 128, `ratio ${s.t.scalingRatio}`);
    } else {
      assert.ok((s.getsockopt('SO_RCVBUF') as number) > 1 << 20, `rcvbuf ${s.getsockopt('SO_RCVBUF')}`);
      assert.ok(maxWnd > 1 << 19, `window ${maxWnd}`);
    }
  }
});
