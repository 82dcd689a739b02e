/**
 * `usnet sim [scenario]`: simulations in virtual time, at scale. Scenario
 * `churn` (the default): short-lived connections from one client to one
 * server address:port at a steady rate, one line per virtual second
 * (connects, EADDRNOTAVAIL, TIME_WAIT on both sides, ports in use,
 * TcpExtTWRecycled, TcpExtTCPTimeWaitOverflow) and a summary in words.
 */
import type { Command } from 'commander';
import { type ChurnOptions, runChurn } from '../src/sim/scenarios/churn.js';
import { CHURN_HEADER, explainChurn, formatSample } from '../src/sim/scenarios/churn-report.js';

interface SimCliOptions {
  rate: string;
  duration: string;
  closer: string;
  sysctl: string[];
  timestamps?: string;
  port: string;
  delay: string;
  maxConnections: string;
  drain: string;
  seed: string;
  json?: boolean;
}

/** "500", "500/s" → 500. */
function parseRate(v: string): number {
  const m = /^\s*([0-9]*\.?[0-9]+)\s*(\/s)?\s*$/.exec(v);
  return m ? Number(m[1]) : Number.NaN;
}

/** "180", "180s", "3m" → seconds. */
function parseDuration(v: string): number {
  const m = /^\s*([0-9]*\.?[0-9]+)\s*(ms|s|m|min)?\s*$/.exec(v);
  if (!m) return Number.NaN;
  const x = Number(m[1]);
  return m[2] === 'ms' ? x / 1000 : m[2] === 'm' || m[2] === 'min' ? x * 60 : x;
}

/** -s [client:|server:]name=value; repeatable. */
function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function sysctlOverrides(list: string[], o: ChurnOptions): void {
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq < 0) throw new Error(`-s ${item}: expected name=value`);
    let name = item.slice(0, eq).trim();
    const value = item
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    let target: Record<string, string | number>;
    if (name.startsWith('client:')) {
      name = name.slice(7);
      o.clientSysctl ??= {};
      target = o.clientSysctl;
    } else if (name.startsWith('server:')) {
      name = name.slice(7);
      o.serverSysctl ??= {};
      target = o.serverSysctl;
    } else {
      o.sysctl ??= {};
      target = o.sysctl;
    }
    target[name] = value;
  }
}

export function register(program: Command): void {
  program
    .command('sim')
    .description('simulations in virtual time: port exhaustion and TIME_WAIT at scale (scenario: churn)')
    .argument('[scenario]', 'scenario to run: churn', 'churn')
    .option('--rate <n/s>', 'new connections per virtual second', '500/s')
    .option('--duration <s>', 'virtual time during which connections are opened (s, or 3m)', '180')
    .option('--closer <side>', 'who closes first: client or server', 'client')
    .option(
      '-s, --sysctl <name=value>',
      'sysctl for both hosts (prefix client: or server: for one), repeatable, e.g. -s net.ipv4.tcp_tw_reuse=1',
      collect,
      [],
    )
    .option('--timestamps <on|off>', 'net.ipv4.tcp_timestamps on both hosts')
    .option('--port <n>', 'server port', '80')
    .option('--delay <ms>', 'one-way wire delay, ms', '0.25')
    .option('--max-connections <n>', 'stop opening connections after this many attempts', '1000000')
    .option('--drain <s>', 'virtual seconds to run after the last connect', '5')
    .option('--seed <n>', 'random seed of the stacks', '1')
    .option('--json', 'machine-readable output (one JSON document)')
    .action((scenario: string, opts: SimCliOptions) => {
      if (scenario !== 'churn') {
        console.error(`usnet sim: unknown scenario '${scenario}' (known: churn)`);
        process.exitCode = 2;
        return;
      }
      const o: ChurnOptions = {
        rate: parseRate(opts.rate),
        durationS: parseDuration(opts.duration),
        port: Number(opts.port),
        delayMs: Number(opts.delay),
        maxConnections: Number(opts.maxConnections),
        drainS: parseDuration(opts.drain),
        seed: Number(opts.seed),
      };
      if (opts.closer !== 'client' && opts.closer !== 'server') {
        console.error('usnet sim: --closer must be client or server');
        process.exitCode = 2;
        return;
      }
      o.closer = opts.closer;
      if (opts.timestamps !== undefined) {
        if (!/^(on|off|1|0)$/.test(opts.timestamps)) {
          console.error('usnet sim: --timestamps must be on or off');
          process.exitCode = 2;
          return;
        }
        o.timestamps = opts.timestamps === 'on' || opts.timestamps === '1';
      }
      try {
        sysctlOverrides(opts.sysctl, o);
      } catch (e) {
        console.error(`usnet sim: ${(e as Error).message}`);
        process.exitCode = 2;
        return;
      }
      if (!opts.json) {
        console.log(CHURN_HEADER);
        o.onSample = (s) => console.log(formatSample(s));
      }
      let r: ReturnType<typeof runChurn>;
      try {
        r = runChurn(o);
      } catch (e) {
        const err = e as { code?: string; message?: string };
        console.error(`usnet sim: ${err.message ?? String(e)}`);
        process.exitCode = 2;
        return;
      }
      const summary = explainChurn(r);
      if (opts.json) console.log(JSON.stringify({ scenario, ...r, summary }, null, 1));
      else {
        console.log('');
        for (const line of summary) console.log(line);
      }
    });
}
