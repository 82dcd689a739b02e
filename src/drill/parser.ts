/**
 * Recursive-descent parser for packetdrill scripts, reimplementing the
 * grammar of packetdrill's parser.y (the subset used by google/packetdrill's
 * gtests/net/tcp and the kernel's tools/testing/selftests/net/packetdrill):
 *
 *   script  := option* [init_command] event* [cleanup_command]
 *   event   := time action
 *   time    := ['+'] NUM | ['+'] NUM '~' ['+'] NUM | '*'
 *   action  := packet | [... NUM] syscall | `command` | %{ code }%
 *
 * Errors are DrillParseError with file:line:column.
 */
import type {
  Action,
  CommandAction,
  ErrnoSpec,
  Event,
  EventTime,
  Expr,
  IcmpSpec,
  IpInfo,
  OuterHeader,
  PacketAction,
  Script,
  ScriptOption,
  StructField,
  TcpOptionSpec,
  TcpSpec,
  UdpSpec,
} from './ast.js';
import { DrillParseError, lex, type Token } from './lexer.js';

export { DrillParseError } from './lexer.js';

export interface ParseOptions {
  /** -D NAME=value definitions */
  defines?: Record<string, string>;
}

export function parseScript(source: string, file: string, opts: ParseOptions = {}): Script {
  const { tokens, markers } = lex(source, file, opts.defines ?? {});
  const p = new Parser(tokens, source);
  const script = p.script(file);
  script.markers = markers;
  return script;
}

const FLAG_LETTERS = /^[FSRPUEWAN]+$/;
/** AccECN's ACE counter written after the ACK dot: `P.6`, `.5` */
const ACE = /^\.[0-7]$/;

class Parser {
  private pos = 0;
  constructor(
    private readonly toks: Token[],
    private readonly source: string,
  ) {}

  private peek(k = 0): Token {
    return this.toks[Math.min(this.pos + k, this.toks.length - 1)];
  }
  private next(): Token {
    const t = this.toks[this.pos];
    if (this.pos < this.toks.length - 1) this.pos++;
    return t;
  }
  private isPunct(c: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'punct' && t.text === c;
  }
  private isWord(w: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'word' && t.text === w;
  }
  private fail(t: Token, msg: string): never {
    const got = t.kind === 'eof' ? 'end of file' : `'${t.kind === 'string' ? `"${t.text}"` : t.text}'`;
    throw new DrillParseError(t.loc, `${msg} (got ${got})`);
  }
  private expectPunct(c: string, what?: string): Token {
    const t = this.peek();
    if (t.kind !== 'punct' || t.text !== c) this.fail(t, `expected '${c}'${what ? ` ${what}` : ''}`);
    return this.next();
  }
  private expectInt(what: string): number {
    const t = this.peek();
    if (t.kind !== 'int') this.fail(t, `expected ${what}`);
    this.next();
    return t.num;
  }
  /** `word N` when the next token is `word`, else null (an optional keyed number). */
  private optInt(word: string, what: string): number | null {
    if (!this.isWord(word)) return null;
    this.next();
    return this.expectInt(what);
  }
  private expectWord(w: string): Token {
    const t = this.peek();
    if (t.kind !== 'word' || t.text !== w) this.fail(t, `expected '${w}'`);
    return this.next();
  }

  script(file: string): Script {
    const options: ScriptOption[] = [];
    while (this.peek().kind === 'option') options.push(this.option());
    let initCommand: CommandAction | null = null;
    if (this.peek().kind === 'backquoted') initCommand = { type: 'command', command: this.next().text };
    const events: Event[] = [];
    let cleanupCommand: CommandAction | null = null;
    while (this.peek().kind !== 'eof') {
      const t = this.peek();
      if (t.kind === 'backquoted' && this.peek(1).kind === 'eof') {
        cleanupCommand = { type: 'command', command: this.next().text };
        break;
      }
      if (t.kind === 'option') this.fail(t, '--options must come before the first event');
      events.push(this.event());
    }
    return { file, options, initCommand, events, cleanupCommand, markers: [] };
  }

  /** `--name=value` (value up to the next whitespace) or `--name`. */
  private option(): ScriptOption {
    const t = this.next();
    if (this.isPunct('=') && !this.peek().spaceBefore) {
      const eq = this.next();
      let end = eq.end;
      while (end < this.source.length && !/\s/.test(this.source[end])) end++;
      const value = this.source.slice(eq.end, end);
      while (this.peek().kind !== 'eof' && this.peek().start < end) this.next();
      return { name: t.text, value, loc: t.loc };
    }
    return { name: t.text, value: null, loc: t.loc };
  }

  private num(): number {
    const t = this.peek();
    if (t.kind !== 'int' && t.kind !== 'float') this.fail(t, 'expected a time in seconds');
    if (t.num < 0) this.fail(t, 'negative time');
    this.next();
    return Math.round(t.num * 1e6);
  }

  private time(): EventTime {
    const t = this.peek();
    if (this.isPunct('*')) {
      this.next();
      return { kind: 'any' };
    }
    if (this.isPunct('+')) {
      this.next();
      const us = this.num();
      if (this.isPunct('~')) {
        this.next();
        this.expectPunct('+', 'in a relative time range (+a~+b)');
        const endUs = this.num();
        if (endUs < us) throw new DrillParseError(t.loc, 'time range is backwards');
        return { kind: 'relative-range', us, endUs };
      }
      return { kind: 'relative', us };
    }
    if (t.kind === 'int' || t.kind === 'float') {
      const us = this.num();
      if (this.isPunct('~')) {
        this.next();
        const endUs = this.num();
        if (endUs < us) throw new DrillParseError(t.loc, 'time range is backwards');
        return { kind: 'absolute-range', us, endUs };
      }
      return { kind: 'absolute', us };
    }
    this.fail(t, 'expected an event time (0.1, +0.1, *, a~b)');
  }

  private event(): Event {
    const loc = this.peek().loc;
    const time = this.time();
    const action = this.action();
    if (time.kind === 'any' && (action.type !== 'packet' || action.direction !== '>'))
      throw new DrillParseError(loc, 'event time * can only be used with outbound packets');
    if (
      (time.kind === 'absolute-range' || time.kind === 'relative-range') &&
      (action.type !== 'packet' || action.direction !== '>')
    )
      throw new DrillParseError(loc, 'event time range can only be used with outbound packets');
    return { loc, time, action };
  }

  private action(): Action {
    const t = this.peek();
    if (t.kind === 'punct' && (t.text === '<' || t.text === '>')) return this.packet();
    if (t.kind === 'backquoted') {
      this.next();
      return { type: 'command', command: t.text };
    }
    if (t.kind === 'code') {
      this.next();
      return { type: 'code', code: t.text };
    }
    let endUs: number | null = null;
    if (t.kind === 'ellipsis') {
      this.next();
      endUs = this.num();
    }
    if (this.peek().kind === 'word' && this.isPunct('(', 1)) return this.syscall(endUs);
    this.fail(this.peek(), 'expected a packet (< or >), a system call, a `command` or %{ code }%');
  }

  // ---- system calls ----

  private syscall(endUs: number | null): Action {
    const name = this.next().text;
    this.expectPunct('(');
    const args: Expr[] = [];
    if (!this.isPunct(')')) {
      args.push(this.expr());
      while (this.isPunct(',')) {
        this.next();
        args.push(this.expr());
      }
    }
    this.expectPunct(')', `to close ${name}(`);
    this.expectPunct('=', `after ${name}(...): the expected result`);
    const ret = this.expr();
    let errno: ErrnoSpec | null = null;
    let note: string | null = null;
    if (this.peek().kind === 'word' && /^E[A-Z0-9]+$/.test(this.peek().text)) {
      const code = this.next().text;
      errno = { code, note: this.isPunct('(') ? this.note() : null };
    } else if (this.isPunct('(')) {
      note = this.note();
    }
    return { type: 'syscall', name, args, ret, errno, note, endUs };
  }

  /** `(free text)` after a result: strerror or a remark. Taken verbatim. */
  private note(): string {
    const open = this.expectPunct('(');
    let depth = 1;
    let last = open;
    while (depth > 0) {
      const t = this.peek();
      if (t.kind === 'eof') throw new DrillParseError(open.loc, 'unterminated (note)');
      this.next();
      if (t.kind === 'punct' && t.text === '(') depth++;
      if (t.kind === 'punct' && t.text === ')') depth--;
      last = t;
    }
    return this.source.slice(open.end, last.start).trim().replace(/\s+/g, ' ');
  }

  private expr(): Expr {
    let lhs = this.primary();
    while (this.isPunct('|')) {
      const op = this.next();
      const rhs = this.primary();
      lhs = { kind: 'or', lhs, rhs, loc: op.loc };
    }
    return lhs;
  }

  private primary(): Expr {
    const t = this.peek();
    switch (t.kind) {
      case 'ellipsis':
        this.next();
        return { kind: 'ellipsis', loc: t.loc };
      case 'int':
        this.next();
        return { kind: 'int', value: t.num, hex: t.hex, loc: t.loc };
      case 'string': {
        let value = '';
        while (this.peek().kind === 'string') value += this.next().text;
        let more = false;
        if (this.peek().kind === 'ellipsis') {
          this.next();
          more = true;
        }
        return { kind: 'string', value, more, loc: t.loc };
      }
      case 'word': {
        this.next();
        if (this.isPunct('(')) {
          this.next();
          const args: Expr[] = [];
          if (!this.isPunct(')')) {
            args.push(this.expr());
            while (this.isPunct(',')) {
              this.next();
              args.push(this.expr());
            }
          }
          this.expectPunct(')', `to close ${t.text}(`);
          return { kind: 'call', fn: t.text, args, loc: t.loc };
        }
        return { kind: 'word', name: t.text, loc: t.loc };
      }
      case 'punct':
        if (t.text === '[') return this.list();
        if (t.text === '{') return this.struct();
        if (t.text === '-' && this.peek(1).kind === 'int') {
          this.next();
          const i = this.next();
          return { kind: 'int', value: -i.num, hex: i.hex, loc: t.loc };
        }
        break;
      default:
        break;
    }
    this.fail(t, 'expected an expression');
  }

  private list(): Expr {
    const open = this.expectPunct('[');
    const items: Expr[] = [];
    if (!this.isPunct(']')) {
      items.push(this.expr());
      while (this.isPunct(',')) {
        this.next();
        items.push(this.expr());
      }
    }
    this.expectPunct(']', 'to close [');
    return { kind: 'list', items, loc: open.loc };
  }

  private struct(): Expr {
    const open = this.expectPunct('{');
    const fields: StructField[] = [];
    while (!this.isPunct('}')) {
      fields.push(this.field());
      if (this.isPunct(',')) this.next();
      else if (!this.isPunct('}')) this.fail(this.peek(), "expected ',' or '}'");
    }
    this.expectPunct('}');
    return { kind: 'struct', fields, loc: open.loc };
  }

  /** `name=value`, `name(args)=value` (msg_iov(1)=[...]), or a positional value. */
  private field(): StructField {
    const t = this.peek();
    if (t.kind === 'word' && this.isPunct('=', 1)) {
      this.next();
      this.next();
      return { name: t.text, value: this.expr() };
    }
    if (t.kind === 'word' && this.isPunct('(', 1)) {
      // look for `)` `=` to tell msg_name(...)=... from a value like htons(1)
      const save = this.pos;
      const call = this.primary();
      if (this.isPunct('=')) {
        this.next();
        return { name: t.text, value: this.expr() };
      }
      this.pos = save;
      void call;
    }
    return { name: null, value: this.expr() };
  }

  // ---- packets ----

  private packet(): PacketAction {
    const dir = this.next().text as '<' | '>';
    const outer: OuterHeader[] = [];
    while ((this.isWord('ipv4') || this.isWord('ipv6')) && !this.isPunct('(', 1)) {
      const fam = this.next().text === 'ipv4' ? 4 : 6;
      this.optIpInfo();
      const src = this.address();
      this.expectPunct('>');
      const dst = this.address();
      this.expectPunct(':');
      outer.push({ family: fam, src, dst });
    }
    const ip = this.optIpInfo();
    if (this.isWord('udp')) {
      this.next();
      const [srcPort, dstPort] = this.optPorts();
      this.expectPunct('(');
      const len = this.expectInt('UDP payload length');
      this.expectPunct(')');
      const spec: UdpSpec = { proto: 'udp', len, srcPort, dstPort };
      return { type: 'packet', direction: dir, ip, srcPort, dstPort, outer, spec };
    }
    if (this.isWord('icmp')) {
      this.next();
      return { type: 'packet', direction: dir, ip, srcPort: null, dstPort: null, outer, spec: this.icmp() };
    }
    const [srcPort, dstPort] = this.optPorts();
    const spec = this.tcp(dir);
    return { type: 'packet', direction: dir, ip, srcPort, dstPort, outer, spec };
  }

  private address(): string {
    const t = this.peek();
    if (t.kind === 'ipv4') return this.next().text;
    // An IPv6 address is lexed as words, ints and ':'s; take the raw text
    // up to the next whitespace that precedes '>' or ':'.
    let end = t.start;
    while (end < this.source.length && /[0-9a-fA-F:.]/.test(this.source[end])) end++;
    // the trailing ':' belongs to the header syntax
    if (this.source[end - 1] === ':' && this.source[end - 2] !== ':') end--;
    if (end === t.start) this.fail(t, 'expected an IP address');
    const text = this.source.slice(t.start, end);
    while (this.peek().kind !== 'eof' && this.peek().start < end) this.next();
    return text;
  }

  private optPorts(): [number | null, number | null] {
    if (this.peek().kind === 'int' && this.isPunct('>', 1) && this.peek(2).kind === 'int') {
      const a = this.next().num;
      this.next();
      const b = this.next().num;
      return [a, b];
    }
    return [null, null];
  }

  private optIpInfo(): IpInfo | null {
    const open = this.peek();
    if (!(open.kind === 'punct' && (open.text === '[' || open.text === '('))) return null;
    const close = open.text === '[' ? ']' : ')';
    // `(` only starts ip info when followed by one of its keywords
    const k = this.peek(1);
    const kw = ['noecn', 'ect0', 'ect1', 'ce', 'ect01', 'tos', 'flowlabel', 'ttl'];
    if (k.kind !== 'word' || !kw.includes(k.text)) return null;
    this.next();
    const info: IpInfo = { ecn: null, tos: null, flowLabel: null, ttl: null };
    for (;;) {
      const w = this.next();
      if (w.kind !== 'word')
        this.fail(w, 'expected ip info (ect0, ect1, ce, noecn, ect01, tos, flowlabel, ttl)');
      if (w.text === 'tos') info.tos = this.expectInt('tos value');
      else if (w.text === 'flowlabel') info.flowLabel = this.expectInt('flow label');
      else if (w.text === 'ttl') info.ttl = this.expectInt('ttl');
      else if (kw.includes(w.text)) info.ecn = w.text;
      else this.fail(w, 'expected ip info');
      if (this.isPunct(',')) {
        this.next();
        continue;
      }
      break;
    }
    this.expectPunct(close);
    return info;
  }

  private tcp(dir: '<' | '>'): TcpSpec {
    // flags: WORD ['.'] | '.' | '-'
    const ft = this.peek();
    let flags: string;
    if (ft.kind === 'float' && ACE.test(ft.text)) {
      this.next();
      flags = ft.text;
    } else if (ft.kind === 'punct' && ft.text === '.') {
      this.next();
      flags = '.';
    } else if (ft.kind === 'punct' && ft.text === '-') {
      this.next();
      flags = '';
    } else if (ft.kind === 'word' && FLAG_LETTERS.test(ft.text)) {
      this.next();
      flags = ft.text;
      if (this.isPunct('.') && !this.peek().spaceBefore) {
        this.next();
        flags += '.';
      } else if (this.peek().kind === 'float' && ACE.test(this.peek().text) && !this.peek().spaceBefore) {
        flags += this.next().text;
      }
    } else {
      this.fail(ft, 'expected TCP flags (S, S., ., P., F., R, R., ...), udp or icmp');
    }
    const st = this.peek();
    const seq = this.expectInt('start sequence number (as in 0:0(0))');
    this.expectPunct(':', 'in start:end(length)');
    const endSeq = this.expectInt('end sequence number');
    this.expectPunct('(', 'in start:end(length)');
    const len = this.expectInt('payload length');
    this.expectPunct(')');
    if (len < 0 || len > 65535) throw new DrillParseError(st.loc, 'TCP payload size out of range');
    if ((seq + len) % 2 ** 32 !== endSeq % 2 ** 32)
      throw new DrillParseError(st.loc, 'inconsistent TCP sequence numbers and payload size');
    const ack = this.optInt('ack', 'ack number');
    const win = this.optInt('win', 'window');
    if (win !== null && (win < 0 || win > 65535))
      throw new DrillParseError(st.loc, 'TCP window value out of range');
    const urg = this.optInt('urg', 'urgent pointer');
    let options: TcpOptionSpec[] | null = [];
    let optionsWritten = false;
    if (this.isPunct('<')) {
      const lt = this.next();
      optionsWritten = true;
      if (this.peek().kind === 'ellipsis') {
        this.next();
        options = null;
        if (dir !== '>')
          throw new DrillParseError(lt.loc, '<...> for TCP options can only be used with outbound packets');
      } else {
        options.push(this.tcpOption());
        while (this.isPunct(',')) {
          this.next();
          options.push(this.tcpOption());
        }
      }
      this.expectPunct('>', 'to close the TCP option list');
    }
    return { proto: 'tcp', flags, seq, endSeq, len, ack, win, urg, options, optionsWritten };
  }

  private tcpOption(): TcpOptionSpec {
    const t = this.next();
    if (t.kind !== 'word') this.fail(t, 'expected a TCP option (mss, nop, sackOK, sack, TS, wscale, eol)');
    switch (t.text) {
      case 'nop':
        return { kind: 'nop' };
      case 'eol':
        return { kind: 'eol' };
      case 'mss': {
        const value = this.expectInt('mss value');
        if (value < 0 || value > 65535) throw new DrillParseError(t.loc, 'mss value out of range');
        return { kind: 'mss', value };
      }
      case 'wscale': {
        const value = this.expectInt('window scale shift count');
        if (value < 0 || value > 255)
          throw new DrillParseError(t.loc, 'window scale shift count out of range');
        return { kind: 'wscale', value };
      }
      case 'sackOK':
        return { kind: 'sackOK' };
      case 'sack': {
        const blocks: Array<[number, number]> = [];
        while (this.peek().kind === 'int' && this.isPunct(':', 1)) {
          const a = this.next().num;
          this.next();
          const b = this.expectInt('SACK block right edge');
          blocks.push([a, b]);
        }
        if (blocks.length === 0) this.fail(this.peek(), 'expected SACK blocks (left:right)');
        return { kind: 'sack', blocks };
      }
      case 'TS': {
        this.expectWord('val');
        const val = this.expectInt('TS val');
        this.expectWord('ecr');
        const ecr = this.expectInt('TS ecr');
        return { kind: 'ts', val, ecr };
      }
      case 'md5':
        return { kind: 'md5', hex: this.hexBlob() };
      case 'ECN': {
        const fields: Array<[string, number]> = [];
        while (this.peek().kind === 'word' && ['e0b', 'ceb', 'e1b'].includes(this.peek().text)) {
          const name = this.next().text;
          fields.push([name, this.expectInt(`AccECN ${name} counter`)]);
        }
        return { kind: 'accecn', fields };
      }
      case 'FO':
      case 'FOEXP': {
        const c = this.peek();
        const cookie = c.kind === 'word' || c.kind === 'int' ? this.hexBlob() : '';
        return { kind: 'fastopen', cookie, exp: t.text === 'FOEXP' };
      }
      default:
        this.fail(t, 'unknown TCP option');
    }
  }

  private hexBlob(): string {
    const t = this.next();
    if (t.kind !== 'word' && t.kind !== 'int') this.fail(t, 'expected a hex string');
    return t.text;
  }

  private icmp(): IcmpSpec {
    const ty = this.next();
    if (ty.kind !== 'word') this.fail(ty, 'expected an ICMP type (unreachable, echo_request, ...)');
    let icmpCode: string | null = null;
    if (this.peek().kind === 'word' && !['mtu', 'id'].includes(this.peek().text)) icmpCode = this.next().text;
    const mtu = this.optInt('mtu', 'mtu');
    const echoId = this.optInt('id', 'echo id');
    let echoed: IcmpSpec['echoed'] = null;
    if (this.isPunct('[')) {
      this.next();
      if (this.isWord('udp') || this.isWord('raw')) {
        const proto = this.next().text as 'udp' | 'raw';
        this.expectPunct('(');
        const len = this.expectInt('length');
        this.expectPunct(')');
        echoed = { proto, len };
      } else {
        const seq = this.expectInt('echoed sequence number');
        this.expectPunct(':');
        this.expectInt('echoed end sequence');
        this.expectPunct('(');
        const len = this.expectInt('echoed length');
        this.expectPunct(')');
        echoed = { proto: 'tcp', seq, len };
      }
      this.expectPunct(']');
    }
    return { proto: 'icmp', icmpType: ty.text, icmpCode, mtu, echoId, echoed };
  }
}
