/**
 * Errors shaped like Node's own system errors (lib/internal/errors.js):
 * `err.code` 'ECONNREFUSED', `err.errno` the *negative* errno (libuv's
 * convention, which Node exposes), `err.syscall`, and for address-bearing
 * calls `err.address` / `err.port` with the message Node prints, e.g.
 * `connect ECONNREFUSED 198.18.0.2:80` or
 * `listen EADDRINUSE: address already in use 198.18.0.2:80`.
 * Browser-clean: no Node built-ins.
 */
import { ERRNO, type ErrnoCode } from '../../errno.js';

/** libuv's uv_strerror() texts, which Node puts in listen/bind messages. */
const UV_MESSAGE: Partial<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available',
  EACCES: 'permission denied',
  EAFNOSUPPORT: 'address family not supported',
  EINVAL: 'invalid argument',
  ENETUNREACH: 'network is unreachable',
};

export interface NetError extends Error {
  code: string;
  errno: number;
  syscall: string;
  address?: string;
  port?: number;
}

function errnoOf(code: string): number {
  const n = (ERRNO as Record<string, number>)[code];
  return n === undefined ? -1 : -n;
}

/**
 * As Node's exceptionWithHostPort (connect) or uvExceptionWithHostPort
 * (listen/bind, `withUvMessage`): `${syscall} ${code}[: uv message] address:port`.
 */
export function netError(
  code: ErrnoCode | string,
  syscall: string,
  address?: string,
  port?: number,
  withUvMessage = false,
): NetError {
  let msg = `${syscall} ${code}`;
  const uv = UV_MESSAGE[code];
  if (withUvMessage && uv !== undefined) msg += `: ${uv}`;
  if (address !== undefined) {
    msg += port !== undefined && port > 0 ? ` ${address}:${port}` : ` ${address}`;
  }
  const e = new Error(msg) as NetError;
  e.errno = errnoOf(code);
  e.code = code;
  e.syscall = syscall;
  if (address !== undefined) e.address = address;
  if (address !== undefined && port !== undefined && port > 0) e.port = port;
  return e;
}

/** `getaddrinfo ENOTFOUND host`, as dns.lookup failures surface from net.connect. */
export function lookupError(host: string): NetError {
  const e = new Error(`getaddrinfo ENOTFOUND ${host}`) as NetError;
  e.errno = -3008; // UV_EAI_NONAME as Node reports it
  e.code = 'ENOTFOUND';
  e.syscall = 'getaddrinfo';
  (e as NetError & { hostname: string }).hostname = host;
  return e;
}

/** Node's ERR_* errors (code only, no errno). */
export function nodeError(code: string, message: string): Error & { code: string } {
  const e = new Error(message) as Error & { code: string };
  e.code = code;
  return e;
}
