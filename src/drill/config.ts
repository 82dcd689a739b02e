/**
 * Run configuration: packetdrill's command-line flags, which scripts may
 * also set on `--flag=value` lines (command-line values win, as in
 * packetdrill), and their defaults.
 */
import type { ScriptOption } from './ast.js';
import type { TargetConfig } from './target.js';

export interface DrillConfig extends TargetConfig {
  /** timing tolerance in µs (packetdrill: --tolerance_usecs, default 4000) */
  toleranceUs: number;
  /** extra tolerance as a percentage of the interval since the previous event (default 12.5) */
  tolerancePercent: number;
  /** port the local host binds with `bind(fd, ..., ...)` (--bind_port, 8080) */
  bindPort: number;
  /** port `connect(fd, ..., ...)` goes to on the remote host (--connect_port, 8080) */
  connectPort: number;
  /** the remote port of connections the remote host opens (inbound SYNs) */
  remotePort: number;
  /** check outbound TS val advances at this tick (0: do not check, packetdrill's default) */
  tsTickUs: number;
  /** options set explicitly on the command line (they override script options) */
  explicit: Set<string>;
  /** --dry_run: parse the scripts (and their options), run nothing */
  dryRun: boolean;
  /**
   * --tso_coalesce (default 1): read a burst of contiguous outbound segments
   * as the one TSO super-segment a script expects (packetdrill's TUN has TSO)
   */
  tsoCoalesce: boolean;
}

/** packetdrill's defaults for an address family (config.c). */
export function addressDefaults(
  version: DrillConfig['ipVersion'],
): Pick<DrillConfig, 'localIp' | 'remoteIp' | 'gatewayIp' | 'netmaskIp'> {
  if (version === 'ipv6')
    return {
      localIp: 'fd3d:fa7b:d17d::1',
      remoteIp: '2001:db8::1',
      gatewayIp: 'fd3d:fa7b:d17d:8888::',
      netmaskIp: '48',
    };
  return {
    localIp: '192.168.0.1',
    remoteIp: '192.0.2.1',
    gatewayIp: '192.168.0.2',
    netmaskIp: '255.255.0.0',
  };
}

export function defaultConfig(): DrillConfig {
  return {
    ipVersion: 'ipv4',
    ...addressDefaults('ipv4'),
    mtu: 1500,
    defines: {},
    verbose: false,
    cwd: process.cwd(),
    toleranceUs: 4000,
    tolerancePercent: 12.5,
    bindPort: 8080,
    connectPort: 8080,
    remotePort: 40000,
    tsTickUs: 0,
    explicit: new Set(),
    dryRun: false,
    tsoCoalesce: true,
  };
}

/** Options packetdrill has that mean nothing for these targets; accepted and ignored. */
const IGNORED = new Set([
  'speed',
  'non_fatal',
  'debug',
  'init_scripts',
  'strict_segments',
  'tcp_ts_ecr_scaled',
  'so_filename',
  'so_flags',
  'wire_client',
  'wire_server',
  'mss',
  'code_command',
  'code_format',
  'code_sockopt',
  'send_omit_free',
  'is_anyip',
]);

/**
 * Apply one `--name=value` option. Returns an error message or null.
 * `fromScript` options do not override ones given on the command line.
 */
export function applyOption(
  cfg: DrillConfig,
  name: string,
  value: string | null,
  fromScript: boolean,
): string | null {
  name = name.replaceAll('-', '_');
  if (fromScript && cfg.explicit.has(name)) return null;
  if (!fromScript) cfg.explicit.add(name);
  const need = (): string => {
    if (value === null || value === '') throw new Error(`option --${name} requires an argument`);
    return value;
  };
  const int = (min: number, max: number): number => {
    const n = Number(need());
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`bad --${name}: ${value}`);
    return n;
  };
  try {
    switch (name) {
      case 'ip_version': {
        const v = need();
        if (v !== 'ipv4' && v !== 'ipv6' && v !== 'ipv4-mapped-ipv6') return `bad --ip_version: ${v}`;
        const d0 = addressDefaults(cfg.ipVersion);
        const d1 = addressDefaults(v);
        cfg.ipVersion = v;
        // addresses still at the old family's defaults follow the new family
        for (const k of ['localIp', 'remoteIp', 'gatewayIp', 'netmaskIp'] as const)
          if (cfg[k] === d0[k] && !cfg.explicit.has(k)) cfg[k] = d1[k];
        return null;
      }
      case 'local_ip':
        cfg.localIp = need();
        cfg.explicit.add('localIp');
        return null;
      case 'remote_ip':
        cfg.remoteIp = need().replace(/\/\d+$/, '');
        cfg.explicit.add('remoteIp');
        return null;
      case 'gateway_ip':
        cfg.gatewayIp = need();
        cfg.explicit.add('gatewayIp');
        return null;
      case 'netmask_ip':
        cfg.netmaskIp = need();
        cfg.explicit.add('netmaskIp');
        return null;
      case 'mtu':
        cfg.mtu = int(68, 65535);
        return null;
      case 'tolerance_usecs':
        cfg.toleranceUs = int(1, 1e9);
        return null;
      case 'tolerance_percent': {
        const n = Number(need());
        if (!(n >= 0 && n <= 100)) return `bad --tolerance_percent: ${value}`;
        cfg.tolerancePercent = n;
        return null;
      }
      case 'bind_port':
        cfg.bindPort = int(1, 65535);
        return null;
      case 'connect_port':
        cfg.connectPort = int(1, 65535);
        return null;
      case 'tcp_ts_tick_usecs':
        cfg.tsTickUs = int(0, 1000000);
        return null;
      case 'define': {
        const v = need();
        const eq = v.indexOf('=');
        if (eq <= 0) return `bad definition: ${v}`;
        cfg.defines[v.slice(0, eq)] = v.slice(eq + 1);
        return null;
      }
      case 'verbose':
        cfg.verbose = true;
        return null;
      case 'dry_run':
        cfg.dryRun = true;
        return null;
      case 'tso_coalesce':
        cfg.tsoCoalesce = value === null || int(0, 1) === 1;
        return null;
      default:
        if (IGNORED.has(name)) return null;
        return `option '${name}' unknown`;
    }
  } catch (e) {
    return (e as Error).message;
  }
}

export function applyScriptOptions(cfg: DrillConfig, opts: ScriptOption[]): string | null {
  for (const o of opts) {
    const err = applyOption(cfg, o.name, o.value, true);
    if (err) return `${o.loc.file}:${o.loc.line}: ${err}`;
  }
  return null;
}
