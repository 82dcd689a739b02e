import assert from 'node:assert/strict';
import { test } from 'node:test';
import { POLLERR, POLLHUP, POLLIN, POLLOUT } from '../../src/socket/poll.js';
import type { TcpSocket } from '../../src/socket/tcp-socket.js';
import { BufferPool, EMPTY_RING, MIN_RING, POOL_MAX_SIZE } from '../../src/tcp/buffer-pool.js';
import { RecvBuffer } from '../../src/tcp/recv-buffer.js';
import { SendBuffer } from '../../src/tcp/send-buffer.js';
import type { Tcb } from '../../src/tcp/tcb.js';
import { type Hosts, tcpOf, twoStacks } from '../scenario/transfer-harness.js';

/** The ring a buffer holds right now (a private field; tests only). */
const ring = (b: SendBuffer | RecvBuffer): Uint8Array => (b as unknown as { buf: Uint8Array }).buf;

test('BufferPool: a given-back ring is handed out again, by size class, up to the per-class limit', () => {
  const p = new BufferPool(4 * MIN_RING);
  const a = p.take(MIN_RING);
  const b = p.take(2 * MIN_RING);
  assert.equal(a.length, MIN_RING);
  assert.equal(b.length, 2 * MIN_RING);
  assert.equal(p.allocated, 2);
  p.give(a);
  p.give(b);
  assert.equal(p.take(2 * MIN_RING), b);
  assert.equal(p.take(MIN_RING), a);
  assert.equal(p.reused, 2);
  // At most 4 KiB per class: four 1 KiB rings, two 2 KiB rings.
  const ones = Array.from({ length: 6 }, () => p.take(MIN_RING));
  for (const r of ones) p.give(r);
  assert.equal(p.bytesHeld, 4 * MIN_RING);
  // Not pooled: the empty ring, rings above POOL_MAX_SIZE.
  p.give(EMPTY_RING);
  p.give(new Uint8Array(2 * POOL_MAX_SIZE));
  assert.equal(p.bytesHeld, 4 * MIN_RING);
});

test('SendBuffer/RecvBuffer: release gives the ring back only when empty; the buffer works again afterwards', () => {
  const p = new BufferPool();
  const s = new SendBuffer(0, p);
  assert.equal(ring(s), EMPTY_RING); // no memory before the first write
  const data = Uint8Array.from({ length: 1500 }, (_, i) => i & 0xff);
  assert.equal(s.write(data, 0, 1500, 1 << 20), 1500);
  const r1 = ring(s);
  assert.equal(r1.length, 2048);
  s.release(); // still holds data: kept
  assert.equal(ring(s), r1);
  s.ack(1500);
  s.release();
  assert.equal(ring(s), EMPTY_RING);
  assert.equal(p.bytesHeld, 2048);
  assert.equal(s.write(data, 0, 1500, 1 << 20), 1500);
  assert.equal(ring(s), r1); // the same ring, from the pool
  const out = new Uint8Array(1500);
  s.copyOut(0, 1500, out, 0);
  assert.deepEqual(out, data);

  const r = new RecvBuffer(0, p);
  assert.equal(ring(r), EMPTY_RING);
  r.ensureCapacity(100);
  assert.equal(r.store(data, 0, 100, 0), 100);
  r.release(); // unread bytes: kept
  assert.equal(r.readable, 100);
  const got = new Uint8Array(100);
  assert.equal(r.read(got, 0, 100), 100);
  assert.deepEqual(got, data.subarray(0, 100));
  r.ensureCapacity(200); // out-of-order data only: kept too
  r.store(data, 0, 10, 50);
  r.release();
  assert.notEqual(ring(r), EMPTY_RING);
  r.clear();
  r.release();
  assert.equal(ring(r), EMPTY_RING);
});

/** Bytes of connection `id`'s request (dir 0) or reply (dir 1) at offset i. */
const pat = (id: number, dir: number, i: number) => (id * 31 + dir * 101 + i * 7 + (i >>> 8)) & 0xff;

/**
 * Many short connections between two stacks, several open at once, with
 * random request/reply sizes (up to 12 KB, so rings of every pooled size
 * are taken, grown and given back) over a wire that loses and reorders
 * segments: every byte arrives intact, the pools are used, and no ring is
 * ever held by two live control blocks at the same time.
 */
test('pooled rings: data integrity across many short connections with random sizes', () => {
  const h: Hosts = twoStacks({ wire: { delay: 0.5, loss: 0.02, reorder: 0.02, seed: 7 } });
  const ls = tcpOf(h.b).socket(4);
  ls.bind('198.18.0.2', 80);
  ls.listen(4096);
  let seed = 12345;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const TOTAL = 300;
  const CONCURRENT = 8;
  const buf = new Uint8Array(16384);
  let started = 0;
  let finished = 0;
  let failures = 0;

  const reqLen = new Map<number, number>();
  const repLen = new Map<number, number>();

  // Server: reads a 4-byte id then the request, checks it, sends the reply, closes.
  ls.onEvent = () => {
    for (;;) {
      let s: TcpSocket;
      try {
        s = ls.accept();
      } catch {
        return;
      }
      let id = -1;
      let head = 0;
      let idBytes = 0;
      let got = 0;
      let sent = 0;
      let closed = false;
      const serve = () => {
        if (closed) return;
        while (s.poll() & (POLLIN | POLLERR | POLLHUP)) {
          let k: number;
          try {
            k = s.recvInto(buf, 0, id < 0 ? 4 - head : Math.min(buf.length, (reqLen.get(id) ?? 0) - got));
          } catch {
            failures++;
            s.close();
            closed = true;
            return;
          }
          if (k === 0) break;
          if (id < 0) {
            // The first 4 bytes: the connection's id, big-endian.
            for (let i = 0; i < k; i++) idBytes = idBytes * 256 + buf[i];
            head += k;
            if (head === 4) id = idBytes;
            continue;
          }
          for (let i = 0; i < k; i++) if (buf[i] !== pat(id, 0, got + i)) failures++;
          got += k;
          if (got === reqLen.get(id)) break;
        }
        if (id >= 0 && got === reqLen.get(id)) {
          const n = repLen.get(id) as number;
          while (sent < n) {
            const chunk = Math.min(buf.length, n - sent);
            const out = new Uint8Array(chunk);
            for (let i = 0; i < chunk; i++) out[i] = pat(id, 1, sent + i);
            let w = 0;
            try {
              w = s.send(out);
            } catch {
              break; // EAGAIN: the rest when the window opens
            }
            sent += w;
            if (w < chunk) break;
          }
          if (sent === n) {
            s.close();
            closed = true;
          }
        }
      };
      s.onEvent = serve;
      serve();
    }
  };

  const startOne = () => {
    const id = started++;
    reqLen.set(id, 1 + rand(12000));
    repLen.set(id, 1 + rand(12000));
    const c = tcpOf(h.a).socket(4);
    const req = new Uint8Array(4 + (reqLen.get(id) as number));
    req[0] = id >>> 24;
    req[1] = (id >>> 16) & 0xff;
    req[2] = (id >>> 8) & 0xff;
    req[3] = id & 0xff;
    for (let i = 4; i < req.length; i++) req[i] = pat(id, 0, i - 4);
    let sent = 0;
    let got = 0;
    let done = false;
    c.onEvent = () => {
      if (done) return;
      while (sent < req.length && c.poll() & POLLOUT) {
        let w = 0;
        try {
          w = c.send(req, sent, req.length - sent);
        } catch {
          break;
        }
        sent += w;
      }
      while (c.poll() & (POLLIN | POLLERR | POLLHUP)) {
        let k: number;
        try {
          k = c.recvInto(buf, 0, buf.length);
        } catch {
          failures++;
          k = 0;
        }
        if (k > 0) {
          for (let i = 0; i < k; i++) if (buf[i] !== pat(id, 1, got + i)) failures++;
          got += k;
          continue;
        }
        if (got !== repLen.get(id)) failures++;
        done = true;
        c.close();
        finished++;
        if (started < TOTAL) startOne();
        return;
      }
    };
    try {
      c.connect('198.18.0.2', 80);
    } catch (e) {
      if ((e as { code?: string }).code !== 'EINPROGRESS') throw e;
    }
  };

  // Between events: no ring may belong to two live control blocks.
  const live = (hs: Hosts) => [...tcpOf(hs.a).all(), ...tcpOf(hs.b).all()];
  let checks = 0;
  const noSharing = () => {
    const seen = new Set<Uint8Array>();
    for (const t of live(h) as Tcb[]) {
      for (const r of [ring(t.snd), ring(t.rcv)]) {
        if (r.length === 0) continue;
        assert.ok(!seen.has(r), 'a ring is held by two live control blocks');
        seen.add(r);
      }
    }
    checks++;
  };

  for (let i = 0; i < CONCURRENT; i++) startOne();
  h.world.runUntil(
    () => {
      noSharing();
      return finished === TOTAL;
    },
    { maxSteps: 5_000_000, timeout: 3_600_000 },
  );
  assert.equal(finished, TOTAL);
  assert.equal(failures, 0);
  assert.ok(checks > 1000);
  const pa = tcpOf(h.a).bufferPool;
  const pb = tcpOf(h.b).bufferPool;
  // Most rings came from the pools rather than new allocations.
  assert.ok(pa.reused > pa.allocated, `client pool: ${pa.reused} reused, ${pa.allocated} allocated`);
  assert.ok(pb.reused > pb.allocated, `server pool: ${pb.reused} reused, ${pb.allocated} allocated`);
});
