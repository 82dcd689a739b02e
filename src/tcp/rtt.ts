/**
 * Round-trip time estimation and the retransmission timeout (RFC 6298),
 * with the behaviour Linux shows:
 *
 *   - RTO starts at 1 s (RFC 6298 §2.1, Linux TCP_TIMEOUT_INIT) and is 3 s
 *     after a handshake whose SYN or SYN-ACK was retransmitted and gave no
 *     RTT sample (RFC 6298 §5.7);
 *   - first sample R: SRTT = R, RTTVAR = R/2 (§2.2); later samples:
 *     RTTVAR = 3/4 RTTVAR + 1/4 |SRTT − R|, SRTT = 7/8 SRTT + 1/8 R (§2.3);
 *   - RTO = SRTT + max(rto_min, 4·RTTVAR), where rto_min
 *     (net.ipv4.tcp_rto_min_us, 200 ms) takes the place of the clock
 *     granularity G. Linux shows this on loopback: `ss -ti` reports
 *     rto:201 with an RTT of a few µs (not max(200, SRTT + 4·RTTVAR)).
 *     RTO is capped at net.ipv4.tcp_rto_max_ms (120 s);
 *   - the variance term used for the RTO rises at once with a larger
 *     4·RTTVAR but falls only once per round trip, by a quarter of the gap
 *     to the largest 4·RTTVAR seen during that round trip (Linux's
 *     mdev_max/rttvar pair as described by Sarolahti & Kuznetsov,
 *     "Congestion Control in Linux TCP", USENIX 2002), so one calm RTT does
 *     not shrink the RTO;
 *   - a sample well below SRTT (|SRTT − R| above the current variance and
 *     R < SRTT) moves RTTVAR with 1/8 of the usual weight: a sudden drop in
 *     RTT should not raise the RTO (same paper);
 *   - Karn's rule (RFC 6298 §3): no sample from a retransmitted segment,
 *     unless the timestamp option identifies the transmission (RFC 7323
 *     §4); the backed-off RTO is kept until a valid sample arrives (§5.7
 *     note), then the backoff resets;
 *   - exponential backoff (§5.5): the timer runs min(RTO · 2^backoff, max);
 *   - the RTO is a whole number of kernel ticks (jiffies), rounded up:
 *     on the reference machine (CONFIG_HZ=250, 4 ms ticks) a loopback
 *     connection with srtt 11 µs shows `ss -ti` rto:204, not 200.011
 *     (rto:201 on a HZ=1000 kernel). `tick` = 0 gives exact RFC values.
 *
 * Times are milliseconds (fractions allowed: loopback RTTs are µs).
 */
import { seqGeq } from '../wire/seq.js';

/** RFC 6298 §2.1 / Linux TCP_TIMEOUT_INIT. */
export const TCP_TIMEOUT_INIT = 1000;
/** RFC 6298 §5.7 / Linux TCP_TIMEOUT_FALLBACK. */
export const TCP_TIMEOUT_FALLBACK = 3000;
/** net.ipv4.tcp_rto_min_us default, in ms. */
export const TCP_RTO_MIN = 200;
/** net.ipv4.tcp_rto_max_ms default. */
export const TCP_RTO_MAX = 120000;
/** net.ipv4.tcp_min_rtt_wlen default (s → ms). */
export const TCP_MIN_RTT_WLEN = 300_000;
/** One jiffy on the reference machine (CONFIG_HZ=250), in ms: the RTO's granularity. */
export const LINUX_JIFFY_MS = 4;

export class RttEstimator {
  /** Smoothed RTT (ms); 0 until the first sample (TCP_INFO tcpi_rtt). */
  srtt = 0;
  /** RFC 6298 RTTVAR (ms) (TCP_INFO tcpi_rttvar). */
  rttvar = 0;
  /** The variance term in the RTO: ≥ rtoMin, decays once per RTT. */
  rtoVar = 0;
  /** Largest 4·RTTVAR seen in the current round trip. */
  private varMax = 0;
  /** The round trip ends when snd_una passes this (Linux rtt_seq). */
  private rttSeq = 0;
  /** Current RTO without backoff (ms) (TCP_INFO tcpi_rto is this times 2^backoff). */
  rto = TCP_TIMEOUT_INIT;
  /** Exponential backoff exponent (Linux icsk_backoff, TCP_INFO tcpi_backoff). */
  backoff = 0;
  /** Windowed minimum RTT (ms) over `minRttWindow` (TCP_INFO tcpi_min_rtt); Infinity until a sample. */
  minRtt = Number.POSITIVE_INFINITY;
  private minRttStamp = 0;
  /** Most recent raw sample (ms), -1 before any. */
  lastSample = -1;

  rtoMin: number;
  rtoMax: number;
  minRttWindow: number;
  /** RTO granularity (ms): the RTO is rounded up to a multiple of it; 0 = none. */
  tick: number;

  constructor(
    rtoMin = TCP_RTO_MIN,
    rtoMax = TCP_RTO_MAX,
    minRttWindow = TCP_MIN_RTT_WLEN,
    tick = LINUX_JIFFY_MS,
  ) {
    this.rtoMin = rtoMin;
    this.rtoMax = rtoMax;
    this.minRttWindow = minRttWindow;
    this.tick = tick;
  }

  /** From sysctls: tcp_rto_min_us (µs), tcp_rto_max_ms (ms), tcp_min_rtt_wlen (s). */
  static fromSysctl(v: {
    'net.ipv4.tcp_rto_min_us': number;
    'net.ipv4.tcp_rto_max_ms': number;
    'net.ipv4.tcp_min_rtt_wlen': number;
  }): RttEstimator {
    return new RttEstimator(
      v['net.ipv4.tcp_rto_min_us'] / 1000,
      v['net.ipv4.tcp_rto_max_ms'],
      v['net.ipv4.tcp_min_rtt_wlen'] * 1000,
    );
  }

  /** True once an RTT sample has been taken. */
  get hasSample(): boolean {
    return this.lastSample >= 0;
  }

  /**
   * Feed one valid RTT sample `r` (ms) taken at `now` by an ACK that moved
   * snd_una to `sndUna`, with `sndNxt` the next sequence to send (used to
   * find the end of the current round trip).
   */
  sample(r: number, now: number, sndUna: number, sndNxt: number): void {
    if (!(r >= 0) || !Number.isFinite(r)) return;
    const first = this.lastSample < 0;
    this.lastSample = r;
    if (r <= this.minRtt || now - this.minRttStamp > this.minRttWindow) {
      this.minRtt = r;
      this.minRttStamp = now;
    }
    if (first) {
      // RFC 6298 §2.2.
      this.srtt = r;
      this.rttvar = r / 2;
      this.varMax = Math.max(4 * this.rttvar, this.rtoMin);
      this.rtoVar = this.varMax;
      this.rttSeq = sndNxt;
    } else {
      // RFC 6298 §2.3 (RTTVAR with the old SRTT first).
      const err = Math.abs(this.srtt - r);
      const gain = r < this.srtt && err > this.rttvar ? 1 / 32 : 1 / 4;
      this.rttvar += (err - this.rttvar) * gain;
      this.srtt += (r - this.srtt) / 8;
      const v4 = 4 * this.rttvar;
      if (v4 > this.varMax) {
        this.varMax = v4;
        if (v4 > this.rtoVar) this.rtoVar = v4;
      }
      if (seqGeq(sndUna, this.rttSeq)) {
        // One round trip is over: let the RTO's variance term decay
        // towards what this round trip actually needed.
        if (this.varMax < this.rtoVar) this.rtoVar -= (this.rtoVar - this.varMax) / 4;
        this.rttSeq = sndNxt;
        this.varMax = this.rtoMin;
      }
    }
    this.setRto();
    // RFC 6298 §5.7 note / Karn: a valid sample ends the backoff.
    this.backoff = 0;
  }

  private setRto(): void {
    let rto = this.srtt + Math.max(this.rtoVar, this.rtoMin);
    const tick = this.tick;
    // Round up to whole ticks (the 1e-9 keeps an exact multiple where it is).
    if (tick > 0) rto = Math.ceil(rto / tick - 1e-9) * tick;
    this.rto = Math.min(rto, this.rtoMax);
  }

  /**
   * The handshake completed. Without an RTT sample from it (Karn: the SYN
   * or SYN-ACK was retransmitted and no timestamp echoed), RFC 6298 §5.7
   * starts data transfer with a 3 s RTO.
   */
  afterHandshake(synRetransmitted: boolean): void {
    if (!this.hasSample && synRetransmitted) this.rto = Math.min(TCP_TIMEOUT_FALLBACK, this.rtoMax);
  }

  /** The retransmission timer's duration now: RTO · 2^backoff, capped (RFC 6298 §5.5). */
  timeout(): number {
    if (this.backoff === 0) return this.rto; // the per-segment case: no pow
    const t = this.rto * 2 ** this.backoff;
    return Math.min(t, this.rtoMax);
  }

  /** The timer expired: double the next timeout (RFC 6298 §5.5). */
  backOff(): void {
    // Linux keeps counting (tcpi_backoff) after the cap is reached;
    // the bound only keeps 2^backoff finite.
    if (this.backoff < 64) this.backoff++;
  }

  /** Clear the backoff without a sample (Linux does so e.g. when a zero-window probe is answered). */
  resetBackoff(): void {
    this.backoff = 0;
  }
}

/**
 * RTT from the timestamp option (RFC 7323 §4.1): `tsNow` is our current
 * TSval clock (ms, with the connection's offset), `tsEcr` the echoed value
 * from an ACK that acknowledged new data. Returns -1 when the echo is 0
 * (Linux ignores a zero TSecr) or lies in the future / absurdly far in the
 * past (more than 2^31 ticks: garbage from a middlebox or a forged ACK).
 */
export function tsRttSample(tsNow: number, tsEcr: number): number {
  if (tsEcr === 0) return -1;
  const d = (tsNow - tsEcr) | 0;
  return d < 0 ? -1 : d;
}

/**
 * Pick the sample to use from an ACK (Linux's preference): the one timed
 * from the send time of a never-retransmitted segment (`seqRtt`, -1 if
 * none, Karn's rule), else the timestamp echo (`tsRtt`, -1 if none).
 */
export function chooseRttSample(seqRtt: number, tsRtt: number): number {
  return seqRtt >= 0 ? seqRtt : tsRtt;
}
