/**
 * Tokenizer for packetdrill scripts. Follows the token classes of
 * packetdrill's lexer.l: C and C++ comments, `%{ }%` code blocks, `...`,
 * `--option` flags, floats, decimal and hex integers, words, "strings",
 * `backquoted commands` and single punctuation characters. Whitespace
 * (newlines included) only separates tokens, as in packetdrill.
 *
 * `-D NAME=value` definitions are expanded here, as packetdrill does in its
 * lexer: a word equal to a defined name is replaced by the tokens of its
 * value (so `-D PORT=8080` makes `PORT` an integer, `-D CC="reno"` a string).
 */
import type { Loc, Marker } from './ast.js';

export type TokKind =
  | 'int' // decimal or hex integer (value in num)
  | 'float' // 0.1, .1
  | 'word'
  | 'string'
  | 'backquoted'
  | 'code'
  | 'option' // --name (text is the name)
  | 'ellipsis'
  | 'ipv4' // dotted quad
  | 'punct' // one character: ( ) [ ] { } < > , = | : ~ + * . - ! ; /
  | 'eof';

export interface Token {
  kind: TokKind;
  /** source text (strings/backquoted/code: the contents; option: the name) */
  text: string;
  num: number;
  /** hex integer literal */
  hex: boolean;
  loc: Loc;
  /** offset of the token's first character in the source */
  start: number;
  /** offset just past the token */
  end: number;
  /** true when whitespace or a comment came right before this token */
  spaceBefore: boolean;
}

export class DrillParseError extends Error {
  readonly loc: Loc;
  constructor(loc: Loc, message: string) {
    super(`${loc.file}:${loc.line}:${loc.col}: ${message}`);
    this.name = 'DrillParseError';
    this.loc = loc;
  }
}

export interface LexResult {
  tokens: Token[];
  markers: Marker[];
  source: string;
}

const MARKER_RE = /^\/\/\s*usnet-drill:\s*([a-z-]+)\s*:?\s*(.*?)\s*$/;

export function lex(source: string, file: string, defines: Record<string, string> = {}): LexResult {
  const toks: Token[] = [];
  const markers: Marker[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  let space = true;
  const n = source.length;

  const loc = (at: number): Loc => ({ file, line, col: at - lineStart + 1 });
  const advanceTo = (to: number) => {
    for (let k = i; k < to; k++) {
      if (source.charCodeAt(k) === 10) {
        line++;
        lineStart = k + 1;
      }
    }
    i = to;
  };
  const push = (kind: TokKind, text: string, start: number, l: Loc, num = 0, hex = false) => {
    toks.push({ kind, text, num, hex, loc: l, start, end: i, spaceBefore: space });
    space = false;
  };

  while (i < n) {
    const c = source[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      advanceTo(i + 1);
      space = true;
      continue;
    }
    const start = i;
    const l = loc(i);
    if (c === '/' && source[i + 1] === '/') {
      let e = source.indexOf('\n', i);
      if (e < 0) e = n;
      const text = source.slice(i, e);
      const m = MARKER_RE.exec(text);
      if (m) {
        if (m[1] !== 'kernel-only' && m[1] !== 'usnet-only')
          throw new DrillParseError(l, `unknown usnet-drill marker '${m[1]}' (kernel-only or usnet-only)`);
        if (m[2] === '') throw new DrillParseError(l, `usnet-drill: ${m[1]} needs a written reason`);
        markers.push({ kind: m[1], reason: m[2], loc: l });
      }
      advanceTo(e);
      space = true;
      continue;
    }
    if (c === '/' && source[i + 1] === '*') {
      const e = source.indexOf('*/', i + 2);
      if (e < 0) throw new DrillParseError(l, 'unterminated /* comment');
      advanceTo(e + 2);
      space = true;
      continue;
    }
    if (c === '%' && source[i + 1] === '{') {
      const e = source.indexOf('}%', i + 2);
      if (e < 0) throw new DrillParseError(l, 'unterminated %{ code block');
      const body = source.slice(i + 2, e).replace(/^[ \t]+|[ \t]+$/g, '');
      advanceTo(e + 2);
      push('code', body, start, l);
      continue;
    }
    if (c === '.' && source.startsWith('...', i)) {
      advanceTo(i + 3);
      push('ellipsis', '...', start, l);
      continue;
    }
    if (c === '-' && source[i + 1] === '-' && /[a-zA-Z0-9_]/.test(source[i + 2] ?? '')) {
      let e = i + 2;
      while (e < n && /[a-zA-Z0-9_]/.test(source[e])) e++;
      const name = source.slice(i + 2, e);
      advanceTo(e);
      push('option', name, start, l);
      continue;
    }
    if (c === '"' || c === '`') {
      let e = i + 1;
      let out = '';
      while (e < n && source[e] !== c) {
        if (source[e] === '\\' && e + 1 < n) {
          // packetdrill keeps the text between the quotes as written; for
          // strings we decode the common C escapes, backquotes stay raw.
          if (c === '"') {
            const esc = source[e + 1];
            const hex = esc === 'x' ? /^[0-9a-fA-F]{1,2}/.exec(source.slice(e + 2, e + 4)) : null;
            if (hex) {
              out += String.fromCharCode(Number.parseInt(hex[0], 16));
              e += 2 + hex[0].length;
              continue;
            }
            out += esc === 'n' ? '\n' : esc === 't' ? '\t' : esc === '0' ? '\0' : esc;
          } else out += source.slice(e, e + 2);
          e += 2;
          continue;
        }
        out += source[e];
        e++;
      }
      if (e >= n) throw new DrillParseError(l, `unterminated ${c === '"' ? 'string' : 'backquoted command'}`);
      advanceTo(e + 1);
      push(c === '"' ? 'string' : 'backquoted', out, start, l);
      continue;
    }
    // dotted quad before numbers (longest match, as flex does)
    const v4 = /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+/.exec(source.slice(i, i + 16));
    if (v4) {
      advanceTo(i + v4[0].length);
      push('ipv4', v4[0], start, l);
      continue;
    }
    const rest = source.slice(i, i + 64);
    const hex = /^0x[0-9a-fA-F]+/.exec(rest);
    if (hex && !/[g-zG-Z_]/.test(rest[hex[0].length] ?? '')) {
      advanceTo(i + hex[0].length);
      push('int', hex[0], start, l, Number.parseInt(hex[0].slice(2), 16), true);
      continue;
    }
    const fl = /^-?[0-9]*\.[0-9]+/.exec(rest);
    const int = /^-?[0-9]+/.exec(rest);
    const word = /^[a-zA-Z0-9_]+/.exec(rest);
    // flex takes the longest match; on a tie the earlier rule (float, int, then word)
    const fLen = fl ? fl[0].length : 0;
    const iLen = int ? int[0].length : 0;
    const wLen = word ? word[0].length : 0;
    if (fLen > 0 && fLen >= iLen && fLen >= wLen) {
      advanceTo(i + fLen);
      push('float', fl![0], start, l, Number.parseFloat(fl![0]));
      continue;
    }
    if (iLen > 0 && iLen >= wLen) {
      advanceTo(i + iLen);
      push('int', int![0], start, l, Number.parseInt(int![0], 10));
      continue;
    }
    if (wLen > 0) {
      let w = word![0];
      let e = i + wLen;
      if (w === 'sequence' && source[e] === '#') {
        w = 'sequence#';
        e++;
      }
      advanceTo(e);
      const def = Object.hasOwn(defines, w) ? defines[w] : undefined;
      if (def !== undefined) {
        const sub = lexDefine(def, w, l);
        for (const t of sub) {
          toks.push({ ...t, loc: l, start, end: i, spaceBefore: space });
          space = false;
        }
        continue;
      }
      push('word', w, start, l);
      continue;
    }
    advanceTo(i + 1);
    push('punct', c, start, l);
  }
  toks.push({ kind: 'eof', text: '', num: 0, hex: false, loc: loc(n), start: n, end: n, spaceBefore: true });
  return { tokens: toks, markers, source };
}

/** Tokens of a define's value; a value that is itself a name is not re-expanded (no loops). */
function lexDefine(value: string, name: string, at: Loc): Token[] {
  try {
    const r = lex(value, `${at.file} (define ${name})`, {});
    return r.tokens.filter((t) => t.kind !== 'eof');
  } catch (e) {
    if (e instanceof DrillParseError)
      throw new DrillParseError(at, `bad value for define ${name}: ${e.message}`);
    throw e;
  }
}
