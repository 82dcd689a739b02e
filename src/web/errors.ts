/**
 * Errors shaped like Node's system errors, so handlers written for node:net
 * (`err.code === 'ECONNREFUSED'`, `err.syscall`, `err.address`, `err.port`)
 * work unchanged. As in Node, `errno` is the negated Linux number (libuv's
 * convention: ECONNREFUSED is -111).
 */
import { ERRNO, type ErrnoCode, errnoCode, STRERROR } from '../errno.js';

export interface NetError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
  address?: string;
  port?: number;
  hostname?: string;
}

function hostPort(address?: string, port?: number): string {
  if (address === undefined) return '';
  return port !== undefined && port > 0 ? ` ${address}:${port}` : ` ${address}`;
}

/**
 * A system error for `syscall`. `withText` adds the description as Node does
 * for listen/bind errors ("listen EADDRINUSE: address already in use
 * 0.0.0.0:80"); connect/read/write errors carry the code only ("connect
 * ECONNREFUSED 198.18.0.2:80"), as in Node.
 */
export function sysError(
  code: string,
  syscall: string,
  address?: string,
  port?: number,
  withText = false,
): NetError {
  const known = (ERRNO as Record<string, number>)[code] !== undefined;
  const text = known && withText ? `: ${lowerFirst(STRERROR[code as ErrnoCode])}` : '';
  const e = new Error(`${syscall} ${code}${text}${hostPort(address, port)}`) as NetError;
  e.code = code;
  if (known) e.errno = -ERRNO[code as ErrnoCode];
  e.syscall = syscall;
  if (address !== undefined) e.address = address;
  if (port !== undefined) e.port = port;
  return e;
}

/** The error for a SysError (or anything with a `code`) thrown by a usnet socket call. */
export function fromThrown(
  e: unknown,
  syscall: string,
  address?: string,
  port?: number,
  withText = false,
): NetError {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return sysError(code, syscall, address, port, withText);
  return e instanceof Error ? (e as NetError) : sysError('EIO', syscall, address, port);
}

/** The error for a Linux errno number (SO_ERROR). */
export function fromErrno(errno: number, syscall: string, address?: string, port?: number): NetError {
  return sysError(errnoCode(errno) ?? 'EIO', syscall, address, port);
}

/** Node's internal errors (`ERR_STREAM_WRITE_AFTER_END`, ...): code without errno. */
export function codedError(code: string, message: string): NetError {
  const e = new Error(message) as NetError;
  e.code = code;
  return e;
}

function lowerFirst(s: string): string {
  return s.length === 0 ? s : s[0].toLowerCase() + s.slice(1);
}
