/**
 * Linux errno values and the error usnet throws for a failed socket call.
 * Shaped like Node's own system errors: `err.code === 'EADDRNOTAVAIL'`,
 * `err.errno` is the positive Linux number, `err.syscall` the call's name.
 */

export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EEXIST: 17,
  EINVAL: 22,
  EMFILE: 24,
  ENOSPC: 28,
  EPIPE: 32,
  ERANGE: 34,
  ENOSYS: 38,
  EPROTO: 71,
  ENOTSOCK: 88,
  EDESTADDRREQ: 89,
  EMSGSIZE: 90,
  EPROTOTYPE: 91,
  ENOPROTOOPT: 92,
  EPROTONOSUPPORT: 93,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETDOWN: 100,
  ENETUNREACH: 101,
  ENETRESET: 102,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOBUFS: 105,
  EISCONN: 106,
  ENOTCONN: 107,
  ESHUTDOWN: 108,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTDOWN: 112,
  EHOSTUNREACH: 113,
  EALREADY: 114,
  EINPROGRESS: 115,
} as const;

export type ErrnoCode = keyof typeof ERRNO;

/** strerror() texts, as glibc prints them (packetdrill scripts quote these). */
export const STRERROR: Record<ErrnoCode, string> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  EINTR: 'Interrupted system call',
  EIO: 'Input/output error',
  EBADF: 'Bad file descriptor',
  EAGAIN: 'Resource temporarily unavailable',
  ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied',
  EFAULT: 'Bad address',
  EEXIST: 'File exists',
  EINVAL: 'Invalid argument',
  EMFILE: 'Too many open files',
  ENOSPC: 'No space left on device',
  EPIPE: 'Broken pipe',
  ERANGE: 'Numerical result out of range',
  ENOSYS: 'Function not implemented',
  EPROTO: 'Protocol error',
  ENOTSOCK: 'Socket operation on non-socket',
  EDESTADDRREQ: 'Destination address required',
  EMSGSIZE: 'Message too long',
  EPROTOTYPE: 'Protocol wrong type for socket',
  ENOPROTOOPT: 'Protocol not available',
  EPROTONOSUPPORT: 'Protocol not supported',
  EOPNOTSUPP: 'Operation not supported',
  EAFNOSUPPORT: 'Address family not supported by protocol',
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ENETDOWN: 'Network is down',
  ENETUNREACH: 'Network is unreachable',
  ENETRESET: 'Network dropped connection on reset',
  ECONNABORTED: 'Software caused connection abort',
  ECONNRESET: 'Connection reset by peer',
  ENOBUFS: 'No buffer space available',
  EISCONN: 'Transport endpoint is already connected',
  ENOTCONN: 'Transport endpoint is not connected',
  ESHUTDOWN: 'Cannot send after transport endpoint shutdown',
  ETIMEDOUT: 'Connection timed out',
  ECONNREFUSED: 'Connection refused',
  EHOSTDOWN: 'Host is down',
  EHOSTUNREACH: 'No route to host',
  EALREADY: 'Operation already in progress',
  EINPROGRESS: 'Operation now in progress',
};

const BY_NUMBER = new Map<number, ErrnoCode>(
  (Object.keys(ERRNO) as ErrnoCode[]).map((code) => [ERRNO[code], code]),
);

/** The errno code for a Linux errno number, or undefined. */
export function errnoCode(errno: number): ErrnoCode | undefined {
  return BY_NUMBER.get(errno);
}

export class SysError extends Error {
  readonly code: ErrnoCode;
  readonly errno: number;
  readonly syscall: string;

  constructor(code: ErrnoCode, syscall: string, detail?: string) {
    // EAGAIN / EINPROGRESS / EALREADY are the routine answers of non-blocking
    // calls, not failures: a program meets them once per connect() or per
    // drained socket, and capturing a stack trace for each was ~9% of the CPU
    // of a connections-per-second run. They are built without one (V8's
    // Error.stackTraceLimit, read when an Error is constructed; other engines
    // ignore it). Every other code keeps its full stack for debugging.
    const routine = code === 'EAGAIN' || code === 'EINPROGRESS' || code === 'EALREADY';
    const E = Error as { stackTraceLimit?: number };
    const limit = E.stackTraceLimit;
    if (routine) E.stackTraceLimit = 0;
    super(`${syscall} ${code}: ${STRERROR[code]}${detail ? ` (${detail})` : ''}`);
    if (routine) E.stackTraceLimit = limit;
    this.name = 'SysError';
    this.code = code;
    this.errno = ERRNO[code];
    this.syscall = syscall;
  }
}

/** True when `e` is a SysError with the given code. */
export function isSysError(e: unknown, code?: ErrnoCode): e is SysError {
  return e instanceof SysError && (code === undefined || e.code === code);
}
