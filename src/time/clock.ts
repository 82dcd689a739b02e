/**
 * Where a driver or a tool reads the time (milliseconds, fractions allowed).
 * The core never reads a clock itself (DESIGN: sans-I/O); drivers, wires and
 * capture taps are handed one. In virtual time it is a `VirtualClock`; a
 * Node driver supplies one based on `performance.now()`.
 */
export interface Clock {
  now(): number;
}
