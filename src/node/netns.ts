/**
 * Named network namespaces for kernel tests and the drill runner's kernel
 * target: `ip netns add usnet-<purpose>-<pid>-<n>`, commands run inside with
 * `ip netns exec`, and guaranteed deletion: callers delete in `finally`, and
 * whatever is still alive when the process exits (normally, by an uncaught
 * error, or by SIGINT/SIGTERM/SIGHUP) is deleted by name from an exit hook.
 *
 * Every wait is bounded (timeoutMs). Namespaces start with only `lo` (up),
 * so nothing sent inside can leave them except through devices we add.
 */

import { spawn, spawnSync } from 'node:child_process';
import { SysError } from '../errno.js';
import type { TunLink, TunOptions } from './tun.js';

const live = new Set<string>();
let seq = 0;
let hooksInstalled = false;

export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface ExecOptions {
  timeoutMs?: number;
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Enter only the network namespace (`nsenter --net`), skipping what
   * `ip netns exec` adds (a mount namespace with /sys remounted for the
   * namespace, /etc/netns files): several ms less per command on a busy
   * machine. /sys/class/net then shows the host's devices; sysctl (/proc/sys/net),
   * ss, nstat and ip see the namespace either way. Falls back to
   * `ip netns exec` where nsenter is missing.
   */
  netOnly?: boolean;
}

let nsenterOk: boolean | null = null;
function haveNsenter(): boolean {
  if (nsenterOk === null) {
    const r = spawnSync('nsenter', ['--version'], { stdio: 'ignore', timeout: 5000 });
    nsenterOk = !r.error && r.status === 0;
  }
  return nsenterOk;
}

function deleteNow(name: string): void {
  spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore', timeout: 10000 });
  live.delete(name);
}

function cleanupAll(): void {
  for (const name of [...live]) deleteNow(name);
}

/** True when process `pid` exists (signal 0 probes without sending). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

/**
 * Deletes namespaces this module made in a process that is gone without
 * cleaning up (killed with SIGKILL, power loss): names `usnet-<purpose>-<pid>-<n>`
 * whose pid no longer runs. Others' namespaces never match.
 */
export function reapStaleNetns(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 10000 });
  const reaped: string[] = [];
  for (const line of (r.stdout ?? '').split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = /^usnet-[a-z0-9-]+-(\d+)-\d+$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore', timeout: 10000 });
    reaped.push(name);
  }
  return reaped;
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  reapStaleNetns();
  process.on('exit', cleanupAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      cleanupAll();
      // Die of the same signal, as if we had not caught it.
      process.off(sig, onSignal);
      process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

/** True when this process may create namespaces and TUN devices (root with /dev/net/tun and ip(8)). */
export function kernelTestsAvailable(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: `not Linux (${process.platform})` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    return { ok: false, reason: 'not root' };
  const r = spawnSync('ip', ['-V'], { stdio: 'ignore', timeout: 5000 });
  if (r.error || r.status !== 0) return { ok: false, reason: 'ip(8) not available' };
  const t = spawnSync('test', ['-c', '/dev/net/tun'], { stdio: 'ignore', timeout: 5000 });
  if (t.status !== 0) return { ok: false, reason: 'no /dev/net/tun' };
  const p = spawnSync('python3', ['-c', 'import fcntl, select, socket'], { stdio: 'ignore', timeout: 10000 });
  if (p.error || p.status !== 0) return { ok: false, reason: 'python3 not available' };
  return { ok: true };
}

export class Netns {
  readonly name: string;
  private deleted = false;

  private constructor(name: string) {
    this.name = name;
  }

  /**
   * Creates `usnet-<purpose>-<pid>-<n>` with `lo` up. `sysctls` are written
   * inside it right away (many net.ipv4.tcp_* sysctls are per namespace).
   */
  static create(purpose: string, sysctls: Record<string, string | number> = {}): Netns {
    if (!/^[a-z0-9-]{1,32}$/.test(purpose))
      throw new SysError('EINVAL', 'netns_add', `bad purpose: ${purpose}`);
    installHooks();
    const name = `usnet-${purpose}-${process.pid}-${seq++}`;
    const r = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8', timeout: 10000 });
    if (r.error || r.status !== 0) {
      throw new SysError(
        r.error ? 'ENOSYS' : 'EPERM',
        'netns_add',
        `ip netns add ${name}: ${r.error?.message ?? r.stderr.trim()}`,
      );
    }
    live.add(name);
    const ns = new Netns(name);
    try {
      ns.ipSync(['link', 'set', 'lo', 'up']);
      for (const [k, v] of Object.entries(sysctls)) ns.sysctlSync(k, v);
    } catch (e) {
      ns.delete();
      throw e;
    }
    return ns;
  }

  /** Runs `ip -n <ns> args...`; throws on failure. */
  ipSync(args: string[], timeoutMs = 10000): string {
    const r = spawnSync('ip', ['-n', this.name, ...args], { encoding: 'utf8', timeout: timeoutMs });
    if (r.error || r.status !== 0)
      throw new SysError(
        'EIO',
        'ip',
        `ip -n ${this.name} ${args.join(' ')}: ${r.error?.message ?? r.stderr.trim()}`,
      );
    return r.stdout;
  }

  /** Runs a command inside the namespace synchronously (short commands only). */
  execSync(argv: string[], opts: ExecOptions = {}): ExecResult {
    const r = spawnSync('ip', ['netns', 'exec', this.name, ...argv], {
      encoding: 'utf8',
      timeout: opts.timeoutMs ?? 10000,
      input: opts.input,
      env: opts.env,
      cwd: opts.cwd,
    });
    return {
      code: r.status,
      signal: r.signal,
      stdout: r.stdout ?? '',
      stderr: r.stderr ?? '',
      timedOut: (r.error as { code?: string } | undefined)?.code === 'ETIMEDOUT',
    };
  }

  /** Runs a command inside the namespace; resolves when it exits or is killed at the timeout. */
  exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return new Promise((resolve) => {
      const [cmd, args] =
        opts.netOnly && haveNsenter()
          ? ['nsenter', [`--net=/run/netns/${this.name}`, '--', ...argv]]
          : ['ip', ['netns', 'exec', this.name, ...argv]];
      const child = spawn(cmd, args as string[], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: opts.env,
        cwd: opts.cwd,
      });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      child.stdin.on('error', () => {});
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, opts.timeoutMs ?? 10000);
      child.on('error', (e) => {
        clearTimeout(timer);
        resolve({ code: null, signal: null, stdout, stderr: stderr + e.message, timedOut });
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr, timedOut });
      });
      child.stdin.end(opts.input ?? '');
    });
  }

  /** A shell command line inside the namespace (`sh -c`). */
  shell(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return this.exec(['sh', '-c', command], opts);
  }

  /** Writes one sysctl inside the namespace; throws when the kernel refuses it. */
  sysctlSync(name: string, value: string | number): void {
    const r = this.execSync(['sysctl', '-q', '-w', `${name}=${value}`]);
    if (r.code !== 0)
      throw new SysError('EINVAL', 'sysctl', `${name}=${value} in ${this.name}: ${r.stderr.trim()}`);
  }

  /** Reads one sysctl inside the namespace. */
  sysctlGet(name: string): string {
    const r = this.execSync(['sysctl', '-n', name]);
    if (r.code !== 0) throw new SysError('ENOENT', 'sysctl', `${name} in ${this.name}: ${r.stderr.trim()}`);
    return r.stdout.trim();
  }

  /**
   * Creates a TUN device inside this namespace (see tun.ts); tun.ts is loaded
   * only here, so importing netns.ts costs nothing where TUN is unavailable.
   */
  async openTun(opts: Omit<TunOptions, 'netns'> = {}): Promise<TunLink> {
    const { TunLink } = await import('./tun.js');
    return TunLink.open({ ...opts, netns: this.name });
  }

  /** Deletes the namespace (idempotent). Devices inside it go with it. */
  delete(): void {
    if (this.deleted) return;
    this.deleted = true;
    deleteNow(this.name);
  }
}

/** The namespaces this process created and has not deleted yet (for tests). */
export function liveNetns(): string[] {
  return [...live];
}

/** True when a namespace of that name exists on the machine. */
export function netnsExists(name: string): boolean {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 10000 });
  return (r.stdout ?? '').split('\n').some((l) => l.split(' ')[0] === name);
}
