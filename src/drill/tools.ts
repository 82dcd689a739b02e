/**
 * `ss`, `nstat` and `sysctl` for a usnet stack, printing what the iproute2
 * 6.x and procps tools print for the kernel (checked against the tools on
 * the reference machine), so scripts that grep and awk their output run
 * unchanged against usnet.
 */
import type { Sysctl } from '../sysctl.js';

export interface ToolResult {
  status: number;
  stdout: string;
  stderr: string;
}

// ---------------------------------------------------------------- ss

/** ss's state names (ESTAB, SYN-SENT, ..., TIME-WAIT, LISTEN). */
export type SsState =
  | 'ESTAB'
  | 'SYN-SENT'
  | 'SYN-RECV'
  | 'FIN-WAIT-1'
  | 'FIN-WAIT-2'
  | 'TIME-WAIT'
  | 'UNCONN'
  | 'CLOSE-WAIT'
  | 'LAST-ACK'
  | 'LISTEN'
  | 'CLOSING';

export interface SsRow {
  state: SsState;
  recvQ: number;
  sendQ: number;
  family: 4 | 6;
  /** text address; null for the wildcard */
  laddr: string | null;
  lport: number;
  raddr: string | null;
  rport: number;
  /** `-o` timer text without the `timer:` prefix, e.g. `(timewait,59sec,0)` */
  timer?: string;
  /**
   * An AF_INET6 socket that takes IPv6 only (IPV6_V6ONLY, or bound to a
   * specific IPv6 address, which Linux makes v6-only). ss prints the
   * unspecified address of a dual-stack socket as `*` (`*:8080`, `*:*`),
   * of a v6-only one as `[::]`.
   */
  v6only?: boolean;
}

/** Every state ss shows, in its order. */
const ALL_STATES: SsState[] = [
  'ESTAB',
  'SYN-SENT',
  'SYN-RECV',
  'FIN-WAIT-1',
  'FIN-WAIT-2',
  'TIME-WAIT',
  'UNCONN',
  'CLOSE-WAIT',
  'LAST-ACK',
  'LISTEN',
  'CLOSING',
];
const except = (...out: SsState[]): SsState[] => ALL_STATES.filter((s) => !out.includes(s));

/** ss's state filter words to the states they select (ss(8) STATE-FILTER). */
const STATE_GROUPS: Record<string, SsState[]> = {
  all: ALL_STATES,
  established: ['ESTAB'],
  'syn-sent': ['SYN-SENT'],
  'syn-recv': ['SYN-RECV'],
  'fin-wait-1': ['FIN-WAIT-1'],
  'fin-wait-2': ['FIN-WAIT-2'],
  'time-wait': ['TIME-WAIT'],
  closed: ['UNCONN'],
  'close-wait': ['CLOSE-WAIT'],
  'last-ack': ['LAST-ACK'],
  listening: ['LISTEN'],
  listen: ['LISTEN'],
  closing: ['CLOSING'],
  // all but listen and closed
  connected: except('LISTEN', 'UNCONN'),
  // connected but syn-sent
  synchronized: except('LISTEN', 'UNCONN', 'SYN-SENT'),
  // minisockets: request socks and timewait buckets
  bucket: ['SYN-RECV', 'TIME-WAIT'],
  // the opposite of bucket
  big: except('SYN-RECV', 'TIME-WAIT'),
};

function hostPort(addr: string | null, port: number, family: 4 | 6, v6only: boolean): [string, string] {
  let a: string;
  if (family === 4) a = addr ?? '0.0.0.0';
  else if (addr === null || addr === '::') a = v6only ? '[::]' : '*';
  else a = `[${addr}]`;
  return [`${a}:`, port === 0 ? '*' : String(port)];
}

type Filter = (r: SsRow) => boolean;

/**
 * `ss [-t] [-a] [-n] [-H] [-o] [-4|-6] [state S]... [exclude S]... [expr]`
 * where expr is built from `sport`/`dport` `=`/`!=`/`eq`/`neq`/`>`/`<` `:N`,
 * `src`/`dst` ADDR[:PORT], `and`, `or`, `not`, parentheses.
 */
export function runSs(argv: string[], rows: SsRow[]): ToolResult {
  let all = false;
  let listening = false;
  let header = true;
  let timers = false;
  let fam: 4 | 6 | 0 = 0;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      if (a === '--all') all = true;
      else if (a === '--listening') listening = true;
      else if (a === '--no-header') header = false;
      else if (a === '--options') timers = true;
      else if (a === '--tcp' || a === '--numeric') {
      } else return { status: 1, stdout: '', stderr: `ss: unsupported option ${a} (usnet)\n` };
      continue;
    }
    if (!a.startsWith('-') || a === '-') break;
    for (const c of a.slice(1)) {
      if (c === 'a') all = true;
      else if (c === 'l') listening = true;
      else if (c === 'H') header = false;
      else if (c === 'o') timers = true;
      else if (c === '4') fam = 4;
      else if (c === '6') fam = 6;
      else if (c === 't' || c === 'n') {
      } else return { status: 1, stdout: '', stderr: `ss: unsupported option -${c} (usnet)\n` };
    }
  }
  // state / exclude
  let states: Set<SsState> | null = null;
  const excluded = new Set<SsState>();
  const rest: string[] = [];
  for (; i < argv.length; i++) {
    const a = argv[i];
    if ((a === 'state' || a === 'exclude' || a === 'excl') && i + 1 < argv.length) {
      const g = STATE_GROUPS[argv[i + 1]];
      if (!g) return { status: 1, stdout: '', stderr: `ss: wrong state name: ${argv[i + 1]}\n` };
      if (a === 'state') {
        states ??= new Set();
        for (const s of g) states.add(s);
      } else for (const s of g) excluded.add(s);
      i++;
      continue;
    }
    rest.push(a);
  }
  let filter: Filter = () => true;
  if (rest.length > 0) {
    try {
      filter = parseSsExpr(rest.join(' '));
    } catch (e) {
      return { status: 1, stdout: '', stderr: `ss: bad filter expression: ${(e as Error).message}\n` };
    }
  }
  // Without -a, -l or a state filter ss shows connected sockets (not LISTEN,
  // not closed); -l shows listening and unconnected ones, -a everything, and
  // a state filter wins over both (iproute2 6.x, checked).
  const wanted =
    states ?? new Set(all ? STATE_GROUPS.all : listening ? ['LISTEN', 'UNCONN'] : STATE_GROUPS.connected);
  for (const s of excluded) wanted.delete(s);
  const selected = rows.filter((r) => wanted.has(r.state) && (fam === 0 || r.family === fam) && filter(r));
  // With exactly one state asked for, ss leaves the State column out.
  const showState = wanted.size !== 1;
  const cols: Array<{ head: string; right: boolean; delim: string }> = [];
  if (showState) cols.push({ head: 'State', right: false, delim: '' });
  cols.push({ head: 'Recv-Q', right: false, delim: showState ? ' ' : '' });
  cols.push({ head: 'Send-Q', right: false, delim: ' ' });
  cols.push({ head: 'Local Address:', right: true, delim: ' ' });
  cols.push({ head: 'Port', right: false, delim: '' });
  cols.push({ head: 'Peer Address:', right: true, delim: ' ' });
  cols.push({ head: 'Port', right: false, delim: '' });
  cols.push({ head: 'Process', right: false, delim: '' });
  const lines: string[][] = [];
  const extra: Array<string | null> = [];
  for (const r of selected) {
    const [la, lp] = hostPort(r.laddr, r.lport, r.family, r.v6only ?? true);
    const [ra, rp] = hostPort(r.raddr, r.rport, r.family, r.v6only ?? true);
    const cells: string[] = [];
    if (showState) cells.push(r.state);
    // ss prints the queues with "%-6d"
    cells.push(String(r.recvQ).padEnd(6), String(r.sendQ).padEnd(6), la, lp, ra, rp, '');
    lines.push(cells);
    extra.push(timers && r.timer ? ` timer:${r.timer}` : null);
  }
  const widths = cols.map((c, k) => Math.max(header ? c.head.length : 0, ...lines.map((l) => l[k].length)));
  let out = '';
  if (header) {
    // the header is laid out like a row: right-aligned columns right-aligned
    out += `${cols
      .map((c, k) =>
        k === cols.length - 1
          ? c.delim + c.head
          : c.delim + (c.right ? c.head.padStart(widths[k]) : c.head.padEnd(widths[k])),
      )
      .join('')}\n`;
  }
  lines.forEach((l, i) => {
    // ss -o prints the timer after the peer's port in place of the (empty)
    // Process column's padding: "127.0.0.1:45689 timer:(timewait,59sec,0)"
    const t = extra[i];
    const cells = l.map((v, k) => {
      if (t !== null && k === l.length - 1) return t;
      return cols[k].delim + (cols[k].right ? v.padStart(widths[k]) : v.padEnd(widths[k]));
    });
    out += `${cells.join('')}\n`;
  });
  return { status: 0, stdout: out, stderr: '' };
}

/** A small recursive-descent parser for ss filter expressions. */
function parseSsExpr(text: string): Filter {
  const toks = text.match(/\(|\)|!=|>=|<=|==|=|>|<|[^\s()=!<>]+/g) ?? [];
  let p = 0;
  const peek = () => toks[p];
  const next = () => toks[p++];
  const orExpr = (): Filter => {
    let l = andExpr();
    while (peek() === 'or' || peek() === '||') {
      next();
      const a = l;
      const b = andExpr();
      l = (r) => a(r) || b(r);
    }
    return l;
  };
  const andExpr = (): Filter => {
    let l = unary();
    while (p < toks.length && peek() !== ')' && peek() !== 'or' && peek() !== '||') {
      if (peek() === 'and' || peek() === '&&') next();
      const a = l;
      const b = unary();
      l = (r) => a(r) && b(r);
    }
    return l;
  };
  const unary = (): Filter => {
    if (peek() === 'not' || peek() === '!') {
      next();
      const f = unary();
      return (r) => !f(r);
    }
    if (peek() === '(') {
      next();
      const f = orExpr();
      if (next() !== ')') throw new Error("missing ')'");
      return f;
    }
    const key = next();
    if (key === undefined) throw new Error('unexpected end');
    if (key === 'sport' || key === 'dport') {
      let op = next();
      const opMap: Record<string, string> = {
        eq: '=',
        '==': '=',
        neq: '!=',
        ne: '!=',
        gt: '>',
        lt: '<',
        ge: '>=',
        le: '<=',
      };
      op = opMap[op] ?? op;
      const v = next();
      if (v === undefined) throw new Error(`missing port after ${key}`);
      const port = Number(v.replace(/^.*:/, ''));
      const get = (r: SsRow) => (key === 'sport' ? r.lport : r.rport);
      switch (op) {
        case '=':
          return (r) => get(r) === port;
        case '!=':
          return (r) => get(r) !== port;
        case '>':
          return (r) => get(r) > port;
        case '<':
          return (r) => get(r) < port;
        case '>=':
          return (r) => get(r) >= port;
        case '<=':
          return (r) => get(r) <= port;
        default:
          throw new Error(`unknown operator ${op}`);
      }
    }
    if (key === 'src' || key === 'dst') {
      if (peek() === '=' || peek() === '==') next();
      const v = next() ?? '';
      const m = /^\[?([^\]]*?)\]?(?::(\d+|\*))?$/.exec(v);
      const addr = m?.[1] ?? v;
      const port = m?.[2] && m[2] !== '*' ? Number(m[2]) : null;
      return (r) => {
        const a = key === 'src' ? r.laddr : r.raddr;
        const pt = key === 'src' ? r.lport : r.rport;
        return (addr === '*' || addr === '' || a === addr) && (port === null || pt === port);
      };
    }
    throw new Error(`unsupported term '${key}'`);
  };
  const f = orExpr();
  if (p < toks.length) throw new Error(`unexpected '${toks[p]}'`);
  return f;
}

// ---------------------------------------------------------------- nstat

/** What nstat remembers between runs (its history file). */
export interface NstatHistory {
  values: Record<string, number> | null;
}

/** Gauges and constants nstat never prints (iproute2's "useless numbers"; checked against the kernel target). */
const NSTAT_USELESS = new Set([
  'IpForwarding',
  'IpDefaultTTL',
  'TcpRtoAlgorithm',
  'TcpRtoMin',
  'TcpRtoMax',
  'TcpMaxConn',
  'TcpCurrEstab',
]);

function globToRe(g: string): RegExp {
  return new RegExp(
    `^${g
      .replace(/[.+^${}()|\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
}

/**
 * `nstat [-a] [-s] [-z] [-r] [-n] [PATTERN...]`: counters with nstat's names.
 * Without -a it prints the change since the last run (the history), as
 * nstat does; -s leaves the history alone; -r resets it; -n updates it
 * without printing. Rate column: usnet prints 0.0 like a first nstat run.
 */
export function runNstat(argv: string[], counters: Record<string, number>, hist: NstatHistory): ToolResult {
  let abs = false;
  let noUpdate = false;
  let zeros = false;
  let reset = false;
  let quiet = false;
  const pats: string[] = [];
  for (const a of argv) {
    if (a.startsWith('--')) {
      const m: Record<string, () => void> = {
        '--absolute': () => (abs = true),
        '--noupdate': () => (noUpdate = true),
        '--zeros': () => (zeros = true),
        '--reset': () => (reset = true),
        '--nooutput': () => (quiet = true),
      };
      if (!m[a]) return { status: 1, stdout: '', stderr: `nstat: unsupported option ${a} (usnet)\n` };
      m[a]();
    } else if (a.startsWith('-') && a.length > 1) {
      for (const c of a.slice(1)) {
        if (c === 'a') abs = true;
        else if (c === 's') noUpdate = true;
        else if (c === 'z') zeros = true;
        else if (c === 'r') reset = true;
        else if (c === 'n') quiet = true;
        else return { status: 1, stdout: '', stderr: `nstat: unsupported option -${c} (usnet)\n` };
      }
    } else pats.push(a);
  }
  if (reset) hist.values = null;
  const names = Object.keys(counters);
  // A name asked for exactly is known even before the stack first counted it.
  for (const p of pats) if (!/[*?]/.test(p) && !(p in counters)) names.push(p);
  const res = pats.map(globToRe);
  let out = '#kernel\n';
  for (const name of names) {
    if (NSTAT_USELESS.has(name)) continue;
    if (res.length > 0 && !res.some((r) => r.test(name))) continue;
    const cur = counters[name] ?? 0;
    const v = abs || hist.values === null ? cur : cur - (hist.values[name] ?? 0);
    if (v === 0 && !zeros) continue;
    out += `${name.padEnd(32)}${String(v).padEnd(19)}0.0\n`;
  }
  if (!noUpdate) hist.values = { ...counters };
  return { status: 0, stdout: quiet ? '' : out, stderr: '' };
}

// ---------------------------------------------------------------- sysctl

const INT_RE = /^[-+]?(0x[0-9a-f]+|[0-9]+)$/i;
const intIn =
  (lo: number, hi: number) =>
  (v: string): string | null => {
    if (!INT_RE.test(v)) return null;
    const n = Number(v.replace(/^\+/, ''));
    return n >= lo && n <= hi ? String(n) : null;
  };
const TFO_KEY = /^[0-9a-f]{1,8}(-[0-9a-f]{1,8}){3}$/i;

/**
 * Linux sysctls with no meaning in usnet, which has no pacing, no TCP Fast
 * Open server keys, no TSO autosizing or TCP small queues, and whose
 * FACK switch Linux itself keeps only as a no-op: scripts written for Linux
 * set them in their set-up (the kernel selftests' defaults.sh sets
 * tcp_fack, the pacing ratios and tcp_fastopen_key), so the tool accepts
 * them with Linux's checks, remembers the value per stack and prints it
 * back, and nothing else changes. Defaults and limits as read in a fresh
 * network namespace of 6.18. (The TSO knobs tcp_min_tso_segs,
 * tcp_tso_win_divisor and tcp_tso_rtt_log are the stack's own sysctls.)
 */
const INERT_SYSCTLS: Record<string, { def: string; parse: (v: string) => string | null }> = {
  'net.ipv4.tcp_fack': { def: '0', parse: intIn(-(2 ** 31), 2 ** 31 - 1) },
  'net.ipv4.tcp_pacing_ss_ratio': { def: '200', parse: intIn(0, 1000) },
  'net.ipv4.tcp_pacing_ca_ratio': { def: '120', parse: intIn(0, 1000) },
  'net.ipv4.tcp_limit_output_bytes': { def: '4194304', parse: intIn(-(2 ** 31), 2 ** 31 - 1) },
  'net.ipv4.tcp_backlog_ack_defer': { def: '1', parse: intIn(0, 1) },
  'net.ipv4.tcp_fastopen_key': {
    def: '00000000-00000000-00000000-00000000',
    // a primary key and an optional backup, each four 32-bit hex words
    parse: (v) => {
      const keys = v.split(',');
      if (keys.length > 2 || !keys.every((k) => TFO_KEY.test(k))) return null;
      return keys
        .map((k) =>
          k
            .split('-')
            .map((w) => w.toLowerCase().padStart(8, '0'))
            .join('-'),
        )
        .join(',');
    },
  },
};

/** Values of INERT_SYSCTLS written so far, per stack. */
const inertValues = new WeakMap<Sysctl, Map<string, string>>();

function inertGet(sysctl: Sysctl, name: string): string | null {
  const d = INERT_SYSCTLS[name];
  if (d === undefined) return null;
  return inertValues.get(sysctl)?.get(name) ?? d.def;
}

/** 'ok', 'unknown' (not an inert name) or 'invalid'. */
function inertSet(sysctl: Sysctl, name: string, value: string): 'ok' | 'unknown' | 'invalid' {
  const d = INERT_SYSCTLS[name];
  if (d === undefined) return 'unknown';
  const v = d.parse(value);
  if (v === null) return 'invalid';
  let m = inertValues.get(sysctl);
  if (m === undefined) inertValues.set(sysctl, (m = new Map()));
  m.set(name, v);
  return 'ok';
}

/**
 * `sysctl [-q] [-n] [-e] [-w] name[=value]...` (procps): print or set.
 * Names may use dots or slashes.
 */
export function runSysctl(argv: string[], sysctl: Sysctl): ToolResult {
  let quiet = false;
  let valuesOnly = false;
  let ignoreUnknown = false;
  let write = false;
  const items: string[] = [];
  for (const a of argv) {
    if (a === '--quiet') quiet = true;
    else if (a === '--values') valuesOnly = true;
    else if (a === '--ignore') ignoreUnknown = true;
    else if (a === '--write') write = true;
    else if (a.startsWith('-') && a.length > 1 && !a.includes('=')) {
      for (const c of a.slice(1)) {
        if (c === 'q') quiet = true;
        else if (c === 'n') valuesOnly = true;
        else if (c === 'e') ignoreUnknown = true;
        else if (c === 'w') write = true;
        else if (c === 'N' || c === 'b') {
        } else return { status: 1, stdout: '', stderr: `sysctl: unsupported option -${c} (usnet)\n` };
      }
    } else items.push(a);
  }
  let out = '';
  let err = '';
  let status = 0;
  for (const item of items) {
    const eq = item.indexOf('=');
    const name = (eq >= 0 ? item.slice(0, eq) : item).trim().replaceAll('/', '.');
    const fail = (msg: string) => {
      status = 1;
      err += `sysctl: ${msg}\n`;
    };
    if (eq >= 0 || write) {
      if (eq < 0) {
        fail(`"${name}" must be of the form name=value`);
        continue;
      }
      const value = item.slice(eq + 1).trim();
      let shown: string;
      try {
        sysctl.set(name, value);
        shown = sysctl.format(name);
      } catch (e) {
        const code = (e as { code?: string }).code;
        const inert = code === 'ENOENT' ? inertSet(sysctl, name, value) : 'invalid';
        if (inert === 'unknown') {
          if (!ignoreUnknown)
            fail(`cannot stat /proc/sys/${name.replaceAll('.', '/')}: No such file or directory`);
          continue;
        }
        if (inert === 'invalid') {
          fail(`setting key "${name}": Invalid argument`);
          continue;
        }
        // procps echoes what was written
        shown = value;
      }
      if (!quiet) out += valuesOnly ? `${shown}\n` : `${name} = ${shown}\n`;
      continue;
    }
    let text: string;
    try {
      text = sysctl.format(name);
    } catch {
      const inert = inertGet(sysctl, name);
      if (inert === null) {
        if (!ignoreUnknown)
          fail(`cannot stat /proc/sys/${name.replaceAll('.', '/')}: No such file or directory`);
        continue;
      }
      text = inert;
    }
    out += valuesOnly ? `${text}\n` : `${name} = ${text}\n`;
  }
  return { status, stdout: out, stderr: err };
}

// ---------------------------------------------------------------- ip / tc

/**
 * `ip` and `tc` as seen by a script run against usnet: the set-up commands
 * packetdrill scripts (and the kernel selftests' defaults.sh) issue for the
 * kernel's TUN device and caches have nothing to act on in usnet, so they
 * succeed silently: `tc qdisc add|replace|change|del ...` (usnet has no
 * qdisc; nothing paces its output) and `ip tcp_metrics flush|delete ...`
 * (usnet keeps no per-destination metrics). Anything else is refused.
 */
export function runIpTc(tool: 'ip' | 'tc' | 'ethtool', argv: string[]): ToolResult {
  // ethtool -K/--offload DEV tso off: usnet never offloads segmentation
  if (tool === 'ethtool' && (argv[0] === '-K' || argv[0] === '--offload' || argv[0] === '--features'))
    return { status: 0, stdout: '', stderr: '' };
  const args = argv.filter((a) => !/^-/.test(a));
  if (tool === 'tc' && args[0] === 'qdisc') return { status: 0, stdout: '', stderr: '' };
  if (tool === 'ip' && (args[0] === 'tcp_metrics' || args[0] === 'tcpmetrics' || args[0] === 'tcp_metric'))
    return { status: 0, stdout: '', stderr: '' };
  return {
    status: 1,
    stdout: '',
    stderr: `${tool} ${argv.join(' ')}: not supported against the usnet target (only tc qdisc, ip tcp_metrics and ethtool -K are accepted)\n`,
  };
}
