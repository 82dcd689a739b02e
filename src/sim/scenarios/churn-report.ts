/**
 * Text for the churn scenario: one line per virtual second and a summary in
 * plain words saying what happened and why (which Linux rule was at work).
 */
import type { ChurnResult, ChurnSample } from './churn.js';

const TIME_WAIT_S = 60; // TCP_TIMEWAIT_LEN

const n = (x: number) => x.toLocaleString('en-US');
const s1 = (x: number) => (Math.round(x * 1000) / 1000).toString();

export const CHURN_HEADER =
  '   t(s)  attempted       ok  EADDRNOTAVAIL  failed  TW(client)  TW(server)  ports-in-use  TWRecycled  TWOverflow';

export function formatSample(s: ChurnSample): string {
  const pad = (v: number, w: number) => String(v).padStart(w);
  return (
    pad(s.t, 7) +
    pad(s.attempted, 11) +
    pad(s.ok, 9) +
    pad(s.eaddrnotavail, 15) +
    pad(s.failed, 8) +
    pad(s.clientTw, 12) +
    pad(s.serverTw, 12) +
    pad(s.portsInUse, 14) +
    pad(s.twRecycled, 12) +
    pad(s.twOverflowClient + s.twOverflowServer, 12)
  );
}

/** The summary: settings, totals, then sentences explaining the outcome. */
export function explainChurn(r: ChurnResult): string[] {
  const o = r.options;
  const c = r.client;
  const tot = r.totals;
  const out: string[] = [];
  const range = `${c.portRange[0]}-${c.portRange[1]}`;
  out.push(
    `churn: ${n(o.rate)} connects/s for ${s1(o.durationS)} s to 198.18.0.2:${o.port}, ${o.closer} closes first; ` +
      `client: ip_local_port_range ${range} (${n(c.portCount)} ports), tcp_tw_reuse=${c.twReuse}, ` +
      `tcp_timestamps=${c.timestamps}, tcp_max_tw_buckets=${n(c.maxTwBuckets)}`,
  );
  out.push(
    `totals: ${n(tot.attempted)} attempted, ${n(tot.ok)} ok, ${n(tot.eaddrnotavail)} EADDRNOTAVAIL, ${n(tot.failed)} failed; ` +
      `peak TIME_WAIT client ${n(tot.peakClientTw)}, server ${n(tot.peakServerTw)}; ` +
      `TcpExtTW client ${n(tot.client.TcpExtTW)}, server ${n(tot.server.TcpExtTW)}; ` +
      `TcpExtTWRecycled ${n(tot.client.TcpExtTWRecycled)}; ` +
      `TcpExtTCPTimeWaitOverflow client ${n(tot.client.TcpExtTCPTimeWaitOverflow)}, server ${n(tot.server.TcpExtTCPTimeWaitOverflow)}`,
  );

  const ports = c.portCount;
  const predicted = ports / o.rate;
  const need = o.rate * TIME_WAIT_S;
  const holder = o.closer === 'client' ? 'client' : 'server';
  if (holder === 'client')
    out.push(
      `The side that closes first (${holder}) keeps each connection's 4-tuple in TIME_WAIT for ${TIME_WAIT_S} s. ` +
        `All connections go to one destination, so each needs its own client port: at ${n(o.rate)}/s, ` +
        `${n(need)} ports would be held at once if every closed connection kept its port for ${TIME_WAIT_S} s.`,
    );

  if (tot.firstEaddrnotavailS !== null) {
    out.push(
      `The client ran out of ports at t=${s1(tot.firstEaddrnotavailS)} s: ${n(ports)} ports, each held ${TIME_WAIT_S} s by TIME_WAIT ` +
        `(predicted ${n(ports)} / ${n(o.rate)} per s = ${s1(predicted)} s). connect() then fails with EADDRNOTAVAIL ` +
        `("Cannot assign requested address") until entries expire; from then on only about ${n(Math.round(ports / TIME_WAIT_S))} ` +
        `connects/s (range / ${TIME_WAIT_S} s) can succeed.`,
    );
    if (c.twReuse === 1 && c.timestamps === 0)
      out.push(
        'tcp_tw_reuse=1 did not help: taking over a TIME_WAIT entry needs TCP timestamps on the old connection ' +
          '(PAWS keeps old segments out of the new one), and tcp_timestamps=0.',
      );
    else if (c.twReuse === 2)
      out.push(
        'tcp_tw_reuse=2 (the default) allows the takeover only for loopback addresses; set tcp_tw_reuse=1 (with timestamps) ' +
          'to let connect() reuse a port whose TIME_WAIT entry is older than tcp_tw_reuse_delay.',
      );
    else if (c.twReuse === 0) out.push('tcp_tw_reuse=0: connect() never takes over a TIME_WAIT entry.');
  } else if (o.closer === 'server') {
    out.push(
      `No EADDRNOTAVAIL: the server closed first, so the server holds the TIME_WAIT entries (peak ${n(tot.peakServerTw)}) ` +
        `and the client's port is free as soon as its side is closed (peak ports in use ${n(tot.peakPortsInUse)}). ` +
        'A new SYN from a reused client port reopens the server entry when its sequence number or timestamp is newer.',
    );
  } else if (tot.client.TcpExtTWRecycled > 0) {
    out.push(
      `No EADDRNOTAVAIL: with tcp_tw_reuse=${c.twReuse} and timestamps, connect() took over TIME_WAIT entries older than ` +
        `${s1(c.twReuseDelayMs / 1000)} s (tcp_tw_reuse_delay) instead of waiting ${TIME_WAIT_S} s ` +
        `(TcpExtTWRecycled=${n(tot.client.TcpExtTWRecycled)}).`,
    );
  } else if (tot.client.TcpExtTCPTimeWaitOverflow > 0) {
    out.push(
      `No EADDRNOTAVAIL: past tcp_max_tw_buckets=${n(c.maxTwBuckets)} closing connections skipped TIME_WAIT ` +
        `(TcpExtTCPTimeWaitOverflow=${n(tot.client.TcpExtTCPTimeWaitOverflow)}), which freed their ports at once.`,
    );
  } else if (need <= ports || o.durationS < predicted) {
    out.push(
      `No EADDRNOTAVAIL: ${need <= ports ? `rate × ${TIME_WAIT_S} s = ${n(need)} fits in the ${n(ports)} ports` : `the run ended before the ${s1(predicted)} s the range would last`}; ` +
        `TIME_WAIT on the client peaked at ${n(tot.peakClientTw)}.`,
    );
  }
  if (tot.client.TcpExtTCPTimeWaitOverflow > 0 && tot.firstEaddrnotavailS !== null)
    out.push(
      `tcp_max_tw_buckets=${n(c.maxTwBuckets)} was reached ${n(tot.client.TcpExtTCPTimeWaitOverflow)} times: those connections skipped TIME_WAIT.`,
    );
  if (tot.failed > 0)
    out.push(
      `${n(tot.failed)} connections failed otherwise (reset, refused or timed out): see the counters in --json.`,
    );
  if (tot.stoppedBy === 'max-connections')
    out.push(`Stopped opening connections at --max-connections ${n(o.maxConnections)}.`);
  return out;
}
