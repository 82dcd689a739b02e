/**
 * What a drill runner drives: the "local host" of a packetdrill script.
 *
 * The runner (runner.ts) owns everything target-independent: parsing, the
 * script clock and timing tolerance, building inbound packets (addresses,
 * ports, ISN mapping, checksums), decoding and comparing outbound packets,
 * evaluating system-call arguments, comparing results, pcap. A target only
 * runs system calls, accepts raw IP packets, hands back the IP packets the
 * host sent (with the time it sent them), runs shell commands and keeps time.
 *
 * Two implementations:
 * - usnet (src/drill/usnet-target.ts): a usnet Stack in virtual time;
 * - kernel (src/drill/kernel/): the Linux kernel in a fresh network namespace
 *   behind a TUN device, in real time.
 *
 * Units: time is integer microseconds since the target started (script time
 * 0 is the moment `start()` resolved). Packets are complete IP packets
 * (IPv4 or IPv6 header first, no link header), as a TUN device carries them.
 */

/** An evaluated system-call argument (defines and symbols already resolved). */
export type Value =
  /** an integer; `sym` keeps the symbol it was written as (SOL_SOCKET, O_NONBLOCK|O_RDWR) */
  | { t: 'int'; v: number; sym?: string }
  | { t: 'str'; v: string }
  /** `...`: the target chooses (a buffer of the right size, a sockaddr to fill in, ...) */
  | { t: 'ellipsis' }
  | { t: 'list'; items: Value[] }
  /** struct sockaddr_in / sockaddr_in6; addr in text form ("192.0.2.1", "fd3d::2", "::ffff:192.0.2.1") */
  | { t: 'sockaddr'; family: 4 | 6; port: number; addr: string }
  /** struct linger */
  | { t: 'linger'; onoff: number; linger: number }
  /** struct pollfd */
  | { t: 'pollfd'; fd: number; events: number; revents: number }
  /** any other brace group, by field name (positional items under "0", "1", ...) */
  | { t: 'struct'; fields: Record<string, Value> };

/** One system call, as the runner hands it to a target. */
export interface SyscallCall {
  /** e.g. 'socket', 'bind', 'setsockopt', 'fcntl', 'write' */
  name: string;
  /**
   * Arguments with `...` already replaced where packetdrill fills in a value:
   * bind/connect/sendto addresses become sockaddrs (local_ip:8080 for bind,
   * remote_ip:8080 for connect); lengths of sockaddrs stay as written.
   */
  args: Value[];
  /** Script file:line, for the target's own diagnostics. */
  where: string;
}

export interface SyscallResult {
  /** the return value (-1 on error, like libc) */
  ret: number;
  /** errno name when ret is -1 ('EINPROGRESS', 'EAGAIN', ...) */
  errno: string | null;
  /**
   * What the call wrote through pointer arguments, by argument index:
   * getsockopt(fd, l, o, [v], [len]) → {3: {t:'list', items:[{t:'int', v}]}, 4: ...};
   * accept/getsockname/getpeername → the sockaddr; poll → the pollfd list
   * with revents; read/recv → {t:'str'} of the bytes read (latin1).
   * The runner compares these against what the script wrote.
   */
  out?: Record<number, Value>;
}

/** An IP packet the local host sent, and when (µs since start). */
export interface OutboundPacket {
  bytes: Uint8Array;
  timeUs: number;
}

export interface ShellResult {
  /** exit status (128 + n when killed by signal n) */
  status: number;
  stdout: string;
  stderr: string;
}

/** Addresses and link settings, from the command line (packetdrill's names). */
export interface TargetConfig {
  ipVersion: 'ipv4' | 'ipv6' | 'ipv4-mapped-ipv6';
  /** the local host's address, as the script's sockets see it */
  localIp: string;
  /** the simulated remote host */
  remoteIp: string;
  gatewayIp: string;
  /** netmask as an address (255.255.0.0) or prefix length in text */
  netmaskIp: string;
  mtu: number;
  /** -D NAME=value definitions (exported to shell commands as environment variables) */
  defines: Record<string, string>;
  verbose: boolean;
  /** where a shell command starts (the script's own directory) */
  cwd: string;
}

/**
 * The executor interface. Calls are made by one runner, one at a time,
 * except that a blocking system call may still be pending while the runner
 * advances time and injects packets.
 */
export interface Target {
  readonly name: string;
  /** true when time is simulated (runs as fast as the CPU allows) */
  readonly virtualTime: boolean;

  /** Set up the host (stack or namespace + TUN). Script time 0 starts when this resolves. */
  start(config: TargetConfig): Promise<void>;

  /** µs since start. */
  nowUs(): number;

  /**
   * Let time pass until `tUs` (no-op if already there). Virtual time runs the
   * host's timers; real time sleeps. Outbound packets produced meanwhile are
   * queued with their send time. Resolves early, at the moment of sending,
   * when `stopOnOutbound` is set and a packet is sent.
   */
  advanceTo(tUs: number, stopOnOutbound?: boolean): Promise<void>;

  /** Remove and return the oldest queued outbound packet, or null. */
  takeOutbound(): OutboundPacket | null;

  /** Deliver one IP packet to the local host now, as if from the remote host. */
  inject(bytes: Uint8Array): Promise<void>;

  /**
   * Run a system call. Resolves when it returns. A blocking call (accept on a
   * blocking listener with an empty queue, blocking connect, read with no
   * data...) stays pending while the runner goes on advancing time and
   * injecting packets; the runner decides the call blocked when it has not
   * resolved by the time `settle()` resolves.
   *
   * File descriptors are numbered like the kernel's: the lowest free number,
   * starting at 3 (0-2 are stdio), so scripts' `socket(...) = 3` hold.
   */
  syscall(call: SyscallCall): Promise<SyscallResult>;

  /**
   * Resolves once any call that could complete without outside input has
   * done so (virtual time: after pending microtasks; real time: a short
   * grace period like packetdrill's blocking-call detection).
   */
  settle(): Promise<void>;

  /**
   * Optional: let time pass until every pending system call has returned or
   * `untilUs`, whichever comes first, in one wait. Real-time targets provide
   * it so the runner need not poll a blocked call in small steps.
   */
  waitPending?(untilUs: number): Promise<void>;

  /**
   * Run a backquoted shell command with /bin/sh in the host's context
   * (usnet: `sysctl`, `ss` and `nstat` act on the stack; kernel: inside the
   * namespace). Defines are in the environment.
   */
  shell(command: string): Promise<ShellResult>;

  /** Tear down (close sockets, delete namespace/devices). Safe to call twice. */
  close(): Promise<void>;
}
