/**
 * The stack's keyed hashes, as RFC 6528 and Linux use them:
 *  - ISN = SipHash(secret, laddr, raddr, lport, rport) + a 4 µs clock
 *    (RFC 6528 §3; Linux today ticks in 64 ns units, the RFC and the issue
 *    ask for 4 µs: 250 ticks per ms);
 *  - per-connection timestamp offset = SipHash(ts secret, laddr, raddr)
 *    (Linux secure_tcp_ts_off: one offset per address pair, so every
 *    connection between two hosts shares it and PAWS works across them);
 *  - ephemeral-port offset = SipHash(port secret, laddr, raddr, rport), 64 bits:
 *    the low bits pick the perturbation-table slot and the high 32 bits are
 *    the offset (RFC 6056 §3.3.4 algorithm 4, Linux __inet_hash_connect).
 * Keys come from the stack's seeded Rng: same seed, same numbers.
 */
import type { Rng } from '../rng.js';
import type { IpAddr } from '../wire/addr.js';
import { isV4Wire, v4Word, v6Word } from './addr-key.js';
import { SipHash } from './siphash.js';

export class InetSecrets {
  private readonly isnKey = new Uint32Array(4);
  private readonly tsKey = new Uint32Array(4);
  private readonly portKey = new Uint32Array(4);
  private readonly sip = new SipHash();
  /** High 32 bits of the last portOffset() (the low 32 bits are returned). */
  portOffsetHi = 0;

  constructor(rng: Rng) {
    for (let i = 0; i < 4; i++) this.isnKey[i] = rng.u32();
    for (let i = 0; i < 4; i++) this.tsKey[i] = rng.u32();
    for (let i = 0; i < 4; i++) this.portKey[i] = rng.u32();
  }

  /** RFC 6528 initial sequence number for (laddr, lport) → (raddr, rport) at `now` (ms). */
  isn(laddr: IpAddr, lport: number, raddr: IpAddr, rport: number, now: number): number {
    const s = this.sip;
    if (isV4Wire(laddr) && isV4Wire(raddr)) {
      // The two addresses fill SipHash's first 8-byte block: the state after
      // it is kept for the last address pair, and only the ports are hashed
      // for the next connection between the same hosts.
      const l = v4Word(laddr);
      const r = v4Word(raddr);
      if (this.isnMemoValid && l === this.isnMemoL && r === this.isnMemoR) s.load(this.isnState);
      else {
        s.begin(this.isnKey).u32(l).u32(r);
        s.save(this.isnState);
        this.isnMemoL = l;
        this.isnMemoR = r;
        this.isnMemoValid = true;
      }
    } else {
      s.begin(this.isnKey);
      feedAddr(s, laddr);
      feedAddr(s, raddr);
    }
    s.u32(((lport << 16) | rport) >>> 0);
    const h = s.finish();
    // 4 µs per tick; the clock wraps with the sequence space.
    return (h + Math.floor(now * 250)) >>> 0;
  }

  /** Timestamp offset for the address pair (the same for every connection between them). */
  tsOffset(laddr: IpAddr, raddr: IpAddr): number {
    // Both are pure functions of their inputs and a fixed key, and a busy
    // host opens connection after connection to the same peer: the last
    // IPv4 answer is kept (each SipHash is ~2% of a connection's cost).
    const v4 = isV4Wire(laddr) && isV4Wire(raddr);
    if (v4) {
      const l = v4Word(laddr);
      const r = v4Word(raddr);
      if (this.tsMemoValid && l === this.tsMemoL && r === this.tsMemoR) return this.tsMemo;
      this.tsMemoL = l;
      this.tsMemoR = r;
    }
    const s = this.sip.begin(this.tsKey);
    feedAddr(s, laddr);
    feedAddr(s, raddr);
    const h = s.finish();
    if (v4) {
      this.tsMemo = h;
      this.tsMemoValid = true;
    }
    return h;
  }

  /** 64-bit port offset: returns the low 32 bits; `portOffsetHi` holds the high 32. */
  portOffset(laddr: IpAddr, raddr: IpAddr, rport: number): number {
    const v4 = isV4Wire(laddr) && isV4Wire(raddr);
    if (v4) {
      const l = v4Word(laddr);
      const r = v4Word(raddr);
      if (this.portMemoValid && l === this.portMemoL && r === this.portMemoR && rport === this.portMemoP) {
        this.portOffsetHi = this.portMemoHi;
        return this.portMemoLo;
      }
      this.portMemoL = l;
      this.portMemoR = r;
      this.portMemoP = rport;
    }
    const s = this.sip.begin(this.portKey);
    feedAddr(s, laddr);
    feedAddr(s, raddr);
    s.u32(rport);
    const lo = s.finish();
    this.portOffsetHi = s.hi;
    if (v4) {
      this.portMemoLo = lo;
      this.portMemoHi = s.hi;
      this.portMemoValid = true;
    }
    return lo;
  }

  // The SipHash state after the last IPv4 address pair of isn().
  private readonly isnState = new Uint32Array(11);
  private isnMemoValid = false;
  private isnMemoL = 0;
  private isnMemoR = 0;
  // Last IPv4 inputs and results of tsOffset() and portOffset().
  private tsMemoValid = false;
  private tsMemoL = 0;
  private tsMemoR = 0;
  private tsMemo = 0;
  private portMemoValid = false;
  private portMemoL = 0;
  private portMemoR = 0;
  private portMemoP = 0;
  private portMemoLo = 0;
  private portMemoHi = 0;
}

function feedAddr(s: SipHash, a: IpAddr): void {
  if (isV4Wire(a)) s.u32(v4Word(a));
  else for (let i = 0; i < 4; i++) s.u32(v6Word(a, i));
}
