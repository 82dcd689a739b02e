/**
 * TCP states (RFC 9293 §3.3.2) and header flag bits. States are small
 * integers so the per-segment dispatch is a switch on a number.
 */

export enum TcpState {
  CLOSED = 0,
  LISTEN = 1,
  SYN_SENT = 2,
  SYN_RECV = 3,
  ESTABLISHED = 4,
  FIN_WAIT1 = 5,
  FIN_WAIT2 = 6,
  CLOSE_WAIT = 7,
  CLOSING = 8,
  LAST_ACK = 9,
  TIME_WAIT = 10,
}

/** RFC 9293 names, as the state-machine literature spells them. */
export const STATE_NAMES = [
  'CLOSED',
  'LISTEN',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'CLOSE_WAIT',
  'CLOSING',
  'LAST_ACK',
  'TIME_WAIT',
] as const;

/** The names `ss` prints for each state (iproute2's sstate_name). */
export const SS_STATE_NAMES = [
  'CLOSE',
  'LISTEN',
  'SYN-SENT',
  'SYN-RECV',
  'ESTAB',
  'FIN-WAIT-1',
  'FIN-WAIT-2',
  'CLOSE-WAIT',
  'CLOSING',
  'LAST-ACK',
  'TIME-WAIT',
] as const;

export type SsStateName = (typeof SS_STATE_NAMES)[number];

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;
export const ECE = 0x40;
export const CWR = 0x80;

/** States in which the connection is synchronized (RFC 9293 §3.10.7.4). */
export function isSynchronized(s: TcpState): boolean {
  return s >= TcpState.SYN_RECV;
}
