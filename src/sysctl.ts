/**
 * Sysctls under their Linux names, with Linux 6.x defaults as read off the
 * reference machine (`sysctl -a`). Layers read the current value on use,
 * through a plain object with constant keys (fast property access, no string
 * building):  stack.sysctl.v['net.ipv4.tcp_tw_reuse']
 */
import { SysError } from './errno.js';

export type SysctlValue = number | number[] | string;

/** name → [default, validator]. A vector default (tcp_rmem) is a number[]. */
const DEFAULTS = {
  // TCP options on SYN (RFC 7323, RFC 2018)
  'net.ipv4.tcp_timestamps': 1,
  'net.ipv4.tcp_sack': 1,
  'net.ipv4.tcp_dsack': 1,
  'net.ipv4.tcp_window_scaling': 1,
  'net.ipv4.tcp_ecn': 2,
  'net.ipv4.tcp_ecn_fallback': 1,
  'net.ipv4.tcp_base_mss': 1024,
  'net.ipv4.tcp_min_snd_mss': 48,
  'net.ipv4.tcp_mtu_probing': 0,
  // connection set-up and tear-down
  'net.ipv4.tcp_syn_retries': 6,
  'net.ipv4.tcp_synack_retries': 5,
  'net.ipv4.tcp_syn_linear_timeouts': 4,
  'net.ipv4.tcp_retries1': 3,
  'net.ipv4.tcp_retries2': 15,
  'net.ipv4.tcp_orphan_retries': 0,
  'net.ipv4.tcp_max_orphans': 131072,
  'net.ipv4.tcp_fin_timeout': 60,
  'net.ipv4.tcp_abort_on_overflow': 0,
  'net.ipv4.tcp_syncookies': 1,
  'net.ipv4.tcp_max_syn_backlog': 2048,
  'net.core.somaxconn': 4096,
  // NAPI weight: the most frames one poll takes from a device before the
  // softirq gives others (and the applications) their turn.
  'net.core.dev_weight': 64,
  'net.ipv4.tcp_fastopen': 1,
  // TIME_WAIT and port choice (the heart of usnet)
  'net.ipv4.ip_local_port_range': [32768, 60999],
  'net.ipv4.ip_local_reserved_ports': '',
  'net.ipv4.ip_autobind_reuse': 0,
  'net.ipv4.ip_nonlocal_bind': 0,
  'net.ipv4.tcp_tw_reuse': 2,
  'net.ipv4.tcp_tw_reuse_delay': 1000,
  'net.ipv4.tcp_rfc1337': 0,
  'net.ipv4.tcp_max_tw_buckets': 131072,
  'net.ipv6.bindv6only': 0,
  // RFC 5961 and rate limits
  'net.ipv4.tcp_challenge_ack_limit': 2147483647,
  'net.ipv4.tcp_invalid_ratelimit': 500,
  // buffers and windows
  'net.ipv4.tcp_rmem': [4096, 131072, 33554432],
  'net.ipv4.tcp_wmem': [4096, 16384, 4194304],
  'net.core.rmem_default': 212992,
  'net.core.rmem_max': 4194304,
  'net.core.wmem_default': 212992,
  'net.core.wmem_max': 4194304,
  'net.ipv4.tcp_adv_win_scale': 1,
  'net.ipv4.tcp_app_win': 31,
  'net.ipv4.tcp_moderate_rcvbuf': 1,
  'net.ipv4.tcp_shrink_window': 0,
  'net.ipv4.tcp_workaround_signed_windows': 0,
  'net.ipv4.tcp_notsent_lowat': 4294967295,
  'net.ipv4.tcp_autocorking': 1,
  'net.ipv4.tcp_stdurg': 0,
  // keepalive
  'net.ipv4.tcp_keepalive_time': 7200,
  'net.ipv4.tcp_keepalive_intvl': 75,
  'net.ipv4.tcp_keepalive_probes': 9,
  // retransmission, recovery, congestion control
  'net.ipv4.tcp_congestion_control': 'reno',
  'net.ipv4.tcp_allowed_congestion_control': 'reno',
  'net.ipv4.tcp_rto_min_us': 200000,
  'net.ipv4.tcp_rto_max_ms': 120000,
  'net.ipv4.tcp_early_retrans': 3,
  'net.ipv4.tcp_recovery': 1,
  'net.ipv4.tcp_frto': 2,
  'net.ipv4.tcp_reordering': 3,
  'net.ipv4.tcp_max_reordering': 300,
  'net.ipv4.tcp_slow_start_after_idle': 1,
  'net.ipv4.tcp_thin_linear_timeouts': 0,
  'net.ipv4.tcp_no_metrics_save': 0,
  'net.ipv4.tcp_min_rtt_wlen': 300,
  'net.ipv4.tcp_comp_sack_nr': 44,
  'net.ipv4.tcp_comp_sack_delay_ns': 1000000,
  'net.ipv4.tcp_pingpong_thresh': 1,
  // Segmentation offload knobs: usnet sends one MSS per segment (no TSO/GSO),
  // so these are accepted and kept (scripts written for Linux set them) but
  // change nothing.
  'net.ipv4.tcp_tso_win_divisor': 3,
  'net.ipv4.tcp_min_tso_segs': 2,
  'net.ipv4.tcp_tso_rtt_log': 9,
  // IP and ICMP
  'net.ipv4.ip_default_ttl': 64,
  'net.ipv4.ip_no_pmtu_disc': 0,
  'net.ipv4.ipfrag_time': 30,
  'net.ipv4.ipfrag_high_thresh': 4194304,
  'net.ipv4.ipfrag_low_thresh': 3145728,
  'net.ipv4.icmp_echo_ignore_all': 0,
  'net.ipv4.icmp_ratelimit': 1000,
  'net.ipv4.icmp_msgs_per_sec': 1000,
  'net.ipv4.icmp_msgs_burst': 50,
  'net.ipv6.conf.default.hop_limit': 64,
  'net.ipv4.icmp_echo_ignore_broadcasts': 1,
  'net.ipv4.route.min_pmtu': 552,
  'net.ipv4.route.mtu_expires': 600,
  'net.ipv6.icmp.ratelimit': 100,
  'net.ipv6.ip6frag_time': 60,
  'net.ipv6.ip6frag_high_thresh': 4194304,
  'net.ipv6.route.mtu_expires': 600,
  'net.ipv6.auto_flowlabels': 1,
  'net.ipv6.icmp.echo_ignore_all': 0,
} satisfies Record<string, SysctlValue>;

export type SysctlName = keyof typeof DEFAULTS;
export type SysctlValues = { -readonly [K in SysctlName]: (typeof DEFAULTS)[K] };

/** The sysctl names usnet knows, in a stable order (for `sysctl -a`). */
export const SYSCTL_NAMES = Object.keys(DEFAULTS) as SysctlName[];

export function isSysctlName(name: string): name is SysctlName {
  return Object.hasOwn(DEFAULTS, name);
}

export class Sysctl {
  /** Current values; read directly on use (`sysctl.v['net.ipv4.tcp_sack']`). */
  readonly v: SysctlValues;

  constructor(overrides?: Partial<Record<string, SysctlValue | string>>) {
    this.v = structuredClone(DEFAULTS) as SysctlValues;
    if (overrides) for (const [k, val] of Object.entries(overrides)) if (val !== undefined) this.set(k, val);
  }

  get(name: string): SysctlValue {
    if (!isSysctlName(name)) throw unknown(name);
    return this.v[name];
  }

  /**
   * Set by Linux name. Accepts the value's own type or the text `sysctl -w`
   * takes ("4096 131072 6291456" for a vector). Throws ENOENT for a name
   * usnet does not have and EINVAL for a value of the wrong shape, as
   * writing /proc/sys does.
   */
  set(name: string, value: SysctlValue | string): void {
    if (!isSysctlName(name)) throw unknown(name);
    const current = this.v[name] as SysctlValue;
    (this.v as Record<string, SysctlValue>)[name] = coerce(name, current, value);
  }

  /** The value as `sysctl -n` prints it (vectors tab-separated). */
  format(name: string): string {
    const v = this.get(name);
    return Array.isArray(v) ? v.join('\t') : String(v);
  }
}

/** Limits Linux enforces (proc_dointvec_minmax): writing outside them fails with EINVAL. */
const RANGES: Record<string, [number, number] | undefined> = {
  // 0 off, 1 ask and accept, 2 accept only; the reference kernel (6.18) refuses 3 and up (no AccECN).
  'net.ipv4.tcp_ecn': [0, 2],
  'net.ipv4.tcp_ecn_fallback': [0, 1],
  'net.core.dev_weight': [1, 2147483647],
};

function unknown(name: string): SysError {
  return new SysError('ENOENT', 'sysctl', `cannot stat /proc/sys/${name.replaceAll('.', '/')}`);
}

function coerce(name: string, current: SysctlValue, value: SysctlValue | string): SysctlValue {
  const bad = () => new SysError('EINVAL', 'sysctl', `bad value for ${name}: ${String(value)}`);
  if (typeof current === 'string') {
    if (typeof value !== 'string') throw bad();
    return value.trim();
  }
  const nums =
    typeof value === 'string'
      ? value.trim() === ''
        ? []
        : value.trim().split(/\s+/).map(Number)
      : Array.isArray(value)
        ? value
        : [value];
  if (nums.some((n) => !Number.isFinite(n) || !Number.isInteger(n))) throw bad();
  if (Array.isArray(current)) {
    if (nums.length !== current.length) throw bad();
    if (name === 'net.ipv4.ip_local_port_range' && (nums[0] > nums[1] || nums[0] < 1 || nums[1] > 65535))
      throw bad();
    return nums;
  }
  if (nums.length !== 1) throw bad();
  const range = RANGES[name];
  if (range !== undefined && (nums[0] < range[0] || nums[0] > range[1])) throw bad();
  return nums[0];
}
