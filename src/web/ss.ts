/**
 * `ss -tano`-style rows of a stack's TCP table (stack.tcp.list()), as plain
 * strings for a page or a terminal, plus a recorder of the states each
 * connection went through (sampled after every driver step).
 */
import type { Stack } from '../stack.js';
import type { TcpLayer, TcpListRow } from '../tcp/tcp.js';
import { formatAddr } from '../wire/addr.js';

export interface SsRow {
  state: string;
  recvQ: number;
  sendQ: number;
  local: string;
  peer: string;
  /** ss -o: `timer:(timewait,59sec,0)` or ''. */
  timer: string;
}

function endpoint(a: Uint8Array | null, port: number, family: 4 | 6): string {
  if (a === null)
    return family === 6 ? `[::]:${port === 0 ? '*' : port}` : `0.0.0.0:${port === 0 ? '*' : port}`;
  const s = formatAddr(a);
  return a.length === 16 ? `[${s}]:${port === 0 ? '*' : port}` : `${s}:${port === 0 ? '*' : port}`;
}

/** ss prints timers in whole units: ms below 1 s, then seconds, then minutes. */
function timerText(r: TcpListRow): string {
  if (r.timer === '') return '';
  const ms = Math.round(r.timerMs);
  const t =
    ms < 1000 ? `${ms}ms` : ms < 60_000 ? `${Math.floor(ms / 1000)}sec` : `${Math.floor(ms / 60000)}min`;
  return `timer:(${r.timer},${t},${r.retrans})`;
}

export function ssRow(r: TcpListRow): SsRow {
  return {
    state: r.state,
    recvQ: r.recvQ,
    sendQ: r.sendQ,
    local: endpoint(r.laddr, r.lport, r.family),
    peer: r.state === 'LISTEN' ? endpoint(null, 0, r.family) : endpoint(r.raddr, r.rport, r.family),
    timer: timerText(r),
  };
}

/** The rows of one stack (empty when it has no TCP layer). */
export function ssRows(stack: Stack): SsRow[] {
  const tcp = stack.tcp as TcpLayer | null;
  if (tcp === null) return [];
  return tcp.list().map(ssRow);
}

/** One connection's history: the distinct states seen, in order. */
export interface ConnHistory {
  host: string;
  local: string;
  peer: string;
  states: string[];
}

/**
 * Records, per host and connection, the sequence of ss states seen each time
 * sample() runs (call it from BrowserDriver.onStep). A state that lasts less
 * than one step can be missed; every state the tables held at a step is seen.
 */
export class StateRecorder {
  /** Every state name seen on any host. */
  readonly seen = new Set<string>();
  readonly history = new Map<string, ConnHistory>();

  constructor(readonly hosts: { name: string; stack: Stack }[]) {}

  sample(): void {
    for (const { name, stack } of this.hosts) {
      for (const r of ssRows(stack)) {
        this.seen.add(r.state);
        if (r.state === 'LISTEN') continue;
        const key = `${name} ${r.local} ${r.peer}`;
        let h = this.history.get(key);
        if (h === undefined) {
          h = { host: name, local: r.local, peer: r.peer, states: [] };
          this.history.set(key, h);
        }
        if (h.states[h.states.length - 1] !== r.state) h.states.push(r.state);
      }
    }
  }
}
