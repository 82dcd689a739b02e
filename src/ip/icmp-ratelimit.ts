/**
 * ICMP output rate limits as Linux applies them (observed behaviour of
 * icmp_global_allow and the per-peer token bucket):
 *
 * - Global: a credit of at most `icmp_msgs_burst` (50), refilled at
 *   `icmp_msgs_per_sec` (1000/s) but only when at least 20 ms (HZ/50) passed
 *   since the last refill, and then each allowed message consumes a random
 *   0..2 credits (Linux randomises this since 6.11 to close a side channel;
 *   here the random draw comes from the stack's seeded generator).
 * - Per destination host: a token bucket holding up to 6 × `icmp_ratelimit`
 *   ms of tokens (XRLIM_BURST_FACTOR), each message costing `icmp_ratelimit`
 *   ms: a burst of 6, then one per `icmp_ratelimit` ms. A peer seen for the
 *   first time starts full. IPv6 scales the interval down for routes shorter
 *   than /128 (interval >> ((128 - plen) >> 5)).
 *
 * Which messages are limited is decided by the caller (Linux's
 * icmp_ratemask: destination unreachable except frag-needed, source quench,
 * time exceeded, parameter problem; for IPv6 every error but packet too big;
 * never echo replies); loopback destinations skip the per-host limit.
 */
import type { Rng } from '../rng.js';

const BURST_FACTOR = 6;
/** Peers remembered; the oldest are forgotten first (Linux's inetpeer cache is bounded too). */
const MAX_PEERS = 4096;

interface Peer {
  tokens: number;
  last: number;
}

export class IcmpRateLimiter {
  private credit = 0;
  private stamp = Number.NEGATIVE_INFINITY;
  private readonly peers = new Map<string, Peer>();

  constructor(private readonly rng: Rng) {}

  /** icmp_global_allow(): may one more rate-limited message go out now? */
  globalAllow(now: number, msgsPerSec: number, burst: number): boolean {
    if (this.credit > 0) return true;
    const delta = Math.min(now - this.stamp, 1000);
    if (delta < 20) return false;
    const incr = Math.floor((msgsPerSec * delta) / 1000);
    if (incr <= 0) return false;
    this.stamp = now;
    this.credit = Math.min(this.credit + incr, burst);
    return true;
  }

  /** icmp_global_consume(): charge 0..2 credits for a message that was sent. */
  globalConsume(): void {
    this.credit -= this.rng.below(3);
  }

  /** Per-peer token bucket: may a message go to `key` (the address bytes) now? */
  hostAllow(key: Uint8Array, now: number, intervalMs: number): boolean {
    if (intervalMs <= 0) return true;
    // Addresses are short and this is the ICMP error path, not the data path.
    const k = key.join('.');
    let p = this.peers.get(k);
    if (p === undefined) {
      if (this.peers.size >= MAX_PEERS) {
        const oldest = this.peers.keys().next().value;
        if (oldest !== undefined) this.peers.delete(oldest);
      }
      p = { tokens: 0, last: now - 60_000 };
      this.peers.set(k, p);
    }
    let tokens = p.tokens + (now - p.last);
    p.last = now;
    if (tokens > BURST_FACTOR * intervalMs) tokens = BURST_FACTOR * intervalMs;
    let ok = false;
    if (tokens >= intervalMs) {
      tokens -= intervalMs;
      ok = true;
    }
    p.tokens = tokens;
    return ok;
  }
}
