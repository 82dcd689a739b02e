/**
 * `usnet drill --target kernel`: the script's local host is the Linux kernel
 * in a fresh network namespace, reached through a TUN device, as packetdrill
 * itself runs (netdev.c: a tun device with the local address, the remote
 * address routed through it). Real time, so packetdrill's tolerances apply.
 *
 * - namespace `usnet-drill-<pid>-<n>`, `lo` up, deleted in close() and on
 *   process exit (netns.ts);
 * - TUN `tun0` inside it (the name packetdrill scripts use), MTU from the
 *   config, the local address on it, every other destination routed to it
 *   (a default route: the namespace has no other way out, so nothing leaves
 *   it); qdisc pfifo, as the kernel selftests' defaults.sh sets, so no fq
 *   pacing shifts segment times;
 * - no IFF_VNET_HDR/TUNSETOFFLOAD: the device has no TSO/GSO offload, so the
 *   kernel segments to the MSS before the TUN and scripts see MSS-sized
 *   segments, as usnet sends them (packetdrill itself enables TSO and would
 *   see super-segments: scripts that expect those differ here);
 * - sysctls set in the namespace: tcp_congestion_control=reno (the host
 *   allows only reno and bbr, and usnet's default is reno), IPv6 off on
 *   IPv4 runs (no router solicitations or MLD on the wire), no RA/RS/DAD on
 *   IPv6 runs; everything else keeps the kernel's per-namespace defaults,
 *   which are the defaults usnet reproduces;
 * - system calls run on real sockets through a python3 helper in the
 *   namespace (syscall-helper.ts); shell commands run there too (`ss`,
 *   `nstat`, `sysctl` see the namespace).
 */

import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SysError } from '../../errno.js';
import { Netns } from '../../node/netns.js';
import type { TunLink } from '../../node/tun.js';
import type {
  OutboundPacket,
  ShellResult,
  SyscallCall,
  SyscallResult,
  Target,
  TargetConfig,
  Value,
} from '../target.js';
import { ScriptClock } from './script-clock.js';
import { Sniffer } from './sniffer.js';
import { type OptValue, type SockAddrJson, SyscallHelper, type SyscallRequest } from './syscall-helper.js';
import { decodeTcpInfo, TCP_INFO_LEN } from './tcp-info.js';

const AF_INET = 2;
const AF_INET6 = 10;
const SOL_SOCKET = 1;
const SO_LINGER = 13;
const SOL_TCP = 6;
const TCP_INFO = 11;
const TCP_CONGESTION = 13;
const SOL_IP = 0;
const IP_LOCAL_PORT_RANGE = 51;

/** A call that blocks (accept, read, connect...) may stay pending this long; close() ends it sooner. */
const BLOCKING_CALL_LIMIT_MS = 300_000;
/**
 * settle() waits this long at most for a call on a thread of its own to
 * return or fall asleep in the kernel, and SETTLE_INLINE_LIMIT_MS for an
 * inline one (which cannot block; only a loaded machine makes it slow).
 */
const SETTLE_LIMIT_MS = 200;
const SETTLE_INLINE_LIMIT_MS = 5000;
/**
 * When a wait for an outbound packet reaches its limit, how long (real ms) to
 * wait for one the kernel already sent but the sniffer has not reported:
 * costs time only when a packet is missing.
 */
const LATE_REPORT_GRACE_MS = 100;
/** advanceTo() sleeps with timers until this close to the target, then yields turn by turn. */
const SPIN_WINDOW_MS = 1.5;

export interface KernelTargetOptions {
  /** extra sysctls set inside the namespace before the script starts */
  sysctls?: Record<string, string | number>;
  /** limit for setup steps (ms) */
  setupTimeoutMs?: number;
  /** limit for each backquoted command (ms) */
  shellTimeoutMs?: number;
  /**
   * TSO as packetdrill sets up its TUN (IFF_VNET_HDR + TUNSETOFFLOAD): the
   * kernel sends TCP super-segments (`P. 1:3001(3000)` for a 3000-byte write),
   * as scripts from packetdrill's and the kernel's suites expect. Off by
   * default: usnet sends MSS-sized segments. USNET_DRILL_TSO=1 turns it on
   * for `usnet drill --target kernel`.
   */
  tso?: boolean;
}

function prefixLen(netmask: string, v6: boolean): number {
  if (v6) return 48;
  if (/^\d+$/.test(netmask)) return Number(netmask);
  const parts = netmask.split('.').map(Number);
  let n = 0;
  for (const p of parts) for (let b = 7; b >= 0; b--) if ((p >> b) & 1) n++;
  return n;
}

function isNoise(pkt: Uint8Array): boolean {
  const ver = pkt[0]! >> 4;
  if (ver === 4) return pkt[9] === 2; // IGMP
  if (ver === 6 && pkt.length >= 41 && pkt[6] === 58) {
    // Neighbour discovery and MLD (ICMPv6 130-143) are the link's business, not the script's.
    const t = pkt[40]!;
    return t >= 130 && t <= 143;
  }
  // Hop-by-hop header first: MLD reports carry a router-alert option.
  return ver === 6 && pkt[6] === 0;
}

function intOf(v: Value | undefined, what: string): number {
  if (v && v.t === 'int') return v.v;
  if (v && v.t === 'list' && v.items.length === 1 && v.items[0]!.t === 'int') return v.items[0]!.v;
  throw new SysError('EINVAL', 'drill', `${what}: expected an integer`);
}

export class KernelTarget implements Target {
  readonly name = 'kernel';
  readonly virtualTime = false;

  private ns: Netns | null = null;
  private tun: TunLink | null = null;
  private helper: SyscallHelper | null = null;
  private sniffer: Sniffer | null = null;
  private config: TargetConfig | null = null;
  private outQ: OutboundPacket[] = [];
  private outHead = 0;
  private wake: (() => void) | null = null;
  /** script fd -> kernel fd (scripts number fds from 3 up, lowest free first, as the kernel does) */
  private fds = new Map<number, number>();
  private closed = false;
  private readonly opts: KernelTargetOptions;
  /** script time (see nowUs()) */
  private readonly clock = new ScriptClock(() => performance.now());
  /** the latest time stamped on an outbound packet, ms */
  private lastStampMs = 0;

  constructor(opts: KernelTargetOptions = {}) {
    this.opts = opts;
  }

  async start(config: TargetConfig): Promise<void> {
    this.config = config;
    const v6wire = config.ipVersion === 'ipv6';
    const timeoutMs = this.opts.setupTimeoutMs ?? 10000;
    const sysctls: Record<string, string | number> = { 'net.ipv4.tcp_congestion_control': 'reno' };
    if (v6wire) {
      sysctls['net.ipv6.conf.default.accept_ra'] = 0;
      sysctls['net.ipv6.conf.default.router_solicitations'] = 0;
      sysctls['net.ipv6.conf.default.dad_transmits'] = 0;
    } else {
      sysctls['net.ipv6.conf.default.disable_ipv6'] = 1;
    }
    Object.assign(sysctls, this.opts.sysctls ?? {});
    try {
      this.ns = Netns.create('drill', sysctls);
      const prefix = prefixLen(config.netmaskIp, v6wire);
      this.tun = await this.ns.openTun({
        nameInNetns: 'tun0',
        // Woken promptly on a busy machine (packetdrill itself runs SCHED_RR for its timing).
        helperNice: -10,
        offload: this.opts.tso ?? false,
        mtu: config.mtu,
        addrs: [`${config.localIp.replace(/^::ffff:/i, '')}/${prefix}`],
        timeoutMs,
      });
      this.ns.ipSync([v6wire ? '-6' : '-4', 'route', 'add', 'default', 'dev', 'tun0']);
      this.ns.execSync(['tc', 'qdisc', 'replace', 'dev', 'tun0', 'root', 'pfifo'], { timeoutMs });
      // What the kernel sends is taken from a packet socket on tun0, with the
      // kernel's transmit time (sniffer.ts), as packetdrill does; the TUN is
      // still read so its queue never fills, but its copies are dropped.
      this.tun.onReceive = () => {};
      this.sniffer = await Sniffer.start(this.ns.name, 'tun0', timeoutMs);
      this.sniffer.onPacket = (frame, sentAtMs) => {
        if (isNoise(frame)) return;
        const t = Math.max(this.lastStampMs, this.clock.at(sentAtMs));
        this.lastStampMs = t;
        this.outQ.push({ bytes: frame, timeUs: Math.round(t * 1000) });
        this.wake?.();
      };
      this.helper = await SyscallHelper.start(this.ns.name, timeoutMs);
      // Warm both ends up (JIT, Python's first calls), so the script's first
      // calls take their usual ~0.1 ms and not milliseconds.
      for (let i = 0; i < 30; i++) {
        const s = await this.helper.call({ op: 'socket', domain: AF_INET, type: 1 }, timeoutMs);
        await this.helper.call({
          op: 'setsockopt',
          fd: s.ret,
          level: SOL_SOCKET,
          name: 2,
          value: { int: 1 },
        });
        await this.helper.call({ op: 'close', fd: s.ret }, timeoutMs);
      }
    } catch (e) {
      await this.close();
      throw e;
    }
    this.clock.reset();
    this.lastStampMs = 0;
  }

  /**
   * Script time, in µs. It runs only while the runner lets time pass
   * (advanceTo) and stands still while the runner, the python3 helper or a
   * shell command does its work. packetdrill gets the same effect another
   * way: its own work between lines takes microseconds, and it anchors a
   * relative time (`+0`) to the moment the line is reached, so a slow
   * command does not make every later line late. Here a system call is a
   * ~0.1 ms round trip, a cold first pass over the runner's code up to ~1 ms
   * a line, a command like `ss` 10-30 ms; with a clock that counted them, a
   * run of `+0` lines (socket, bind, listen, `< S`, `> S.`) would miss the
   * 4 ms tolerance. The kernel's own timers run in real time throughout, so
   * a timer that spans such work fires that much early in script time, as
   * it does under packetdrill's anchoring. Likewise a wait that wakes late
   * (timer granularity, a loaded machine) ends at the time asked for, and
   * an outbound packet carries the time the TUN helper saw it, not the time
   * Node got round to reading it (ScriptClock maps one to the other).
   */
  nowUs(): number {
    return Math.round(this.clock.nowMs() * 1000);
  }

  async advanceTo(tUs: number, stopOnOutbound = false): Promise<void> {
    const entryMs = this.clock.nowMs();
    this.clock.run();
    let byOutbound = false;
    try {
      byOutbound = await this.waitUntil(tUs, stopOnOutbound);
      if (!byOutbound && stopOnOutbound && !this.closed) {
        // A packet the kernel sent before tUs may not have reached us yet (the
        // sniffer or Node ran late): give it a moment. It carries the kernel's
        // send time, so one sent after tUs still shows as late.
        byOutbound = await this.waitQueued(performance.now() + LATE_REPORT_GRACE_MS);
      }
    } finally {
      // Waking late (a loaded machine, timer granularity) is not script time:
      // stop at the time asked for, or at the packet that ended the wait.
      const target = byOutbound ? this.lastStampMs : tUs / 1000;
      this.clock.stop(Math.max(entryMs, target, this.lastStampMs));
    }
  }

  /**
   * Lets time pass until every pending (blocked) system call has returned, or
   * until script time `untilUs`, in one stretch of real time: a call that
   * waits on the kernel's timers (connect giving up after its SYN retries)
   * returns at the kernel's pace, and the clock stops at the moment the last
   * one returned in the helper. (The runner uses this, when a target has it,
   * instead of alternating short advanceTo() and settle() calls, whose gaps
   * would slow the script clock against the kernel's.)
   */
  async waitPending(untilUs: number): Promise<void> {
    const h = this.helper;
    if (!h) return;
    const entryMs = this.clock.nowMs();
    this.clock.run();
    try {
      while (h.pendingCount > 0 && !this.closed) {
        const left = untilUs / 1000 - this.clock.nowMs();
        if (left <= 0) break;
        await h.nextMessage(Math.min(left, 1000));
      }
    } finally {
      const end = h.pendingCount === 0 ? this.clock.at(h.lastReturnMs) : untilUs / 1000;
      this.clock.stop(Math.max(entryMs, end, this.lastStampMs));
    }
  }

  /** Waits in real time until `untilReal` (performance.now() ms) or an outbound packet; true for the packet. */
  private async waitQueued(untilReal: number): Promise<boolean> {
    while (!this.queued() && !this.closed) {
      const left = untilReal - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        const self = this;
        function done() {
          clearTimeout(timer);
          self.wake = null;
          resolve();
        }
        this.wake = done;
      });
    }
    return this.queued();
  }

  /** Waits until script time `tUs`; true when it stopped early for an outbound packet. */
  private async waitUntil(tUs: number, stopOnOutbound: boolean): Promise<boolean> {
    for (;;) {
      if (this.closed) return false;
      if (stopOnOutbound && this.queued()) return true;
      const remainingMs = (tUs - this.nowUs()) / 1000;
      if (remainingMs <= 0) return false;
      await new Promise<void>((resolve) => {
        let timer: NodeJS.Timeout | null = null;
        const done = () => {
          if (timer) clearTimeout(timer);
          this.wake = null;
          resolve();
        };
        this.wake = stopOnOutbound ? done : null;
        // Timers are good to ~1 ms; the last stretch is covered turn by turn so
        // injections land on time (packetdrill's default tolerance is 4 ms).
        if (remainingMs > SPIN_WINDOW_MS) timer = setTimeout(done, remainingMs - SPIN_WINDOW_MS);
        else setImmediate(done);
      });
    }
  }

  private queued(): boolean {
    return this.outHead < this.outQ.length;
  }

  takeOutbound(): OutboundPacket | null {
    if (!this.queued()) return null;
    const p = this.outQ[this.outHead]!;
    this.outQ[this.outHead++] = undefined as unknown as OutboundPacket;
    if (this.outHead > 1024 && this.outHead * 2 > this.outQ.length) {
      this.outQ = this.outQ.slice(this.outHead);
      this.outHead = 0;
    }
    return p;
  }

  async inject(bytes: Uint8Array): Promise<void> {
    if (!this.tun) throw new SysError('EBADF', 'inject', 'kernel target not started');
    if (bytes.length <= this.tun.mtu) this.tun.transmit(bytes);
    // Inbound segments above the MTU (common in upstream scripts, written for
    // packetdrill's TUN) go in whole: the kernel takes them from a TUN device.
    else if (!this.tun.transmitOversize(bytes))
      throw new SysError(
        'EMSGSIZE',
        'inject',
        `${bytes.length} bytes (MTU ${this.tun.mtu}) not taken by the TUN device`,
      );
  }

  async settle(): Promise<void> {
    const h = this.helper;
    if (!h) return;
    const t0 = performance.now();
    while (h.pendingCount > 0 && !h.allPendingBlocked()) {
      const waited = performance.now() - t0;
      if (h.anyInline) {
        // An inline call answers within ~0.1 ms: wait for that message.
        if (waited >= SETTLE_INLINE_LIMIT_MS) return;
        await h.nextMessage(SETTLE_INLINE_LIMIT_MS - waited);
      } else {
        // A threaded one may fall asleep without saying so: look again next turn.
        if (waited >= SETTLE_LIMIT_MS) return;
        await new Promise<void>((r) => setImmediate(r));
      }
    }
  }

  async shell(command: string): Promise<ShellResult> {
    if (!this.ns || !this.config) throw new SysError('EBADF', 'shell', 'kernel target not started');
    const r = await this.ns.shell(command, {
      timeoutMs: this.opts.shellTimeoutMs ?? 30000,
      // Commands here are timed against the kernel's timers: the cheaper way in.
      netOnly: true,
      // nstat keeps its history per user in /tmp: give each namespace its own.
      // PACKETDRILL_PID as packetdrill exports it (the shell's $PPID; see usnet-target.ts).
      env: {
        ...process.env,
        NSTAT_HISTORY: this.nstatHistory(),
        PACKETDRILL_PID: String(process.pid),
        ...this.config.defines,
      },
      cwd: this.config.cwd,
    });
    const status = r.code ?? 128 + (r.signal === 'SIGKILL' ? 9 : 15);
    return { status, stdout: r.stdout, stderr: r.timedOut ? `${r.stderr}(timed out)\n` : r.stderr };
  }

  private nstatHistory(): string {
    return join(tmpdir(), `${this.ns?.name ?? 'usnet-drill'}.nstat`);
  }

  // ---- system calls ----

  private kfd(v: Value | undefined, what: string): number {
    const fd = intOf(v, what);
    const k = this.fds.get(fd);
    // An fd the script never opened goes to the kernel as a number it cannot have: EBADF, like a C program.
    return k ?? 1_000_000 + fd;
  }

  private newFd(kernelFd: number): number {
    let fd = 3;
    while (this.fds.has(fd)) fd++;
    this.fds.set(fd, kernelFd);
    return fd;
  }

  private scriptFdOf(kernelFd: number): number {
    for (const [s, k] of this.fds) if (k === kernelFd) return s;
    return kernelFd;
  }

  private sockaddr(v: Value | undefined): SockAddrJson {
    if (v && v.t === 'sockaddr')
      return { family: v.family === 6 ? AF_INET6 : AF_INET, host: v.addr, port: v.port };
    throw new SysError('EINVAL', 'drill', 'expected a sockaddr');
  }

  private toSockaddrValue(a: SockAddrJson | null | undefined): Value {
    if (!a) return { t: 'ellipsis' };
    return { t: 'sockaddr', family: a.family === AF_INET6 ? 6 : 4, port: a.port, addr: a.host };
  }

  private optValue(v: Value | undefined): OptValue {
    if (!v) throw new SysError('EINVAL', 'setsockopt', 'missing value');
    switch (v.t) {
      case 'int':
        return { int: v.v };
      case 'list':
        return { int: intOf(v, 'setsockopt value') };
      case 'linger':
        return { linger: [v.onoff, v.linger] };
      case 'str':
        return { str: v.v };
      case 'struct': {
        const on = v.fields.l_onoff ?? v.fields.onoff;
        const ln = v.fields.l_linger ?? v.fields.linger;
        if (on && ln) return { linger: [intOf(on, 'l_onoff'), intOf(ln, 'l_linger')] };
        break;
      }
    }
    throw new SysError('EINVAL', 'setsockopt', `unsupported option value ${v.t}`);
  }

  private buildRequest(c: SyscallCall): SyscallRequest {
    const a = c.args;
    const cfg = this.config!;
    switch (c.name) {
      case 'socket': {
        const domain = a[0]?.t === 'int' ? a[0].v : cfg.ipVersion === 'ipv4' ? AF_INET : AF_INET6; // `...`: packetdrill's socket_domain
        return { op: 'socket', domain, type: intOf(a[1], 'type'), proto: a[2]?.t === 'int' ? a[2].v : 0 };
      }
      case 'close':
        return { op: 'close', fd: this.kfd(a[0], 'fd') };
      case 'bind':
      case 'connect':
        return { op: c.name, fd: this.kfd(a[0], 'fd'), addr: this.sockaddr(a[1]) };
      case 'listen':
        return { op: 'listen', fd: this.kfd(a[0], 'fd'), backlog: intOf(a[1], 'backlog') };
      case 'accept':
      case 'accept4':
        return { op: 'accept', fd: this.kfd(a[0], 'fd') };
      case 'shutdown':
        return { op: 'shutdown', fd: this.kfd(a[0], 'fd'), how: intOf(a[1], 'how') };
      case 'read':
        return { op: 'read', fd: this.kfd(a[0], 'fd'), len: intOf(a[2], 'count'), ...nullBuf(a[1]) };
      case 'recv':
        return {
          op: 'recv',
          fd: this.kfd(a[0], 'fd'),
          len: intOf(a[2], 'len'),
          flags: intOf(a[3], 'flags'),
          ...nullBuf(a[1]),
        };
      case 'recvfrom':
        return {
          op: 'recvfrom',
          fd: this.kfd(a[0], 'fd'),
          len: intOf(a[2], 'len'),
          flags: intOf(a[3], 'flags'),
          ...nullBuf(a[1]),
        };
      case 'write':
        return { op: 'write', fd: this.kfd(a[0], 'fd'), ...this.payload(a[1], a[2]) };
      case 'sendmsg':
        return this.sendmsg(c);
      case 'recvmsg': {
        const m = a[1];
        if (m?.t !== 'struct') throw new SysError('EINVAL', 'recvmsg', `${c.where}: expected a msghdr`);
        return {
          op: 'recvmsg',
          fd: this.kfd(a[0], 'fd'),
          len: this.iovLen(m.fields.msg_iov),
          flags: a[2] ? intOf(a[2], 'flags') : 0,
        };
      }
      // writev/readv: the bytes of all iovecs in one call (a stream socket
      // does not see the boundaries), contents as packetdrill's: zeros.
      case 'writev':
        return { op: 'write', fd: this.kfd(a[0], 'fd'), len: this.iovLen(a[1]) };
      case 'readv':
        return { op: 'read', fd: this.kfd(a[0], 'fd'), len: this.iovLen(a[1]) };
      case 'send':
        return {
          op: 'send',
          fd: this.kfd(a[0], 'fd'),
          ...this.payload(a[1], a[2]),
          flags: intOf(a[3], 'flags'),
        };
      case 'sendto':
        return {
          op: 'sendto',
          fd: this.kfd(a[0], 'fd'),
          ...this.payload(a[1], a[2]),
          flags: intOf(a[3], 'flags'),
          ...(a[4]?.t === 'sockaddr' ? { addr: this.sockaddr(a[4]) } : {}),
        };
      case 'setsockopt':
        return {
          op: 'setsockopt',
          fd: this.kfd(a[0], 'fd'),
          level: intOf(a[1], 'level'),
          name: intOf(a[2], 'optname'),
          value: this.optValue(a[3]),
        };
      case 'getsockopt': {
        const level = intOf(a[1], 'level');
        const name = intOf(a[2], 'optname');
        let len = a[4] && a[4].t !== 'ellipsis' ? intOf(a[4], 'optlen') : 4;
        // TCP_INFO: as much as the script's optlen asks for (`...`: all of it)
        if (level === SOL_TCP && name === TCP_INFO)
          len = a[4]?.t === 'ellipsis' || !a[4] ? TCP_INFO_LEN : len;
        if (level === SOL_SOCKET && name === SO_LINGER) len = 8;
        if (level === SOL_TCP && name === TCP_CONGESTION) len = Math.max(len, 16);
        return { op: 'getsockopt', fd: this.kfd(a[0], 'fd'), level, name, len };
      }
      case 'fcntl':
        return {
          op: 'fcntl',
          fd: this.kfd(a[0], 'fd'),
          cmd: intOf(a[1], 'cmd'),
          ...(a[2] ? { arg: intOf(a[2], 'arg') } : {}),
        };
      case 'ioctl':
        return { op: 'ioctl', fd: this.kfd(a[0], 'fd'), req: intOf(a[1], 'request') };
      case 'getsockname':
      case 'getpeername':
        return { op: c.name, fd: this.kfd(a[0], 'fd') };
      case 'poll': {
        const list = a[0]?.t === 'list' ? a[0].items : [];
        const fds = list.map((p) => {
          if (p.t === 'pollfd') return { fd: this.kfd({ t: 'int', v: p.fd }, 'fd'), events: p.events };
          if (p.t === 'struct')
            return { fd: this.kfd(p.fields.fd, 'fd'), events: intOf(p.fields.events, 'events') };
          throw new SysError('EINVAL', 'poll', 'expected pollfd structs');
        });
        return { op: 'poll', fds, timeout: intOf(a[2], 'timeout') };
      }
    }
    throw new SysError('ENOSYS', c.name, `${c.where}: the kernel target does not run ${c.name}()`);
  }

  /** Total length of an iovec list `[{..., 1000}, {iov_base=..., iov_len=500}]`. */
  private iovLen(v: Value | undefined): number {
    if (v?.t !== 'list') throw new SysError('EINVAL', 'writev', 'expected a list of iovecs');
    let n = 0;
    for (const it of v.items) {
      if (it.t !== 'struct') throw new SysError('EINVAL', 'writev', 'expected iovec structs');
      n += intOf(it.fields.iov_len ?? it.fields['1'], 'iov_len');
    }
    return n;
  }

  /**
   * sendmsg(fd, {msg_name(...)=..., msg_iov(n)=[{..., len}, ...], msg_flags=0}, flags):
   * the iovecs' lengths; control data (msg_control) is not supported.
   */
  private sendmsg(c: SyscallCall): SyscallRequest {
    const a = c.args;
    const m = a[1];
    if (m?.t !== 'struct') throw new SysError('EINVAL', 'sendmsg', `${c.where}: expected a msghdr`);
    const ctl = m.fields.msg_control;
    if (ctl !== undefined && ctl.t !== 'ellipsis' && !(ctl.t === 'int' && ctl.v === 0))
      throw new SysError('ENOSYS', 'sendmsg', `${c.where}: the kernel target sends no control data`);
    const iovs = m.fields.msg_iov;
    const iov = iovs?.t === 'list' ? iovs.items.map((it) => this.iovLen({ t: 'list', items: [it] })) : [];
    const name = m.fields.msg_name;
    return {
      op: 'sendmsg',
      fd: this.kfd(a[0], 'fd'),
      iov,
      flags: a[2] ? intOf(a[2], 'flags') : 0,
      ...(name?.t === 'sockaddr' ? { addr: this.sockaddr(name) } : {}),
    };
  }

  private payload(
    buf: Value | undefined,
    len: Value | undefined,
  ): { len?: number; hex?: string; null?: boolean } {
    if (buf?.t === 'int' && buf.v === 0) return { len: intOf(len, 'len'), null: true };
    if (buf?.t === 'str') {
      const b = Buffer.from(buf.v, 'latin1');
      const n = len && len.t !== 'ellipsis' ? intOf(len, 'len') : b.length;
      return { hex: b.subarray(0, n).toString('hex') + '00'.repeat(Math.max(0, n - b.length)) };
    }
    return { len: intOf(len, 'len') };
  }

  async syscall(c: SyscallCall): Promise<SyscallResult> {
    if (!this.helper) throw new SysError('EBADF', c.name, 'kernel target not started');
    const req = this.buildRequest(c);
    const r = await this.helper.call(req, BLOCKING_CALL_LIMIT_MS);
    const res: SyscallResult = { ret: r.ret, errno: r.ret === -1 ? (r.errno ?? 'EIO') : null };
    if (r.ret === -1) return res;
    const out: Record<number, Value> = {};
    switch (req.op) {
      case 'socket':
        res.ret = this.newFd(r.ret);
        break;
      case 'accept':
        res.ret = this.newFd(r.ret);
        out[1] = this.toSockaddrValue(r.addr);
        out[2] = { t: 'list', items: [{ t: 'int', v: r.addr?.family === AF_INET6 ? 28 : 16 }] };
        break;
      case 'close':
        for (const [s, k] of this.fds) if (k === req.fd) this.fds.delete(s);
        break;
      case 'getsockname':
      case 'getpeername':
        out[1] = this.toSockaddrValue(r.addr);
        out[2] = { t: 'list', items: [{ t: 'int', v: r.addr?.family === AF_INET6 ? 28 : 16 }] };
        break;
      case 'read':
      case 'recv':
      case 'recvfrom':
        // readv's second argument is the iovec list, not the bytes: nothing to compare there.
        if (c.name === 'readv') break;
        out[1] = { t: 'str', v: Buffer.from(r.hex ?? '', 'hex').toString('latin1') };
        if (req.op === 'recvfrom' && r.addr) out[4] = this.toSockaddrValue(r.addr);
        break;
      case 'recvmsg': {
        // the script's msghdr with what came back: msg_flags and the control
        // messages ({cmsg_level, cmsg_type, cmsg_data}; a 4-byte payload as an int)
        const m = c.args[1];
        const fields: Record<string, Value> = m?.t === 'struct' ? { ...m.fields } : {};
        fields.msg_flags = { t: 'int', v: r.mflags ?? 0 };
        fields.msg_control = {
          t: 'list',
          items: (r.cmsgs ?? []).map(([level, type, hex]) => {
            const d = Buffer.from(hex, 'hex');
            return {
              t: 'struct',
              fields: {
                cmsg_level: { t: 'int', v: level },
                cmsg_type: { t: 'int', v: type },
                cmsg_data:
                  d.length === 4 ? { t: 'int', v: d.readInt32LE(0) } : { t: 'str', v: d.toString('latin1') },
              },
            } as Value;
          }),
        };
        out[1] = { t: 'struct', fields };
        break;
      }
      case 'getsockopt': {
        const b = Buffer.from(r.hex ?? '', 'hex');
        if (req.level === SOL_TCP && req.name === TCP_INFO) {
          const fields: Record<string, Value> = {};
          for (const [k, v] of Object.entries(decodeTcpInfo(b))) fields[k] = { t: 'int', v };
          out[3] = { t: 'struct', fields };
        } else if (req.level === SOL_SOCKET && req.name === SO_LINGER && b.length >= 8) {
          out[3] = { t: 'linger', onoff: b.readInt32LE(0), linger: b.readInt32LE(4) };
        } else if (req.level === SOL_TCP && req.name === TCP_CONGESTION) {
          out[3] = { t: 'str', v: b.toString('latin1').replace(/\0.*$/s, '') };
        } else if (req.level === SOL_IP && req.name === IP_LOCAL_PORT_RANGE && b.length >= 4) {
          // a u32 (high port << 16 | low port): [0xdeaddead] reads back as written
          out[3] = { t: 'list', items: [{ t: 'int', v: b.readUInt32LE(0) }] };
        } else if (b.length >= 4) {
          out[3] = { t: 'list', items: [{ t: 'int', v: b.readInt32LE(0) }] };
        } else if (b.length > 0) {
          out[3] = { t: 'list', items: [{ t: 'int', v: b[0]! }] };
        }
        out[4] = { t: 'list', items: [{ t: 'int', v: b.length }] };
        break;
      }
      case 'ioctl':
        out[2] = { t: 'list', items: [{ t: 'int', v: r.int ?? 0 }] };
        break;
      case 'poll': {
        const items: Value[] = req.fds.map((p, i) => ({
          t: 'pollfd',
          fd: this.scriptFdOf(p.fd),
          events: p.events,
          revents: r.revents?.[i] ?? 0,
        }));
        out[0] = { t: 'list', items };
        break;
      }
    }
    if (Object.keys(out).length > 0) res.out = out;
    return res;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    // Each step runs even if one before it failed; the namespace goes last, always.
    const steps: Array<() => Promise<void> | void> = [
      () => this.helper?.close(),
      () => this.sniffer?.close(),
      () => this.tun?.close(),
      () => rmSync(this.nstatHistory(), { force: true }),
    ];
    let first: unknown = null;
    for (const step of steps) {
      try {
        await step();
      } catch (e) {
        first ??= e;
      }
    }
    this.ns?.delete();
    this.helper = null;
    this.sniffer = null;
    this.tun = null;
    if (first) throw first;
  }
}

/** `{null: true}` when the script passed NULL (0) as the buffer. */
function nullBuf(v: Value | undefined): { null?: boolean } {
  return v?.t === 'int' && v.v === 0 ? { null: true } : {};
}

export function createKernelTarget(opts: KernelTargetOptions = {}): Target {
  return new KernelTarget({ tso: process.env.USNET_DRILL_TSO === '1', ...opts });
}
