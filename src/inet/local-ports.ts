/**
 * net.ipv4.ip_local_reserved_ports ("8080,9000-9100" as `sysctl -w` takes
 * it) as a 64 Kibit bitmap, re-parsed only when the sysctl's text changes;
 * and the effective local port range of a socket (IP_LOCAL_PORT_RANGE
 * narrowing ip_local_port_range as Linux's inet_sk_get_local_port_range
 * does: each bound of the socket's range applies only when it lies inside the
 * system range).
 */

export class ReservedPorts {
  private text = '';
  private readonly bits = new Uint8Array(8192);

  /** Refresh from the sysctl text; cheap when unchanged. */
  update(text: string): void {
    if (text === this.text) return;
    this.text = text;
    this.bits.fill(0);
    for (const part of text.split(',')) {
      const p = part.trim();
      if (p === '') continue;
      const m = /^(\d+)(?:-(\d+))?$/.exec(p);
      if (m === null) continue;
      const lo = Number(m[1]);
      const hi = m[2] === undefined ? lo : Number(m[2]);
      for (let port = lo; port <= hi && port <= 65535; port++) this.bits[port >>> 3] |= 1 << (port & 7);
    }
  }

  has(port: number): boolean {
    return (this.bits[port >>> 3] & (1 << (port & 7))) !== 0;
  }
}

/** Result of effectiveRange(): [low, high] inclusive and whether a per-socket range applied. */
export interface PortRange {
  low: number;
  high: number;
  perSocket: boolean;
}

export function effectiveRange(sys: readonly number[], sockRange: number, out: PortRange): PortRange {
  let lo = sys[0];
  let hi = sys[1];
  let perSocket = false;
  if (sockRange !== 0) {
    const skLo = sockRange & 0xffff;
    const skHi = sockRange >>> 16;
    if (lo <= skLo && skLo <= hi) lo = skLo;
    if (lo <= skHi && skHi <= hi) hi = skHi;
    perSocket = true;
  }
  out.low = lo;
  out.high = hi;
  out.perSocket = perSocket;
  return out;
}
