import {
  type CaptureFile,
  type CaptureInterface,
  ChunkedOutput,
  type ChunkOptions,
  DEFAULT_SNAPLEN,
  DIR_UNKNOWN,
  isPcap,
  LINKTYPE_RAW,
  type PacketSink,
  readPcap,
} from './pcap.js';

/**
 * pcapng (draft-ietf-opsawg-pcapng), writer and reader. The writer emits a
 * Section Header Block, one Interface Description Block per interface
 * (LINKTYPE_RAW, if_tsresol = 9: nanosecond timestamps, if_name when given)
 * and one Enhanced Packet Block per packet, with epb_flags carrying the
 * direction (inbound/outbound) when known. Little-endian, like every
 * capture tool writes on x86 and ARM.
 */

const BT_SHB = 0x0a0d0d0a;
const BT_IDB = 0x00000001;
const BT_SPB = 0x00000003;
const BT_EPB = 0x00000006;
const BOM = 0x1a2b3c4d;

const OPT_END = 0;
const IF_NAME = 2;
const IF_TSRESOL = 9;
const EPB_FLAGS = 2;
const SHB_USERAPPL = 4;

const TWO32 = 4294967296;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export interface PcapngWriterOptions extends ChunkOptions {
  /** Snaplen of every interface (default 262144). */
  snaplen?: number;
  /** Link type of every interface (default LINKTYPE_RAW, 101). */
  linktype?: number;
  /** shb_userappl: the application that wrote the file. Default 'usnet'. */
  application?: string;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

export class PcapngWriter extends ChunkedOutput implements PacketSink {
  readonly snaplen: number;
  readonly linktype: number;
  private interfaces = 0;
  /** Packets recorded. */
  count = 0;

  constructor(opts: PcapngWriterOptions = {}) {
    super(opts);
    this.snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
    this.linktype = opts.linktype ?? LINKTYPE_RAW;
    const app = textEncoder.encode(opts.application ?? 'usnet');
    const optLen = 4 + pad4(app.length) + 4;
    const total = 28 + optLen;
    this.reserve(total);
    const v = this.view;
    const o = this.pos;
    v.setUint32(o, BT_SHB, true);
    v.setUint32(o + 4, total, true);
    v.setUint32(o + 8, BOM, true);
    v.setUint16(o + 12, 1, true); // version 1.0
    v.setUint16(o + 14, 0, true);
    // Section length unknown (-1): we stream and cannot seek back.
    v.setUint32(o + 16, 0xffffffff, true);
    v.setUint32(o + 20, 0xffffffff, true);
    let p = o + 24;
    p = this.option(p, SHB_USERAPPL, app);
    v.setUint32(p, OPT_END, true); // opt_endofopt: code 0, length 0
    p += 4;
    v.setUint32(p, total, true);
    this.advancePos(total);
  }

  private option(p: number, code: number, value: Uint8Array): number {
    const v = this.view;
    v.setUint16(p, code, true);
    v.setUint16(p + 2, value.length, true);
    this.buf.set(value, p + 4);
    this.buf.fill(0, p + 4 + value.length, p + 4 + pad4(value.length));
    return p + 4 + pad4(value.length);
  }

  /** Write an Interface Description Block; returns its id. */
  addInterface(name?: string): number {
    const nameBytes = name === undefined ? null : textEncoder.encode(name);
    const optLen = (nameBytes === null ? 0 : 4 + pad4(nameBytes.length)) + 8 + 4;
    const total = 20 + optLen;
    this.reserve(total);
    const v = this.view;
    const o = this.pos;
    v.setUint32(o, BT_IDB, true);
    v.setUint32(o + 4, total, true);
    v.setUint16(o + 8, this.linktype, true);
    v.setUint16(o + 10, 0, true);
    v.setUint32(o + 12, this.snaplen, true);
    let p = o + 16;
    if (nameBytes !== null) p = this.option(p, IF_NAME, nameBytes);
    p = this.option(p, IF_TSRESOL, TSRESOL_NS);
    v.setUint32(p, OPT_END, true);
    p += 4;
    v.setUint32(p, total, true);
    this.advancePos(total);
    return this.interfaces++;
  }

  writePacket(timeMs: number, data: Uint8Array, iface = 0, dir = DIR_UNKNOWN, origLen = data.length): void {
    if (!(timeMs >= 0) || !Number.isFinite(timeMs))
      throw new RangeError(`pcapng: bad timestamp ${timeMs} ms`);
    // The first packet on a writer nobody declared interfaces on gets a default one.
    if (this.interfaces === 0) this.addInterface();
    if (!(iface >= 0 && iface < this.interfaces)) throw new RangeError(`pcapng: no interface ${iface}`);
    const incl = Math.min(data.length, this.snaplen);
    const optLen = dir !== DIR_UNKNOWN ? 12 : 0; // epb_flags (4 + 4) + opt_endofopt (4)
    const total = 32 + pad4(incl) + optLen;
    this.reserve(total);
    const v = this.view;
    const o = this.pos;
    v.setUint32(o, BT_EPB, true);
    v.setUint32(o + 4, total, true);
    v.setUint32(o + 8, iface, true);
    // Timestamp in ns as two 32-bit halves (high first), exact up to 2^53 ns
    // with plain numbers, beyond that (wall-clock times) through BigInt.
    const msInt = Math.floor(timeMs);
    let fracNs = Math.round((timeMs - msInt) * 1e6);
    let ms = msInt;
    if (fracNs >= 1e6) {
      ms++;
      fracNs -= 1e6;
    }
    let hi: number;
    let lo: number;
    if (ms < 9e9) {
      const ns = ms * 1e6 + fracNs;
      hi = Math.floor(ns / TWO32);
      lo = ns - hi * TWO32;
    } else {
      const ns = BigInt(ms) * 1000000n + BigInt(fracNs);
      hi = Number(ns >> 32n);
      lo = Number(ns & 0xffffffffn);
    }
    v.setUint32(o + 12, hi, true);
    v.setUint32(o + 16, lo, true);
    v.setUint32(o + 20, incl, true);
    v.setUint32(o + 24, Math.max(origLen, incl), true);
    this.buf.set(incl === data.length ? data : data.subarray(0, incl), o + 28);
    let p = o + 28 + incl;
    const padded = o + 28 + pad4(incl);
    this.buf.fill(0, p, padded);
    p = padded;
    if (optLen > 0) {
      v.setUint16(p, EPB_FLAGS, true);
      v.setUint16(p + 2, 4, true);
      v.setUint32(p + 4, dir & 3, true); // bits 0-1: 01 inbound, 10 outbound
      v.setUint32(p + 8, OPT_END, true);
      p += 12;
    }
    v.setUint32(p, total, true);
    this.advancePos(total);
    this.count++;
  }
}

const TSRESOL_NS = new Uint8Array([9]);

/**
 * Parse a pcapng file (either byte order, several sections, any if_tsresol).
 * Unknown block types are skipped. Never throws: malformed input gives
 * `error` ('bad-format', 'truncated') with the records before it.
 */
export function readPcapng(bytes: Uint8Array): CaptureFile {
  const out: CaptureFile = { format: 'pcapng', interfaces: [], records: [], error: null, errorOffset: 0 };
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let le = true;
  let section: CaptureInterface[] = [];
  let ifBase = 0; // index in out.interfaces of this section's interface 0
  let off = 0;
  const fail = (e: 'bad-format' | 'truncated'): CaptureFile => {
    out.error = e;
    out.errorOffset = off;
    return out;
  };
  while (off < bytes.length) {
    if (bytes.length - off < 12) return fail('truncated');
    const rawType = v.getUint32(off, true);
    if (rawType === BT_SHB) {
      // The byte-order magic decides how this section is read.
      if (bytes.length - off < 28) return fail('truncated');
      const bom = v.getUint32(off + 8, true);
      if (bom === BOM) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      else return fail('bad-format');
      if (v.getUint16(off + 12, le) !== 1) return fail('bad-format');
      section = [];
      ifBase = out.interfaces.length;
    } else if (off === 0) {
      return fail('bad-format');
    }
    const type = v.getUint32(off, le);
    const total = v.getUint32(off + 4, le);
    if (total < 12 || total % 4 !== 0) return fail('bad-format');
    if (total > bytes.length - off) return fail('truncated');
    if (v.getUint32(off + total - 4, le) !== total) return fail('bad-format');
    const body = off + 8;
    const bodyEnd = off + total - 4;
    if (type === BT_IDB) {
      if (bodyEnd - body < 8) return fail('bad-format');
      const itf: CaptureInterface = {
        linktype: v.getUint16(body, le),
        snaplen: v.getUint32(body + 4, le),
        name: null,
        unitsPerSec: 1e6, // default if_tsresol: 6 (µs)
      };
      const ok = walkOptions(v, body + 8, bodyEnd, le, (code, p, len) => {
        if (code === IF_NAME) itf.name = textDecoder.decode(bytes.subarray(p, p + len));
        else if (code === IF_TSRESOL && len >= 1) {
          const r = bytes[p];
          itf.unitsPerSec = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
        }
      });
      if (!ok) return fail('bad-format');
      section.push(itf);
      out.interfaces.push(itf);
    } else if (type === BT_EPB) {
      if (bodyEnd - body < 20) return fail('bad-format');
      const ifId = v.getUint32(body, le);
      if (ifId >= section.length) return fail('bad-format');
      const hi = v.getUint32(body + 4, le);
      const lo = v.getUint32(body + 8, le);
      const incl = v.getUint32(body + 12, le);
      const orig = v.getUint32(body + 16, le);
      const dataStart = body + 20;
      if (incl > bodyEnd - dataStart) return fail('bad-format');
      let dir = DIR_UNKNOWN;
      const ok = walkOptions(v, dataStart + pad4(incl), bodyEnd, le, (code, p, len) => {
        if (code === EPB_FLAGS && len >= 4) dir = v.getUint32(p, le) & 3;
      });
      if (!ok) return fail('bad-format');
      out.records.push({
        timeMs: unitsToMs(hi, lo, section[ifId].unitsPerSec),
        data: bytes.subarray(dataStart, dataStart + incl),
        origLen: Math.max(orig, incl),
        iface: ifBase + ifId,
        dir,
      });
    } else if (type === BT_SPB) {
      if (section.length === 0 || bodyEnd - body < 4) return fail('bad-format');
      const orig = v.getUint32(body, le);
      const incl = Math.min(orig, section[0].snaplen || orig, bodyEnd - body - 4);
      out.records.push({
        timeMs: Number.NaN,
        data: bytes.subarray(body + 4, body + 4 + incl),
        origLen: orig,
        iface: ifBase,
        dir: DIR_UNKNOWN,
      });
    }
    off += total;
  }
  return out;
}

/** Timestamp (two 32-bit halves, in units of 1/unitsPerSec s) to ms. */
function unitsToMs(hi: number, lo: number, unitsPerSec: number): number {
  const units = hi * TWO32 + lo;
  if (units <= Number.MAX_SAFE_INTEGER) {
    if (unitsPerSec === 1e9) return units / 1e6;
    if (unitsPerSec === 1e6) return units / 1e3;
    return (units * 1000) / unitsPerSec;
  }
  // Beyond 2^53 units (wall-clock ns): split exactly with BigInt.
  const u = (BigInt(hi) << 32n) | BigInt(lo);
  if (unitsPerSec === 1e9) return Number(u / 1000000n) + Number(u % 1000000n) / 1e6;
  return (Number(u) * 1000) / unitsPerSec;
}

/** Visit the options in [p, end); false if they are malformed. */
function walkOptions(
  v: DataView,
  p: number,
  end: number,
  le: boolean,
  visit: (code: number, valueOff: number, len: number) => void,
): boolean {
  while (p < end) {
    if (end - p < 4) return false;
    const code = v.getUint16(p, le);
    const len = v.getUint16(p + 2, le);
    if (code === OPT_END) return true;
    if (pad4(len) > end - p - 4) return false;
    visit(code, p + 4, len);
    p += 4 + pad4(len);
  }
  return true;
}

/** True if the bytes start like a pcapng file. */
export function isPcapng(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 && bytes[0] === 0x0a && bytes[1] === 0x0d && bytes[2] === 0x0d && bytes[3] === 0x0a
  );
}

/** Read a pcap or pcapng capture, whichever it is. */
export function readCapture(bytes: Uint8Array): CaptureFile {
  if (isPcapng(bytes)) return readPcapng(bytes);
  if (isPcap(bytes)) return readPcap(bytes);
  const r = readPcap(bytes);
  if (r.error === null) r.error = 'bad-format';
  return r;
}
