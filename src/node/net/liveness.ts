/**
 * Process lifetime as with node:net: an open socket or a listening server
 * keeps the process alive (unless unref()'d); nothing else does, so pending
 * stack timers (a 60 s TIME_WAIT) never hold a finished script. Pair it with
 * a driver created with `unref: true` (twoHosts does).
 */
let held = 0;
let keeper: ReturnType<typeof setInterval> | null = null;

export class Liveness {
  private on = false;

  /** @param group the set a whole network's objects share, so they can be released at once (NetContext.held) */
  constructor(private readonly group: Set<{ set(on: boolean): void }>) {}

  /** Count this object (an open socket or server) as keeping the process alive, or stop counting it. */
  set(on: boolean): void {
    if (on === this.on) return;
    this.on = on;
    if (on) this.group.add(this);
    else this.group.delete(this);
    held += on ? 1 : -1;
    if (held > 0 && keeper === null) keeper = setInterval(() => {}, 1 << 30);
    else if (held === 0 && keeper !== null) {
      clearInterval(keeper);
      keeper = null;
    }
  }
}
