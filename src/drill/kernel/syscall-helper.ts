/**
 * Node's side of the python3 system-call helper (syscall-helper-py.ts): a
 * child process inside the test namespace that performs socket calls on real
 * kernel sockets, one JSON line per request and per answer.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { SysError } from '../../errno.js';
import { SYSCALL_HELPER_PY } from './syscall-helper-py.js';

export interface SockAddrJson {
  family: number;
  host: string;
  port: number;
}

export type OptValue = { int: number } | { linger: [number, number] } | { hex: string } | { str: string };

export type SyscallRequest =
  | { op: 'socket'; domain: number; type: number; proto?: number }
  | { op: 'close'; fd: number }
  | { op: 'bind' | 'connect'; fd: number; addr: SockAddrJson }
  | { op: 'listen'; fd: number; backlog: number }
  | { op: 'accept'; fd: number }
  | { op: 'shutdown'; fd: number; how: number }
  /** `null`: the script passed NULL as the buffer (the helper makes the call through ctypes) */
  | { op: 'read' | 'recv' | 'recvfrom'; fd: number; len: number; flags?: number; null?: boolean }
  | {
      op: 'write' | 'send' | 'sendto';
      fd: number;
      len?: number;
      hex?: string;
      flags?: number;
      addr?: SockAddrJson;
      null?: boolean;
    }
  /** the iovecs' total as one read; control messages come back */
  | { op: 'recvmsg'; fd: number; len: number; flags: number }
  /** iovec lengths (zero bytes, as packetdrill sends), no control data */
  | { op: 'sendmsg'; fd: number; iov: number[]; flags: number; addr?: SockAddrJson }
  | { op: 'setsockopt'; fd: number; level: number; name: number; value: OptValue }
  | { op: 'getsockopt'; fd: number; level: number; name: number; len?: number }
  | { op: 'fcntl'; fd: number; cmd: number; arg?: number }
  | { op: 'ioctl'; fd: number; req: number }
  | { op: 'getsockname' | 'getpeername'; fd: number }
  | { op: 'poll'; fds: Array<{ fd: number; events: number }>; timeout: number };

export interface SyscallResult {
  ret: number;
  /** errno name when ret is -1 ('EINPROGRESS') */
  errno?: string;
  message?: string;
  hex?: string;
  int?: number;
  addr?: SockAddrJson | null;
  revents?: number[];
  /** recvmsg: msg_flags and the control messages ([level, type, data in hex]) */
  mflags?: number;
  cmsgs?: Array<[number, number, string]>;
  /** when the call started / returned, in ms on the caller's performance.now() scale */
  startMs: number;
  endMs: number;
}

interface Pending {
  resolve: (r: SyscallResult) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  /** the helper thread running the call, once it said so */
  tid: number;
  onThreaded?: (() => void) | undefined;
}

/** futex(2)'s number: a Python thread waiting for the GIL sleeps in it, which is not "blocked in the call". */
const FUTEX_NR = process.arch === 'arm64' ? 98 : process.arch === 'x64' ? 202 : -1;

/** performance.now() in ms minus process.hrtime in ms: converts the helper's CLOCK_MONOTONIC stamps. */
function monoToPerfOffsetMs(): number {
  const a = performance.now();
  const h = Number(process.hrtime.bigint()) / 1e6;
  const b = performance.now();
  return (a + b) / 2 - h;
}

export class SyscallHelper {
  private child: ChildProcess;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private buf = '';
  private exited = false;
  private exitPromise: Promise<void>;
  private readonly offsetMs = monoToPerfOffsetMs();
  private stderr = '';
  private waiters: Array<() => void> = [];
  /** when (performance.now() ms) the most recent call returned in the helper */
  lastReturnMs = 0;
  readonly pid: number;

  private constructor(child: ChildProcess) {
    this.child = child;
    this.pid = child.pid ?? -1;
    this.exitPromise = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, sig) => {
      this.exited = true;
      const err = new SysError(
        'EIO',
        'drill_helper',
        `syscall helper exited (${code ?? sig}) ${this.stderr.trim()}`,
      );
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(err);
      }
      this.pending.clear();
    });
    child.stdin!.on('error', () => {});
    child.stderr!.on('data', (d: Buffer) => {
      if (this.stderr.length < 8192) this.stderr += d.toString('utf8');
    });
    child.stdout!.on('data', (d: Buffer) => this.onData(d));
  }

  /** Starts the helper inside `netns` (or here when null) and waits for it to be ready. */
  static async start(netns: string | null, timeoutMs = 10000): Promise<SyscallHelper> {
    const argv = ['python3', '-u', '-c', SYSCALL_HELPER_PY];
    const child = netns
      ? spawn('ip', ['netns', 'exec', netns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    child.on('error', () => {});
    const h = new SyscallHelper(child);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        h.pending.delete(0);
        reject(new SysError('EIO', 'drill_helper', `python3 helper not ready in ${timeoutMs} ms`));
      }, timeoutMs);
      h.pending.set(0, { resolve: () => resolve(), reject, timer, tid: 0 });
    }).catch(async (e) => {
      await h.close();
      throw e;
    });
    return h;
  }

  private onData(d: Buffer): void {
    this.buf += d.toString('utf8');
    for (;;) {
      const nl = this.buf.indexOf('\n');
      if (nl < 0) break;
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line);
      } catch {
        continue;
      }
      const id = msg.id as number;
      const p = this.pending.get(id);
      if (this.waiters.length > 0) for (const w of this.waiters.splice(0)) w();
      if (!p) continue;
      if (msg.started) {
        p.tid = msg.tid as number;
        p.onThreaded?.();
        continue;
      }
      this.pending.delete(id);
      clearTimeout(p.timer);
      if (typeof msg.t1 === 'number') this.lastReturnMs = msg.t1 / 1e6 + this.offsetMs;
      const t0 = typeof msg.t0 === 'number' ? msg.t0 / 1e6 + this.offsetMs : performance.now();
      const t1 = typeof msg.t1 === 'number' ? msg.t1 / 1e6 + this.offsetMs : performance.now();
      p.resolve({ ...(msg as object), ret: msg.ret as number, startMs: t0, endMs: t1 } as SyscallResult);
    }
  }

  /**
   * Issues one call. The promise settles when the call returns in the helper
   * (a blocking call may take long: the caller need not await it before the
   * next one) or rejects after `timeoutMs`. `onThreaded` runs when the
   * helper put the call on a thread of its own (it may block).
   */
  call(req: SyscallRequest, timeoutMs = 10000, onThreaded?: () => void): Promise<SyscallResult> {
    if (this.exited) return Promise.reject(new SysError('EIO', 'drill_helper', 'syscall helper has exited'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SysError('ETIMEDOUT', req.op, `no answer from the kernel in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, tid: 0, onThreaded });
      this.child.stdin!.write(`${JSON.stringify({ ...req, id })}\n`);
    });
  }

  /** Resolves at the helper's next message (a call started or returned), or after `ms`. */
  nextMessage(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  /** True when some pending call has not been put on a thread of its own (it runs inline, or has not started). */
  get anyInline(): boolean {
    for (const p of this.pending.values()) if (p.tid === 0) return true;
    return false;
  }

  /** Number of calls issued and not yet returned. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * True when every pending call is asleep inside the kernel (a blocking
   * accept/read/connect/poll), as packetdrill decides a call blocked: the
   * thread's state is S and it sits in a system call other than futex.
   * A call not yet started, running, or waiting for Python's GIL is not.
   */
  allPendingBlocked(): boolean {
    for (const p of this.pending.values()) {
      if (p.tid === 0) return false;
      try {
        const stat = readFileSync(`/proc/${this.pid}/task/${p.tid}/stat`, 'utf8');
        const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
        if (state !== 'S') return false;
        const nr = Number.parseInt(readFileSync(`/proc/${this.pid}/task/${p.tid}/syscall`, 'utf8'), 10);
        if (!(nr >= 0) || nr === FUTEX_NR) return false;
      } catch {
        // The thread has just finished; its answer is on the way.
        return false;
      }
    }
    return true;
  }

  /** Ends the helper (its sockets close with it) and waits for it, killing it after `timeoutMs`. */
  async close(timeoutMs = 3000): Promise<void> {
    if (!this.exited) {
      this.child.stdin!.write(`${JSON.stringify({ op: 'exit' })}\n`);
      this.child.stdin!.end();
      const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
      await this.exitPromise;
      clearTimeout(t);
    }
  }
}
