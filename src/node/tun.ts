/**
 * A Link over a Linux TUN device (IFF_TUN | IFF_NO_PI: each read() returns
 * one raw IP packet, each write() injects one), for running a usnet Stack on
 * real traffic and for the drill runner's kernel target.
 *
 * How the device is opened, and why that way: TUNSETIFF is an ioctl, which
 * Node cannot issue. Instead of a native addon (which needs a compiler and
 * Node's headers at install time, and breaks `npm install` where it cannot
 * build), Node opens /dev/net/tun itself (fs.openSync, O_NONBLOCK) and
 * starts a small python3 helper that inherits that descriptor and issues
 * TUNSETIFF on it. The attachment belongs to the shared open file
 * description, so Node's fd is attached too. The same helper then stays as
 * a readiness notifier (poll() on the fd, one byte per "packets waiting"),
 * so Node reads without blocking its event loop and without busy polling,
 * and the packets never pass through Python. Needs: Linux, /dev/net/tun,
 * CAP_NET_ADMIN, python3 (Debian's `python3`); nothing at install time.
 *
 * A TUN device belongs to the network namespace of the process that opened
 * /dev/net/tun (Node's). To put it in another namespace, `open({ netns })`
 * moves it there with `ip link set dev X netns NS` right after creation,
 * while it is still down and has no address, so it never carries traffic
 * outside that namespace.
 *
 * This module is loaded only by code that asks for a TUN (import it lazily);
 * on other systems open() throws a SysError (ENOSYS, EACCES, ...) with the
 * reason, and the rest of usnet is unaffected.
 */

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, constants as fsc, openSync, readSync, writeSync, writevSync } from 'node:fs';
import { ERRNO, type ErrnoCode, errnoCode, SysError } from '../errno.js';
import type { Link } from '../link/link.js';
import { TUN_HELPER_PY } from './tun-helper-py.js';

export interface TunOptions {
  /** Interface name or template (`%d` is filled in by the kernel). Default 'usnt%d'. */
  name?: string;
  /** Move the device into this (existing) network namespace. */
  netns?: string;
  /** Rename it there (e.g. 'tun0', as packetdrill scripts expect). */
  nameInNetns?: string;
  /** MTU set on the device and reported by `link.mtu`. Default 1500. */
  mtu?: number;
  /** Addresses configured on the kernel side of the device ('198.18.0.1/24'). */
  addrs?: string[];
  /** Bring the device up (default true). */
  up?: boolean;
  /** Limit on each setup step, ms. Default 10000. */
  timeoutMs?: number;
  /** python3 executable. Default 'python3'. */
  python?: string;
  /** nice value for the helper (root may go below 0 so it wakes promptly on a loaded machine). Default 0. */
  helperNice?: number;
  /**
   * Open the device as packetdrill does, with TSO/checksum offload
   * (IFF_VNET_HDR + TUNSETOFFLOAD): the kernel then hands over TCP
   * super-segments larger than the MTU with partial checksums. For capture
   * tools only (the drill kernel target's TSO mode), not for a usnet Stack.
   * The 10-byte virtio_net_hdr is stripped on read and added on write.
   */
  offload?: boolean;
}

export interface TunStats {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  /** frames not written: larger than the MTU, or the kernel refused them */
  txDropped: number;
  rxErrors: number;
}

/** Largest IP packet a read can return; the kernel never hands us more. */
const READ_MAX = 65536;
/** Packets are read into slabs and handed over as subarrays (no copy, no per-packet ArrayBuffer). */
const SLAB_SIZE = 1 << 20;
/** Packets read per event-loop turn before yielding, so a flood cannot starve timers. */
const BATCH_MAX = 256;
/** sizeof(struct virtio_net_hdr): what IFF_VNET_HDR puts in front of each packet. */
const VNET_HDR_LEN = 10;
const NO_VNET_HDR = new Uint8Array(VNET_HDR_LEN);

function fail(code: ErrnoCode, syscall: string, detail: string): never {
  throw new SysError(code, syscall, detail);
}

function codeOf(e: unknown): ErrnoCode {
  const c = (e as { code?: string }).code;
  return c !== undefined && c in ERRNO ? (c as ErrnoCode) : 'EIO';
}

function ip(args: string[], timeoutMs: number): void {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: timeoutMs });
  if (r.error) fail('ENOSYS', 'ip', `cannot run ip(8): ${r.error.message}`);
  if (r.status !== 0)
    fail('EIO', 'ip', `ip ${args.join(' ')}: ${(r.stderr || '').trim() || `exit ${r.status}`}`);
}

export class TunLink implements Link {
  readonly mtu: number;
  /** Interface name (inside its namespace). */
  readonly name: string;
  readonly netns: string | null;
  onReceive: ((frame: Uint8Array) => void) | null = null;
  /**
   * Called before the first frame of a batch is handed to onReceive: a driver
   * brings the stack's clock up to now here, so frames are processed at the
   * time they arrived (the stack stamps them with its own `now`).
   */
  beforeDeliver: (() => void) | null = null;
  /** Called after a batch of received frames was handed to onReceive (a driver advances the stack here). */
  onDrained: (() => void) | null = null;
  readonly stats: TunStats = {
    rxPackets: 0,
    rxBytes: 0,
    txPackets: 0,
    txBytes: 0,
    txDropped: 0,
    rxErrors: 0,
  };

  private fd: number;
  private helper: ChildProcess;
  private slab = new Uint8Array(SLAB_SIZE);
  private slabOff = 0;
  private closed = false;
  private exited: Promise<void>;
  /** bytes of virtio_net_hdr in front of each packet (offload mode), else 0 */
  private readonly vnetHdr: number;
  private notice: Buffer = Buffer.alloc(0);
  /** performance.now() minus CLOCK_MONOTONIC in ms (process.hrtime reads CLOCK_MONOTONIC) */
  private readonly monoOffsetMs = performance.now() - Number(process.hrtime.bigint()) / 1e6;
  /**
   * When (performance.now() scale, ms) the helper saw the frames now being
   * delivered waiting in the device: on a busy machine Node may get to them
   * later, and a real-time user (the drill runner) wants the earlier time.
   */
  readyAtMs = 0;

  private constructor(
    fd: number,
    helper: ChildProcess,
    name: string,
    mtu: number,
    netns: string | null,
    offload: boolean,
  ) {
    this.fd = fd;
    this.vnetHdr = offload ? VNET_HDR_LEN : 0;
    this.helper = helper;
    this.name = name;
    this.mtu = mtu;
    this.netns = netns;
    this.exited = new Promise((resolve) => {
      if (helper.exitCode !== null || helper.signalCode !== null) resolve();
      else helper.once('exit', () => resolve());
    });
    helper.stdout!.on('data', (chunk: Buffer) => {
      // Each 9-byte notice is 'r' + when the helper saw packets waiting; one drain serves all.
      this.notice = this.notice.length ? Buffer.concat([this.notice, chunk]) : chunk;
      const n = this.notice.length - (this.notice.length % 9);
      if (n === 0) return;
      const mono = this.notice.readBigUInt64LE(n - 8);
      this.notice = this.notice.subarray(n);
      this.readyAtMs = Number(mono) / 1e6 + this.monoOffsetMs;
      this.drain();
    });
    helper.once('exit', () => {
      if (!this.closed) this.stats.rxErrors++;
    });
    // A helper that died makes writes to its stdin fail; that is reported by the exit above.
    helper.stdin!.on('error', () => {});
    helper.on('error', () => {});
  }

  /** Creates the device, configures it, and starts reading. */
  static async open(opts: TunOptions = {}): Promise<TunLink> {
    if (process.platform !== 'linux')
      fail('ENOSYS', 'tun_open', `TUN devices need Linux (this is ${process.platform})`);
    const mtu = opts.mtu ?? 1500;
    const timeoutMs = opts.timeoutMs ?? 10000;
    const requested = opts.name ?? 'usnt%d';
    if (requested.length > 15)
      fail('EINVAL', 'tun_open', `interface name longer than 15 bytes: ${requested}`);
    let fd: number;
    try {
      // libuv adds O_CLOEXEC, so other children (ip, sh) never inherit the device.
      fd = openSync('/dev/net/tun', fsc.O_RDWR | fsc.O_NONBLOCK);
    } catch (e) {
      fail(codeOf(e), 'open', `/dev/net/tun: ${(e as Error).message}`);
    }
    let helper: ChildProcess | null = null;
    try {
      helper = spawn(
        opts.python ?? 'python3',
        ['-c', TUN_HELPER_PY, requested, String(opts.helperNice ?? 0), opts.offload ? '1' : '0'],
        {
          stdio: ['pipe', 'pipe', 'inherit', fd],
        },
      );
      const name = await readHello(helper, timeoutMs);
      let here = name;
      if (opts.netns) {
        ip(['link', 'set', 'dev', name, 'netns', opts.netns], timeoutMs);
        if (opts.nameInNetns && opts.nameInNetns !== name) {
          ip(['-n', opts.netns, 'link', 'set', 'dev', name, 'name', opts.nameInNetns], timeoutMs);
          here = opts.nameInNetns;
        }
      }
      const nsArgs = opts.netns ? ['-n', opts.netns] : [];
      ip([...nsArgs, 'link', 'set', 'dev', here, 'mtu', String(mtu)], timeoutMs);
      for (const a of opts.addrs ?? []) {
        const v6 = a.includes(':');
        ip([...nsArgs, v6 ? '-6' : '-4', 'addr', 'add', a, 'dev', here, ...(v6 ? ['nodad'] : [])], timeoutMs);
      }
      if (opts.up ?? true) ip([...nsArgs, 'link', 'set', 'dev', here, 'up'], timeoutMs);
      const link = new TunLink(fd, helper, here, mtu, opts.netns ?? null, opts.offload ?? false);
      link.arm();
      return link;
    } catch (e) {
      // Undo everything: closing both references deletes the device.
      try {
        closeSync(fd);
      } catch {}
      if (helper && helper.exitCode === null && helper.signalCode === null) {
        const h = helper;
        const gone = new Promise<void>((resolve) => h.once('exit', () => resolve()));
        h.kill('SIGKILL');
        await gone;
      }
      throw e;
    }
  }

  /** Sends one IP packet to the kernel. Frames larger than the MTU are dropped and counted, as a NIC would. */
  transmit(frame: Uint8Array): void {
    if (this.closed || frame.length > this.mtu || frame.length === 0) {
      this.stats.txDropped++;
      return;
    }
    try {
      // Offload mode: an all-zero header says "no GSO, checksum complete".
      if (this.vnetHdr > 0) writevSync(this.fd, [NO_VNET_HDR, frame]);
      else writeSync(this.fd, frame, 0, frame.length);
      this.stats.txPackets++;
      this.stats.txBytes += frame.length;
    } catch {
      // EIO when the device is down, EINVAL for a malformed packet: a lost frame, not an exception.
      this.stats.txDropped++;
    }
  }

  /**
   * Sends one IP packet even when it is larger than the MTU: the kernel takes
   * such a packet from a TUN device (its receive path does not hold packets
   * to the MTU), which is how packetdrill's big inbound segments arrive. For
   * test harnesses (the drill kernel target); a Stack's output uses
   * transmit(). Returns false when the write failed.
   */
  transmitOversize(frame: Uint8Array): boolean {
    if (this.closed || frame.length === 0 || frame.length > 65535) return false;
    try {
      if (this.vnetHdr > 0) writevSync(this.fd, [NO_VNET_HDR, frame]);
      else writeSync(this.fd, frame, 0, frame.length);
      this.stats.txPackets++;
      this.stats.txBytes += frame.length;
      return true;
    } catch {
      this.stats.txDropped++;
      return false;
    }
  }

  /** Reads what is queued (bounded per turn), hands it over, and re-arms the notifier. */
  private drain(): void {
    if (this.closed) return;
    let n = 0;
    let more = true;
    while (n < BATCH_MAX) {
      if (SLAB_SIZE - this.slabOff < READ_MAX) {
        this.slab = new Uint8Array(SLAB_SIZE);
        this.slabOff = 0;
      }
      let len: number;
      try {
        len = readSync(this.fd, this.slab, this.slabOff, READ_MAX, null);
      } catch (e) {
        if (codeOf(e) !== 'EAGAIN') this.stats.rxErrors++;
        more = false;
        break;
      }
      if (len <= 0) {
        more = false;
        break;
      }
      if (len <= this.vnetHdr) continue;
      const frame = this.slab.subarray(this.slabOff + this.vnetHdr, this.slabOff + len);
      // Keep the next packet 8-byte aligned so consumers may use typed views.
      this.slabOff += (len + 7) & ~7;
      this.stats.rxPackets++;
      this.stats.rxBytes += frame.length;
      if (n++ === 0) this.beforeDeliver?.();
      this.onReceive?.(frame);
    }
    if (n > 0) this.onDrained?.();
    if (this.closed) return;
    if (more) setImmediate(() => this.drain());
    else this.arm();
  }

  private arm(): void {
    if (!this.closed) this.helper.stdin!.write('a');
  }

  /** Closes the device (it disappears from its namespace) and waits for the helper to exit. */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.closed) return this.exited;
    this.closed = true;
    try {
      closeSync(this.fd);
    } catch {}
    this.helper.stdin!.end();
    const t = setTimeout(() => this.helper.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(t);
  }
}

/** Reads the helper's first line: the interface name, or the TUNSETIFF errno. */
function readHello(helper: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (err: Error | null, name?: string) => {
      clearTimeout(timer);
      helper.stdout!.off('data', onData);
      helper.off('exit', onExit);
      helper.off('error', onError);
      if (err) reject(err);
      else resolve(name!);
    };
    const onData = (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let msg: { name?: string; errno?: number; message?: string };
      try {
        msg = JSON.parse(buf.slice(0, nl));
      } catch {
        done(new SysError('EIO', 'TUNSETIFF', `unexpected helper output: ${buf.slice(0, nl)}`));
        return;
      }
      if (msg.name) done(null, msg.name);
      else
        done(
          new SysError(errnoCode(msg.errno ?? 0) ?? 'EIO', 'TUNSETIFF', msg.message ?? 'TUNSETIFF failed'),
        );
    };
    const onExit = (code: number | null) =>
      done(
        new SysError('EIO', 'TUNSETIFF', `python3 helper exited (${code}) before attaching the TUN device`),
      );
    const onError = (e: Error) =>
      done(
        new SysError('ENOSYS', 'TUNSETIFF', `cannot start python3 to attach the TUN device: ${e.message}`),
      );
    const timer = setTimeout(
      () => done(new SysError('EIO', 'TUNSETIFF', `python3 helper gave no answer in ${timeoutMs} ms`)),
      timeoutMs,
    );
    helper.stdout!.on('data', onData);
    helper.once('exit', onExit);
    helper.once('error', onError);
  });
}
