/**
 * Anything driven by time from outside (DESIGN: sans-I/O core): a stack, a
 * wire with delayed frames. The driver asks when it is next due and calls
 * advance() with the current time (milliseconds, fractions allowed).
 */
export interface Steppable {
  /** The earliest time at which advance() has work to do, or Infinity. */
  nextDeadline(): number;
  /** Run everything due at or before `now`. `now` never goes backwards. */
  advance(now: number): void;
}
