/**
 * Node's side of the packet sniffer (sniffer-py.ts): the packets the kernel
 * sent into the TUN device, each with the kernel's transmit time on the
 * performance.now() scale.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { SysError } from '../../errno.js';
import { SNIFFER_PY } from './sniffer-py.js';

const HEADER = 12;

export class Sniffer {
  /** Called for each outbound packet: the IP packet and when the kernel sent it (performance.now() ms). */
  onPacket: ((bytes: Uint8Array, sentAtMs: number) => void) | null = null;
  private child: ChildProcess;
  private buf: Buffer = Buffer.alloc(0);
  private readonly monoOffsetMs = performance.now() - Number(process.hrtime.bigint()) / 1e6;
  private exited: Promise<void>;
  private ready: (() => void) | null = null;
  private stderr = '';

  private constructor(child: ChildProcess) {
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('error', () => {});
    child.stdin!.on('error', () => {});
    child.stderr!.on('data', (d: Buffer) => {
      if (this.stderr.length < 4096) this.stderr += d.toString('utf8');
    });
    child.stdout!.on('data', (d: Buffer) => this.onData(d));
  }

  /** Starts sniffing `ifname` inside `netns`; resolves once the socket is bound. */
  static async start(netns: string, ifname: string, timeoutMs = 10000): Promise<Sniffer> {
    const child = spawn('ip', ['netns', 'exec', netns, 'python3', '-c', SNIFFER_PY, ifname], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const s = new Sniffer(child);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new SysError('EIO', 'sniffer', `not ready in ${timeoutMs} ms ${s.stderr.trim()}`)),
          timeoutMs,
        );
        s.ready = () => {
          clearTimeout(timer);
          resolve();
        };
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new SysError('EIO', 'sniffer', `exited (${code}) ${s.stderr.trim()}`));
        });
      });
    } catch (e) {
      await s.close();
      throw e;
    }
    return s;
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    let off = 0;
    while (this.buf.length - off >= HEADER) {
      const len = this.buf.readUInt32LE(off);
      if (this.buf.length - off < HEADER + len) break;
      const mono = Number(this.buf.readBigUInt64LE(off + 4)) / 1e6;
      if (len === 0) {
        this.ready?.();
        this.ready = null;
      } else {
        // Copy: the stream's buffer is reused; the consumer keeps the packet.
        const pkt = new Uint8Array(len);
        pkt.set(this.buf.subarray(off + HEADER, off + HEADER + len));
        this.onPacket?.(pkt, mono + this.monoOffsetMs);
      }
      off += HEADER + len;
    }
    this.buf = this.buf.subarray(off);
  }

  async close(timeoutMs = 3000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin!.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(t);
  }
}
