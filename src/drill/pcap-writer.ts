/**
 * A pcap file of a drill run: every packet injected and every packet the
 * local host sent, stamped with script time (link type RAW, 101: IP packets
 * with no link header, as a TUN device carries them).
 */
import { closeSync, openSync, writeSync } from 'node:fs';

export class PcapWriter {
  private fd: number | null;

  constructor(path: string) {
    this.fd = openSync(path, 'w');
    const h = new DataView(new ArrayBuffer(24));
    h.setUint32(0, 0xa1b2c3d4, true); // microsecond timestamps
    h.setUint16(4, 2, true);
    h.setUint16(6, 4, true);
    h.setUint32(16, 262144, true); // snaplen
    h.setUint32(20, 101, true); // LINKTYPE_RAW
    writeSync(this.fd, new Uint8Array(h.buffer));
  }

  write(timeUs: number, pkt: Uint8Array): void {
    if (this.fd === null) return;
    const us = Math.max(0, Math.round(timeUs));
    const r = new DataView(new ArrayBuffer(16));
    r.setUint32(0, Math.floor(us / 1e6), true);
    r.setUint32(4, us % 1e6, true);
    r.setUint32(8, pkt.length, true);
    r.setUint32(12, pkt.length, true);
    writeSync(this.fd, new Uint8Array(r.buffer));
    writeSync(this.fd, pkt);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
