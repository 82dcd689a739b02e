/**
 * isIP / isIPv4 / isIPv6 as node:net has them, and host-name resolution for
 * the net-compatible API: IP literals, then an optional hosts map, then an
 * optional lookup function (dns.lookup's shape). Browser-clean.
 */
import { parseAddr } from '../../wire/addr.js';
import { lookupError, type NetError } from './errors.js';

export function isIP(input: unknown): 0 | 4 | 6 {
  if (typeof input !== 'string') return 0;
  const a = parseAddr(input);
  return a === null ? 0 : a.length === 4 ? 4 : 6;
}
export function isIPv4(input: unknown): boolean {
  return isIP(input) === 4;
}
export function isIPv6(input: unknown): boolean {
  return isIP(input) === 6;
}

export type LookupFn = (
  hostname: string,
  options: { family?: number },
  cb: (err: Error | null, address: string, family: number) => void,
) => void;

export interface Resolver {
  hosts?: Record<string, string>;
  lookup?: LookupFn;
}

/**
 * Resolve `host` to an IP literal; calls back asynchronously like dns.lookup
 * (Node never connects in the same tick it resolved a name).
 */
export function resolveHost(
  r: Resolver,
  host: string,
  family: number | undefined,
  cb: (err: NetError | Error | null, address: string, family: 4 | 6) => void,
): void {
  const h = r.hosts?.[host];
  if (h !== undefined) {
    queueMicrotask(() => cb(null, h, isIP(h) === 6 ? 6 : 4));
    return;
  }
  if (r.lookup !== undefined) {
    r.lookup(host, { family }, (err, address, fam) => {
      if (err) cb(err, '', 4);
      else cb(null, address, fam === 6 ? 6 : 4);
    });
    return;
  }
  queueMicrotask(() => cb(lookupError(host), '', 4));
}
