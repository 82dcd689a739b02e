/**
 * The parsed form of a packetdrill script. The parser (parser.ts) produces a
 * `Script`; the runner (runner.ts) walks its events in order against a Target
 * (target.ts). Shapes follow packetdrill's own grammar (parser.y): an optional
 * list of `--option=value` lines, an optional init command, then events, each
 * with a time and one action (packet, system call, shell command, code block).
 *
 * Times are integer microseconds, as in packetdrill.
 */

/** Where something is in a script file (1-based line and column). */
export interface Loc {
  file: string;
  line: number;
  col: number;
}

/**
 * When an event happens.
 * - absolute `0.100`, relative `+0.1`
 * - any `*` (outbound packets only: whenever it comes)
 * - ranges `0.1~0.2` (absolute) and `+0~+0.05` (relative to the previous
 *   event), outbound packets only.
 */
export type EventTime =
  | { kind: 'absolute'; us: number }
  | { kind: 'relative'; us: number }
  | { kind: 'any' }
  | { kind: 'absolute-range'; us: number; endUs: number }
  | { kind: 'relative-range'; us: number; endUs: number };

/** A C-like expression in a system call's arguments or result. */
export type Expr =
  | { kind: 'ellipsis'; loc: Loc }
  | { kind: 'int'; value: number; hex: boolean; loc: Loc }
  /** A symbol such as AF_INET, SOCK_STREAM, O_NONBLOCK (resolved by the runner). */
  | { kind: 'word'; name: string; loc: Loc }
  /** A string literal; `more` when written `"abc"...` (prefix match). */
  | { kind: 'string'; value: string; more: boolean; loc: Loc }
  | { kind: 'list'; items: Expr[]; loc: Loc }
  /** `a | b` */
  | { kind: 'or'; lhs: Expr; rhs: Expr; loc: Loc }
  /**
   * A brace group `{ ... }`: sockaddr {sa_family=AF_INET, sin_port=htons(8080),
   * sin_addr=inet_addr("192.0.2.1")}, linger {l_onoff=1, l_linger=0} (also
   * written {onoff=1, linger=0}), pollfd {fd=4, events=POLLIN, revents=POLLIN},
   * iovec {..., 100}, msghdr ... Fields written `name=value` are named; bare
   * items are positional.
   */
  | { kind: 'struct'; fields: StructField[]; loc: Loc }
  /** A function-like value: htons(8080), inet_addr("1.2.3.4"), inet6_addr("::1"). */
  | { kind: 'call'; fn: string; args: Expr[]; loc: Loc };

export interface StructField {
  /** null for a positional item */
  name: string | null;
  value: Expr;
}

/** `= -1 EINPROGRESS (Operation now in progress)` */
export interface ErrnoSpec {
  code: string;
  /** the strerror text in parentheses, when written */
  note: string | null;
}

export interface SyscallAction {
  type: 'syscall';
  name: string;
  args: Expr[];
  /** Expected return value (usually an int; `...` accepts anything). */
  ret: Expr;
  errno: ErrnoSpec | null;
  /** A trailing `(note)` after a successful result. */
  note: string | null;
  /**
   * For a blocking call written `0.1...0.2 accept(...)`: when it must return,
   * in µs, in the same frame (absolute or relative) as the event's own time.
   */
  endUs: number | null;
}

/** TCP options as written between `<` and `>`. */
export type TcpOptionSpec =
  | { kind: 'nop' }
  | { kind: 'eol' }
  | { kind: 'mss'; value: number }
  | { kind: 'wscale'; value: number }
  | { kind: 'sackOK' }
  /** blocks as written (relative sequence numbers, mapped by the runner) */
  | { kind: 'sack'; blocks: Array<[number, number]> }
  | { kind: 'ts'; val: number; ecr: number }
  | { kind: 'md5'; hex: string }
  | { kind: 'fastopen'; cookie: string; exp: boolean }
  /** AccECN option `ECN e0b 1 ceb 0 e1b 1` (field order picks kind 172 or 174) */
  | { kind: 'accecn'; fields: Array<[string, number]> };

/** IP-level details in `[ect0]`, `(tos 0x10)`, `[flowlabel 0x12]`, `(ttl 3)`. */
export interface IpInfo {
  /** 'noecn' | 'ect0' | 'ect1' | 'ce' | 'ect01' */
  ecn: string | null;
  tos: number | null;
  flowLabel: number | null;
  ttl: number | null;
}

export interface TcpSpec {
  proto: 'tcp';
  /** Flag letters as written, `.` for ACK (`S`, `S.`, `P.`, `F.`, `R.`, `SEW`, `.`); '' for `-`. */
  flags: string;
  /** Sequence number as written (relative to the sender's ISN unless --absolute). */
  seq: number;
  endSeq: number;
  len: number;
  /** null when no `ack N` was written */
  ack: number | null;
  /** null when no `win N` was written (outbound: not checked) */
  win: number | null;
  urg: number | null;
  /** null for `<...>` (any options accepted); [] when none were written */
  options: TcpOptionSpec[] | null;
  /** whether an option list was written at all */
  optionsWritten: boolean;
}

export interface UdpSpec {
  proto: 'udp';
  len: number;
  srcPort: number | null;
  dstPort: number | null;
}

export interface IcmpSpec {
  proto: 'icmp';
  /** e.g. 'unreachable', 'echo_request', 'time_exceeded', 'packet_too_big' */
  icmpType: string;
  /** e.g. 'port_unreachable', 'frag_needed' */
  icmpCode: string | null;
  mtu: number | null;
  echoId: number | null;
  /** the quoted packet: a TCP range, a UDP length, or raw */
  echoed: { proto: 'tcp'; seq: number; len: number } | { proto: 'udp' | 'raw'; len: number } | null;
}

/** An explicit outer header `ipv4 1.2.3.4 > 5.6.7.8:` (encapsulation); kept, not used by usnet. */
export interface OuterHeader {
  family: 4 | 6;
  src: string;
  dst: string;
}

export interface PacketAction {
  type: 'packet';
  /** '<' inbound (injected into the local host), '>' outbound (expected from it) */
  direction: '<' | '>';
  ip: IpInfo | null;
  /** `< 40000>8080 S ...`: explicit ports, rarely used */
  srcPort: number | null;
  dstPort: number | null;
  outer: OuterHeader[];
  spec: TcpSpec | UdpSpec | IcmpSpec;
}

export interface CommandAction {
  type: 'command';
  /** the text between backquotes, defines not substituted */
  command: string;
}

/** A `%{ python }%` block. usnet runs no Python: the runner reports it skipped. */
export interface CodeAction {
  type: 'code';
  code: string;
}

export type Action = SyscallAction | PacketAction | CommandAction | CodeAction;

export interface Event {
  loc: Loc;
  time: EventTime;
  action: Action;
}

/** `--tolerance_usecs=10000` (value null for a bare `--flag`). */
export interface ScriptOption {
  name: string;
  value: string | null;
  loc: Loc;
}

/**
 * A comment header line the runner understands:
 *   // usnet-drill: kernel-only: <reason>
 *   // usnet-drill: usnet-only: <reason>
 * Agreed with the kernel-target work; a marker without a reason is a parse error.
 */
export interface Marker {
  kind: 'kernel-only' | 'usnet-only';
  reason: string;
  loc: Loc;
}

export interface Script {
  file: string;
  options: ScriptOption[];
  /** A backquoted command before the first event (packetdrill's init command). */
  initCommand: CommandAction | null;
  events: Event[];
  /** A backquoted command after the last event (packetdrill's cleanup command), run even on failure. */
  cleanupCommand: CommandAction | null;
  markers: Marker[];
}
