import type { WireError } from './errors.js';

/**
 * Classic pcap (libpcap "tcpdump" format, draft-ietf-opsawg-pcap), writer and
 * reader. usnet's links carry raw IP, so captures use LINKTYPE_RAW (101):
 * each record is an IPv4 or IPv6 packet, told apart by its version nibble.
 *
 * The writer produces Uint8Array chunks (browser-clean: no files here); the
 * Node helper in src/node/pcap-file.ts streams them to disk. Output is the
 * standard little-endian form: magic 0xa1b2c3d4 (µs timestamps), version
 * 2.4, snaplen 262144, link type 101, which tcpdump, tshark and Wireshark
 * read as is.
 */

export const LINKTYPE_RAW = 101;
/** libpcap's default snapshot length since 4.x (MAXIMUM_SNAPLEN). */
export const DEFAULT_SNAPLEN = 262144;

/** Packet direction as pcapng's epb_flags records it. */
export const DIR_UNKNOWN = 0;
export const DIR_IN = 1;
export const DIR_OUT = 2;

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;

/** What a capture tap writes into: a pcap or a pcapng writer. */
export interface PacketSink {
  /** Declare an interface; returns the id to pass to writePacket. pcap has one (0). */
  addInterface(name?: string): number;
  /**
   * Record one packet seen at `timeMs` (the stack's clock, ms). `data` is
   * copied into the capture before returning. `dir`: DIR_IN / DIR_OUT /
   * DIR_UNKNOWN (kept by pcapng, dropped by pcap). `origLen`: the length on
   * the wire when `data` is already cut short.
   */
  writePacket(timeMs: number, data: Uint8Array, iface?: number, dir?: number, origLen?: number): void;
}

export interface ChunkOptions {
  /**
   * Called with each finished chunk of file bytes, in order; the chunk is the
   * receiver's to keep. Without it, chunks are kept and toBytes() returns
   * the whole capture.
   */
  onChunk?: (chunk: Uint8Array) => void;
  /** Size of the buffers records are packed into (default 64 KiB). */
  chunkSize?: number;
}

/** A growable output of byte chunks shared by the pcap and pcapng writers. */
export class ChunkedOutput {
  protected buf: Uint8Array;
  protected view: DataView;
  protected pos = 0;
  private readonly chunks: Uint8Array[] = [];
  private readonly onChunk: ((chunk: Uint8Array) => void) | null;
  private readonly chunkSize: number;
  /** Bytes written so far (flushed or not). */
  byteLength = 0;

  constructor(opts: ChunkOptions = {}) {
    this.onChunk = opts.onChunk ?? null;
    this.chunkSize = Math.max(256, opts.chunkSize ?? 65536);
    this.buf = new Uint8Array(this.chunkSize);
    this.view = new DataView(this.buf.buffer);
  }

  /** Make room for `n` more bytes at `pos`, handing the full buffer on if needed. */
  protected reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    if (this.pos > 0) this.emit(this.buf.subarray(0, this.pos));
    this.buf = new Uint8Array(Math.max(this.chunkSize, n));
    this.view = new DataView(this.buf.buffer);
    this.pos = 0;
  }

  protected advancePos(n: number): void {
    this.pos += n;
    this.byteLength += n;
  }

  private emit(chunk: Uint8Array): void {
    if (this.onChunk !== null) this.onChunk(chunk);
    else this.chunks.push(chunk);
  }

  /** Hand over everything written so far (to onChunk, or to the kept chunks). */
  flush(): void {
    if (this.pos === 0) return;
    this.emit(this.buf.slice(0, this.pos));
    this.pos = 0;
  }

  /** The whole capture as one array (only without onChunk). */
  toBytes(): Uint8Array {
    if (this.onChunk !== null) throw new Error('toBytes(): this writer streams to onChunk');
    this.flush();
    const out = new Uint8Array(this.byteLength);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}

export interface PcapWriterOptions extends ChunkOptions {
  /** Default 262144. Longer packets are cut to it (orig_len keeps the real size). */
  snaplen?: number;
  /** Default LINKTYPE_RAW (101). */
  linktype?: number;
  /** Nanosecond timestamps (magic 0xa1b23c4d) instead of microseconds. Default false. */
  nanos?: boolean;
}

/** Split a time in ms into whole seconds and a sub-second count of 1/`per` s, rounded. */
function splitTime(timeMs: number, per: number): [number, number] {
  if (!(timeMs >= 0) || !Number.isFinite(timeMs)) throw new RangeError(`capture: bad timestamp ${timeMs} ms`);
  let sec = Math.floor(timeMs / 1000);
  let sub = Math.round((timeMs - sec * 1000) * (per / 1000));
  if (sub >= per) {
    sec++;
    sub -= per;
  }
  if (sec > 0xffffffff) throw new RangeError(`pcap: timestamp ${timeMs} ms does not fit 32-bit seconds`);
  return [sec, sub];
}

export class PcapWriter extends ChunkedOutput implements PacketSink {
  readonly snaplen: number;
  readonly linktype: number;
  readonly nanos: boolean;
  /** Packets recorded. */
  count = 0;

  constructor(opts: PcapWriterOptions = {}) {
    super(opts);
    this.snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
    this.linktype = opts.linktype ?? LINKTYPE_RAW;
    this.nanos = opts.nanos ?? false;
    this.reserve(24);
    const v = this.view;
    const o = this.pos;
    v.setUint32(o, this.nanos ? PCAP_MAGIC_NS : PCAP_MAGIC_US, true);
    v.setUint16(o + 4, 2, true); // version 2.4
    v.setUint16(o + 6, 4, true);
    v.setInt32(o + 8, 0, true); // thiszone: timestamps are UTC
    v.setUint32(o + 12, 0, true); // sigfigs
    v.setUint32(o + 16, this.snaplen, true);
    v.setUint32(o + 20, this.linktype, true);
    this.advancePos(24);
  }

  addInterface(_name?: string): number {
    return 0;
  }

  writePacket(timeMs: number, data: Uint8Array, _iface = 0, _dir = DIR_UNKNOWN, origLen = data.length): void {
    const [sec, sub] = splitTime(timeMs, this.nanos ? 1e9 : 1e6);
    const incl = Math.min(data.length, this.snaplen);
    this.reserve(16 + incl);
    const v = this.view;
    const o = this.pos;
    v.setUint32(o, sec, true);
    v.setUint32(o + 4, sub, true);
    v.setUint32(o + 8, incl, true);
    v.setUint32(o + 12, Math.max(origLen, incl), true);
    this.buf.set(incl === data.length ? data : data.subarray(0, incl), o + 16);
    this.advancePos(16 + incl);
    this.count++;
  }
}

/** One packet read back from a capture. */
export interface CaptureRecord {
  /** Time in ms (NaN for pcapng simple packet blocks, which carry none). */
  timeMs: number;
  /** The captured bytes: a view into the capture buffer, not a copy. */
  data: Uint8Array;
  /** Length on the wire (>= data.length). */
  origLen: number;
  /** Interface id (pcapng); 0 for pcap. */
  iface: number;
  /** DIR_IN / DIR_OUT / DIR_UNKNOWN. */
  dir: number;
}

export interface CaptureInterface {
  linktype: number;
  snaplen: number;
  name: string | null;
  /** Timestamp units per second (1e6 for pcap, 1e9 for ns). */
  unitsPerSec: number;
}

/** A capture read back: everything parsed up to the first error, and that error (or null). */
export interface CaptureFile {
  format: 'pcap' | 'pcapng';
  interfaces: CaptureInterface[];
  records: CaptureRecord[];
  error: WireError | null;
  /** Byte offset where parsing stopped on error. */
  errorOffset: number;
}

/**
 * Parse a classic pcap file (either byte order, µs or ns). Never throws:
 * malformed input gives `error` ('bad-format', 'truncated') with the records
 * before it.
 */
export function readPcap(bytes: Uint8Array): CaptureFile {
  const out: CaptureFile = { format: 'pcap', interfaces: [], records: [], error: null, errorOffset: 0 };
  if (bytes.length < 24) {
    out.error = bytes.length < 4 ? 'truncated' : 'bad-format';
    if (bytes.length >= 4 && magicKind(bytes) !== null) out.error = 'truncated';
    return out;
  }
  const kind = magicKind(bytes);
  if (kind === null) {
    out.error = 'bad-format';
    return out;
  }
  const [le, per] = kind;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const snaplen = v.getUint32(16, le);
  // The top bits of the link type field may carry FCS info (LINKTYPE_FCS); mask them off.
  const linktype = v.getUint32(20, le) & 0x0fffffff;
  out.interfaces.push({ linktype, snaplen, name: null, unitsPerSec: per });
  let off = 24;
  while (off < bytes.length) {
    if (bytes.length - off < 16) {
      out.error = 'truncated';
      out.errorOffset = off;
      return out;
    }
    const sec = v.getUint32(off, le);
    const sub = v.getUint32(off + 4, le);
    const incl = v.getUint32(off + 8, le);
    const orig = v.getUint32(off + 12, le);
    if (sub >= per || incl > Math.max(snaplen, DEFAULT_SNAPLEN)) {
      out.error = 'bad-format';
      out.errorOffset = off;
      return out;
    }
    if (bytes.length - off - 16 < incl) {
      out.error = 'truncated';
      out.errorOffset = off;
      return out;
    }
    out.records.push({
      timeMs: sec * 1000 + (sub * 1000) / per,
      data: bytes.subarray(off + 16, off + 16 + incl),
      origLen: Math.max(orig, incl),
      iface: 0,
      dir: DIR_UNKNOWN,
    });
    off += 16 + incl;
  }
  return out;
}

/** [littleEndian, unitsPerSec] for a pcap magic number, or null. */
function magicKind(bytes: Uint8Array): [boolean, number] | null {
  const le = (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24)) >>> 0;
  const be = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  if (le === PCAP_MAGIC_US) return [true, 1e6];
  if (le === PCAP_MAGIC_NS) return [true, 1e9];
  if (be === PCAP_MAGIC_US) return [false, 1e6];
  if (be === PCAP_MAGIC_NS) return [false, 1e9];
  return null;
}

/** True if the bytes start like a classic pcap file. */
export function isPcap(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && magicKind(bytes) !== null;
}
