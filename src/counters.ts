/**
 * SNMP/netstat counters under the names `nstat` prints (IpInReceives,
 * TcpActiveOpens, TcpExtTW, ...). A layer resolves each name to an index once,
 * at construction, and increments by index on the hot path: no string work
 * per packet.
 *
 *   const cTW = counters.id('TcpExtTW');   // once
 *   counters.inc(cTW);                     // per event
 */
export class Counters {
  private readonly names: string[] = [];
  private readonly index = new Map<string, number>();
  private values = new Float64Array(64);

  /** The index of a counter, registering it (at zero) the first time. */
  id(name: string): number {
    let i = this.index.get(name);
    if (i === undefined) {
      i = this.names.length;
      this.names.push(name);
      this.index.set(name, i);
      if (i >= this.values.length) {
        const grown = new Float64Array(this.values.length * 2);
        grown.set(this.values);
        this.values = grown;
      }
    }
    return i;
  }

  inc(id: number, by = 1): void {
    this.values[id] += by;
  }

  /** Value by name; 0 for a counter nothing has registered yet. */
  get(name: string): number {
    const i = this.index.get(name);
    return i === undefined ? 0 : this.values[i];
  }

  /** Set a gauge-like value (e.g. TcpCurrEstab) or reset a counter. */
  set(id: number, value: number): void {
    this.values[id] = value;
  }

  /** All registered counters, in registration order. */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < this.names.length; i++) out[this.names[i]] = this.values[i];
    return out;
  }

  /** Zero every counter (`nstat -r`). */
  reset(): void {
    this.values.fill(0);
  }
}
