/**
 * Congestion-control algorithms by name, as Linux keeps them: the default
 * comes from `net.ipv4.tcp_congestion_control`, a socket picks another with
 * setsockopt(TCP_CONGESTION), which fails with ENOENT for a name that is not
 * available and EPERM for one that is available but not listed in
 * `net.ipv4.tcp_allowed_congestion_control` (unless the caller has
 * CAP_NET_ADMIN).
 */
import { SysError } from '../../errno.js';
import { Reno } from './reno.js';
import type { CongestionControl, CongestionControlFactory } from './types.js';

const factories = new Map<string, CongestionControlFactory>([['reno', () => new Reno()]]);

/** Add an algorithm (CUBIC, BBR, ...). A later registration replaces an earlier one. */
export function registerCongestionControl(name: string, factory: CongestionControlFactory): void {
  factories.set(name, factory);
}

/** `net.ipv4.tcp_available_congestion_control`: space-separated names. */
export function availableCongestionControl(): string {
  return [...factories.keys()].join(' ');
}

export function hasCongestionControl(name: string): boolean {
  return factories.has(name);
}

/**
 * A new per-connection instance of `name`. An unknown name falls back to
 * Reno, as Linux falls back to its built-in reno when the configured
 * default cannot be loaded.
 */
export function createCongestionControl(name: string): CongestionControl {
  const f = factories.get(name) ?? factories.get('reno');
  return (f as CongestionControlFactory)();
}

/**
 * Validate a TCP_CONGESTION value the way Linux does: ENOENT when no such
 * algorithm exists, EPERM when it is not in `allowed` (space-separated, the
 * `tcp_allowed_congestion_control` sysctl) and the caller is unprivileged.
 * The default algorithm is always allowed.
 */
export function checkCongestionControl(
  name: string,
  allowed: string,
  defaultName: string,
  privileged = false,
): void {
  if (!factories.has(name)) throw new SysError('ENOENT', 'setsockopt');
  if (privileged || name === defaultName) return;
  if (!allowed.split(/\s+/).includes(name)) throw new SysError('EPERM', 'setsockopt');
}
