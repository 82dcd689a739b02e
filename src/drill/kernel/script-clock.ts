/**
 * The kernel target's script clock: real time that runs only while the
 * runner waits (see KernelTarget.nowUs for why), in milliseconds.
 *
 * It keeps the last few stretches during which it ran, so a real moment
 * (when the TUN helper saw a packet) maps back to the script time of that
 * moment even if Node got to the packet later; a moment while it stood
 * still maps to the time it stood at.
 */

interface Stretch {
  /** real time (performance.now scale) the clock started */
  real0: number;
  /** script time then */
  script0: number;
  /** real time it stopped (Infinity while running) */
  real1: number;
}

const KEEP = 16;

export class ScriptClock {
  private script = 0;
  private runningSince: number | null = null;
  /** run() calls not yet matched by stop(): the clock stops when the last one does */
  private users = 0;
  private readonly stretches: Stretch[] = [];
  private readonly realNow: () => number;

  constructor(realNow: () => number) {
    this.realNow = realNow;
  }

  /** Restart at script time 0, stopped. */
  reset(): void {
    this.script = 0;
    this.runningSince = null;
    this.users = 0;
    this.stretches.length = 0;
  }

  get running(): boolean {
    return this.runningSince !== null;
  }

  nowMs(): number {
    return this.runningSince === null ? this.script : this.script + (this.realNow() - this.runningSince);
  }

  /** Starts the clock (or keeps it running for one more user). */
  run(): void {
    if (this.users++ > 0) return;
    const r = this.realNow();
    this.runningSince = r;
    this.stretches.push({ real0: r, script0: this.script, real1: Number.POSITIVE_INFINITY });
    if (this.stretches.length > KEEP) this.stretches.shift();
  }

  /**
   * Ends one run(); the last one stops the clock, with `atMost` at no later
   * script time than that (the time beyond it was the runner's lateness in
   * waking, not script time), but never earlier than where this stretch
   * began. While another user keeps it running, `atMost` does not apply.
   */
  stop(atMost?: number): void {
    if (this.users === 0 || --this.users > 0 || this.runningSince === null) return;
    const r = this.realNow();
    const s = this.stretches[this.stretches.length - 1]!;
    let t = this.script + (r - this.runningSince);
    if (atMost !== undefined && t > atMost) t = Math.max(atMost, s.script0);
    s.real1 = s.real0 + (t - s.script0);
    this.script = t;
    this.runningSince = null;
  }

  /** The script time at real moment `real` (clamped to now). */
  at(real: number): number {
    const now = this.nowMs();
    for (let i = this.stretches.length - 1; i >= 0; i--) {
      const s = this.stretches[i]!;
      if (real >= s.real0) return Math.min(now, s.script0 + (Math.min(real, s.real1) - s.real0));
    }
    return Math.min(now, this.stretches[0]?.script0 ?? now);
  }
}
