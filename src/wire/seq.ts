/**
 * TCP sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4), in one place.
 *
 * Values are unsigned 32-bit integers held in JS numbers (0 .. 2^32-1). A
 * comparison is the sign of the 32-bit difference, so it is meaningful when
 * the two values are less than 2^31 apart, which TCP guarantees (windows are
 * at most 2^30 with window scaling, RFC 7323 §2.3).
 */

/** a < b in sequence space. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** a <= b in sequence space. */
export function seqLeq(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** a > b in sequence space. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** a >= b in sequence space. */
export function seqGeq(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** a + n, wrapped to an unsigned 32-bit value. n may be negative. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/**
 * The signed distance a − b in sequence space (−2^31 .. 2^31−1): positive when
 * a is after b. E.g. bytes in flight = seqSub(sndNxt, sndUna).
 */
export function seqSub(a: number, b: number): number {
  return (a - b) | 0;
}

/** The later of a and b in sequence space. */
export function seqMax(a: number, b: number): number {
  return ((a - b) | 0) >= 0 ? a : b;
}

/** The earlier of a and b in sequence space. */
export function seqMin(a: number, b: number): number {
  return ((a - b) | 0) <= 0 ? a : b;
}

/**
 * start <= x < start + len in sequence space (len is an unsigned window size,
 * 0 .. 2^32-1). With len = 0 nothing is inside. This is the RFC 9293 §3.10.7.4
 * acceptability test's building block: `RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND`.
 */
export function inWindow(x: number, start: number, len: number): boolean {
  return (x - start) >>> 0 < len;
}

/** start <= x <= end in sequence space (both ends inclusive). */
export function seqBetween(start: number, x: number, end: number): boolean {
  return (x - start) >>> 0 <= (end - start) >>> 0;
}
