/**
 * TCP options (RFC 9293 §3.2, RFC 7323 window scale and timestamps, RFC 2018
 * SACK): a walker that decodes into `TcpHeader` fields, one that keeps the
 * ordered list (NOPs included) for tools like the packetdrill runner, and
 * writers for each option plus Linux's standard layouts.
 *
 * Malformed option lengths are errors ('bad-option'): a length byte missing,
 * below 2, running past the option space, or of the wrong size for a known
 * kind. Unknown kinds are skipped by their length. Linux does not drop a
 * segment for such options: it stops parsing at a bad length and ignores a
 * known option of the wrong size. `parseTcp` therefore still fills the whole
 * header on 'bad-option', with the option fields Linux would have used, and
 * TCP input decides (see parseTcpOptionsInto).
 */
import type { WireError } from './errors.js';
import type { TcpHeader } from './tcp.js';

export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MSS = 2;
export const TCPOPT_WSCALE = 3;
export const TCPOPT_SACK_PERM = 4;
export const TCPOPT_SACK = 5;
export const TCPOPT_TIMESTAMP = 8;

export const TCPOLEN_MSS = 4;
export const TCPOLEN_WSCALE = 3;
export const TCPOLEN_SACK_PERM = 2;
export const TCPOLEN_TIMESTAMP = 10;
/** SACK option: 2 bytes of kind+length, then 8 bytes per block. */
export const TCPOLEN_SACK_BASE = 2;
export const TCPOLEN_SACK_PERBLOCK = 8;
/** At most 4 blocks fit in 40 bytes of option space (RFC 2018 §3). */
export const TCP_MAX_SACK_BLOCKS = 4;

/** One option in wire order, as `parseTcpOptionList` returns and `emitTcp` accepts. */
export type TcpOption =
  /** End of option list; `len` = bytes from the EOL to the end of the option space (default 1), all zero. */
  | { kind: 'eol'; len?: number }
  | { kind: 'nop' }
  | { kind: 'mss'; mss: number }
  | { kind: 'wscale'; shift: number }
  | { kind: 'sackOk' }
  /** Blocks as [left0, right0, left1, right1, ...] (1..4 blocks). */
  | { kind: 'sack'; blocks: number[] }
  | { kind: 'ts'; val: number; ecr: number }
  /** Any other kind: `data` is the option body after kind and length bytes. */
  | { kind: 'unknown'; code: number; data: Uint8Array };

function u32At(buf: Uint8Array, i: number): number {
  return ((buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3]) >>> 0;
}

function put32(buf: Uint8Array, i: number, v: number): void {
  buf[i] = v >>> 24;
  buf[i + 1] = v >>> 16;
  buf[i + 2] = v >>> 8;
  buf[i + 3] = v;
}

/** Set the option fields of `h` to "absent". */
export function resetTcpOptions(h: TcpHeader): void {
  h.mss = -1;
  h.wscale = -1;
  h.sackOk = false;
  h.hasTs = false;
  h.tsVal = 0;
  h.tsEcr = 0;
  h.sackCount = 0;
  h.unknownOptions = 0;
}

/**
 * Length check for the list walker: for the option at `i` (kind ≥ 2), its
 * total length, or -1 when malformed. Known kinds must have their fixed
 * size; SACK must be 2 + 8n with n ≥ 1 (n ≤ 4 follows from the 40-byte space).
 */
function optionLen(buf: Uint8Array, i: number, end: number): number {
  if (i + 1 >= end) return -1;
  const kind = buf[i];
  const olen = buf[i + 1];
  if (olen < 2 || i + olen > end) return -1;
  switch (kind) {
    case 2: // MSS
      return olen === 4 ? olen : -1;
    case 3: // window scale
      return olen === 3 ? olen : -1;
    case 4: // SACK permitted
      return olen === 2 ? olen : -1;
    case 8: // timestamps
      return olen === 10 ? olen : -1;
    case 5: // SACK: 2 + 8n, n >= 1
      return olen >= 10 && ((olen - 2) & 7) === 0 ? olen : -1;
    default:
      return olen;
  }
}

/**
 * Walk the options in `buf[off .. end)` into the option fields of `h` (which
 * the caller has reset). A repeated option overwrites the earlier one. The walk
 * stops at EOL; bytes after it are padding and not inspected.
 *
 * Returns 'bad-option' if any option is malformed, but leaves in `h` exactly
 * what Linux would act on, so TCP input can choose Linux's leniency (Linux
 * processes such segments): a missing length byte, a length < 2 or one that
 * overruns the option space ends the walk (options before it are kept); a
 * known kind of the wrong size is skipped by its length and the walk goes on.
 * (Kinds are literal numbers here: this is the per-packet path, and in Node 20
 * each read of a module-level const costs a context load and a TDZ check.)
 */
export function parseTcpOptionsInto(
  buf: Uint8Array,
  off: number,
  end: number,
  h: TcpHeader,
): WireError | null {
  let err: WireError | null = null;
  let i = off;
  while (i < end) {
    const kind = buf[i];
    if (kind === 0) break; // EOL
    if (kind === 1) {
      // NOP
      i++;
      continue;
    }
    if (i + 1 >= end) return 'bad-option';
    const olen = buf[i + 1];
    if (olen < 2 || i + olen > end) return 'bad-option';
    switch (kind) {
      case 2: // MSS
        if (olen === 4) h.mss = (buf[i + 2] << 8) | buf[i + 3];
        else err = 'bad-option';
        break;
      case 3: // window scale
        if (olen === 3) h.wscale = buf[i + 2];
        else err = 'bad-option';
        break;
      case 4: // SACK permitted
        if (olen === 2) h.sackOk = true;
        else err = 'bad-option';
        break;
      case 8: // timestamps
        if (olen === 10) {
          h.hasTs = true;
          h.tsVal = u32At(buf, i + 2);
          h.tsEcr = u32At(buf, i + 6);
        } else {
          err = 'bad-option';
        }
        break;
      case 5: {
        // SACK: 2 + 8n bytes, n >= 1
        if (olen < 10 || ((olen - 2) & 7) !== 0) {
          err = 'bad-option';
          break;
        }
        const n = (olen - 2) >>> 3;
        const blocks = h.sackBlocks;
        for (let b = 0; b < n; b++) {
          blocks[2 * b] = u32At(buf, i + 2 + 8 * b);
          blocks[2 * b + 1] = u32At(buf, i + 6 + 8 * b);
        }
        h.sackCount = n;
        break;
      }
      default:
        h.unknownOptions++;
    }
    i += olen;
  }
  return err;
}

/**
 * The options in `buf[off .. off+len)` as an ordered list, NOPs and EOL
 * included (an EOL records how many bytes remain from it to the end). Returns
 * a WireError instead of a list when an option length is malformed.
 * Allocates: meant for tools (drill runner, pretty printers), not the packet path.
 */
export function parseTcpOptionList(buf: Uint8Array, off: number, len: number): TcpOption[] | WireError {
  if (off < 0 || len < 0 || off + len > buf.length) return 'truncated';
  const end = off + len;
  const list: TcpOption[] = [];
  let i = off;
  while (i < end) {
    const kind = buf[i];
    if (kind === TCPOPT_EOL) {
      list.push(end - i === 1 ? { kind: 'eol' } : { kind: 'eol', len: end - i });
      break;
    }
    if (kind === TCPOPT_NOP) {
      list.push({ kind: 'nop' });
      i++;
      continue;
    }
    const olen = optionLen(buf, i, end);
    if (olen < 0) return 'bad-option';
    switch (kind) {
      case TCPOPT_MSS:
        list.push({ kind: 'mss', mss: (buf[i + 2] << 8) | buf[i + 3] });
        break;
      case TCPOPT_WSCALE:
        list.push({ kind: 'wscale', shift: buf[i + 2] });
        break;
      case TCPOPT_SACK_PERM:
        list.push({ kind: 'sackOk' });
        break;
      case TCPOPT_TIMESTAMP:
        list.push({ kind: 'ts', val: u32At(buf, i + 2), ecr: u32At(buf, i + 6) });
        break;
      case TCPOPT_SACK: {
        const blocks: number[] = [];
        for (let p = i + 2; p < i + olen; p += 4) blocks.push(u32At(buf, p));
        list.push({ kind: 'sack', blocks });
        break;
      }
      default:
        list.push({ kind: 'unknown', code: kind, data: buf.slice(i + 2, i + olen) });
    }
    i += olen;
  }
  return list;
}

/** Bytes one option takes on the wire. */
export function tcpOptionLen(o: TcpOption): number {
  switch (o.kind) {
    case 'eol':
      return o.len ?? 1;
    case 'nop':
      return 1;
    case 'mss':
      return TCPOLEN_MSS;
    case 'wscale':
      return TCPOLEN_WSCALE;
    case 'sackOk':
      return TCPOLEN_SACK_PERM;
    case 'sack':
      return TCPOLEN_SACK_BASE + 4 * o.blocks.length;
    case 'ts':
      return TCPOLEN_TIMESTAMP;
    case 'unknown':
      return 2 + o.data.length;
  }
}

/** Total bytes of a list of options, before padding to a multiple of 4. */
export function tcpOptionListLen(opts: readonly TcpOption[]): number {
  let n = 0;
  for (const o of opts) n += tcpOptionLen(o);
  return n;
}

// Writers: each writes one option at buf[off] and returns the offset after it.

export function writeNop(buf: Uint8Array, off: number): number {
  buf[off] = TCPOPT_NOP;
  return off + 1;
}

export function writeEol(buf: Uint8Array, off: number): number {
  buf[off] = TCPOPT_EOL;
  return off + 1;
}

export function writeMss(buf: Uint8Array, off: number, mss: number): number {
  buf[off] = TCPOPT_MSS;
  buf[off + 1] = TCPOLEN_MSS;
  buf[off + 2] = mss >>> 8;
  buf[off + 3] = mss;
  return off + 4;
}

export function writeWscale(buf: Uint8Array, off: number, shift: number): number {
  buf[off] = TCPOPT_WSCALE;
  buf[off + 1] = TCPOLEN_WSCALE;
  buf[off + 2] = shift;
  return off + 3;
}

export function writeSackPerm(buf: Uint8Array, off: number): number {
  buf[off] = TCPOPT_SACK_PERM;
  buf[off + 1] = TCPOLEN_SACK_PERM;
  return off + 2;
}

export function writeTs(buf: Uint8Array, off: number, tsVal: number, tsEcr: number): number {
  buf[off] = TCPOPT_TIMESTAMP;
  buf[off + 1] = TCPOLEN_TIMESTAMP;
  put32(buf, off + 2, tsVal);
  put32(buf, off + 6, tsEcr);
  return off + 10;
}

/** SACK option with `count` blocks taken from `blocks` ([left, right] pairs, as TcpHeader.sackBlocks). */
export function writeSack(buf: Uint8Array, off: number, blocks: ArrayLike<number>, count: number): number {
  buf[off] = TCPOPT_SACK;
  buf[off + 1] = TCPOLEN_SACK_BASE + TCPOLEN_SACK_PERBLOCK * count;
  let o = off + 2;
  for (let i = 0; i < 2 * count; i++, o += 4) put32(buf, o, blocks[i]);
  return o;
}

/** Write an ordered list of options; returns the offset after the last (no padding added). */
export function writeTcpOptionList(opts: readonly TcpOption[], buf: Uint8Array, off: number): number {
  let o = off;
  for (const opt of opts) {
    switch (opt.kind) {
      case 'eol': {
        const n = opt.len ?? 1;
        for (let k = 0; k < n; k++) buf[o++] = 0;
        break;
      }
      case 'nop':
        o = writeNop(buf, o);
        break;
      case 'mss':
        o = writeMss(buf, o, opt.mss);
        break;
      case 'wscale':
        o = writeWscale(buf, o, opt.shift);
        break;
      case 'sackOk':
        o = writeSackPerm(buf, o);
        break;
      case 'sack':
        buf[o] = TCPOPT_SACK;
        buf[o + 1] = TCPOLEN_SACK_BASE + 4 * opt.blocks.length;
        o += 2;
        for (const v of opt.blocks) {
          put32(buf, o, v);
          o += 4;
        }
        break;
      case 'ts':
        o = writeTs(buf, o, opt.val, opt.ecr);
        break;
      case 'unknown':
        buf[o] = opt.code;
        buf[o + 1] = 2 + opt.data.length;
        buf.set(opt.data, o + 2);
        o += 2 + opt.data.length;
        break;
    }
  }
  return o;
}

/**
 * Bytes `writeLinuxOptions` writes for the option fields of `h` (always a
 * multiple of 4). TCP output uses it to size segments: MSS minus this is the
 * payload room.
 */
export function linuxOptionsLen(h: TcpHeader): number {
  let n = 0;
  if (h.mss >= 0) n += 4;
  if (h.hasTs) n += 12;
  else if (h.sackOk) n += 4;
  if (h.wscale >= 0) n += 4;
  if (h.sackCount > 0) n += 4 + TCPOLEN_SACK_PERBLOCK * h.sackCount;
  return n;
}

/**
 * Write the option fields of `h` in the layout Linux uses (observed on the
 * wire from Linux 6.x; every option 32-bit aligned with NOP padding):
 *
 *   MSS              02 04 mm mm                        (h.mss >= 0)
 *   TS + SACK-perm   04 02 08 0a <tsval> <tsecr>        (h.hasTs && h.sackOk)
 *   TS               01 01 08 0a <tsval> <tsecr>        (h.hasTs)
 *   SACK-perm        01 01 04 02                        (h.sackOk && !h.hasTs)
 *   window scale     01 03 03 ss                        (h.wscale >= 0)
 *   SACK blocks      01 01 05 ll <left right>...        (h.sackCount > 0)
 *
 * So a Linux SYN is `mss, sackOK, TS, nop, wscale` (20 bytes), or without
 * timestamps `mss, nop, nop, sackOK, nop, wscale`; a data segment is
 * `nop, nop, TS` and with SACK `nop, nop, TS, nop, nop, sack`. Set only the
 * fields the segment should carry (a data segment: mss = -1, wscale = -1,
 * sackOk = false). Returns the offset after the options.
 */
export function writeLinuxOptions(h: TcpHeader, buf: Uint8Array, off: number): number {
  let o = off;
  if (h.mss >= 0) o = writeMss(buf, o, h.mss);
  if (h.hasTs) {
    if (h.sackOk) {
      o = writeSackPerm(buf, o);
    } else {
      buf[o++] = TCPOPT_NOP;
      buf[o++] = TCPOPT_NOP;
    }
    o = writeTs(buf, o, h.tsVal, h.tsEcr);
  } else if (h.sackOk) {
    buf[o++] = TCPOPT_NOP;
    buf[o++] = TCPOPT_NOP;
    o = writeSackPerm(buf, o);
  }
  if (h.wscale >= 0) {
    buf[o++] = TCPOPT_NOP;
    o = writeWscale(buf, o, h.wscale);
  }
  if (h.sackCount > 0) {
    buf[o++] = TCPOPT_NOP;
    buf[o++] = TCPOPT_NOP;
    o = writeSack(buf, o, h.sackBlocks, h.sackCount);
  }
  return o;
}
