import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { type CaptureFile, type PacketSink, PcapWriter, type PcapWriterOptions } from '../wire/pcap.js';
import { PcapngWriter, type PcapngWriterOptions, readCapture } from '../wire/pcapng.js';

export type CaptureFormat = 'pcap' | 'pcapng';

/**
 * A capture streamed to a file: the browser-clean writers hand their chunks
 * to this class, which appends them with synchronous writes (captures are a
 * debugging aid; simplicity beats throughput here). Call close() to flush.
 *
 *   const cap = new CaptureFileWriter('/tmp/a.pcap');
 *   const link = new PcapTap(wire.a, cap.writer, world.clock, 'eth0');
 *   ...
 *   cap.close();
 */
export class CaptureFileWriter {
  readonly writer: (PcapWriter | PcapngWriter) & PacketSink;
  private fd: number | null;

  constructor(
    readonly path: string,
    opts: { format?: CaptureFormat } & Omit<PcapWriterOptions & PcapngWriterOptions, 'onChunk'> = {},
  ) {
    const format = opts.format ?? (path.endsWith('.pcapng') ? 'pcapng' : 'pcap');
    const fd = openSync(path, 'w');
    this.fd = fd;
    const onChunk = (chunk: Uint8Array): void => {
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
    };
    this.writer =
      format === 'pcapng' ? new PcapngWriter({ ...opts, onChunk }) : new PcapWriter({ ...opts, onChunk });
  }

  /** Push buffered records to the file (they are also pushed whenever a chunk fills). */
  flush(): void {
    if (this.fd !== null) this.writer.flush();
  }

  close(): void {
    if (this.fd === null) return;
    this.writer.flush();
    closeSync(this.fd);
    this.fd = null;
  }
}

/** Write a finished in-memory capture (a writer without onChunk) to a file. */
export function saveCapture(path: string, writer: PcapWriter | PcapngWriter): void {
  const bytes = writer.toBytes();
  const fd = openSync(path, 'w');
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
  } finally {
    closeSync(fd);
  }
}

/** Read a pcap or pcapng file. */
export function readCaptureFile(path: string): CaptureFile {
  const b = readFileSync(path);
  return readCapture(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
}
