/**
 * Decodes Linux's `struct tcp_info` (getsockopt TCP_INFO, linux/tcp.h) into
 * fields named as packetdrill scripts write them (`tcpi_state`, ...). Fields
 * past what the kernel returned are left out.
 */

/** [name, byte offset, size] after the first eight single-byte fields. */
const LAYOUT: Array<[string, number, 2 | 4 | 8]> = [];
{
  const u32 = [
    'rto',
    'ato',
    'snd_mss',
    'rcv_mss',
    'unacked',
    'sacked',
    'lost',
    'retrans',
    'fackets',
    'last_data_sent',
    'last_ack_sent',
    'last_data_recv',
    'last_ack_recv',
    'pmtu',
    'rcv_ssthresh',
    'rtt',
    'rttvar',
    'snd_ssthresh',
    'snd_cwnd',
    'advmss',
    'reordering',
    'rcv_rtt',
    'rcv_space',
    'total_retrans',
  ];
  let off = 8;
  for (const n of u32) {
    LAYOUT.push([n, off, 4]);
    off += 4;
  }
  const rest: Array<[string, 2 | 4 | 8]> = [
    ['pacing_rate', 8],
    ['max_pacing_rate', 8],
    ['bytes_acked', 8],
    ['bytes_received', 8],
    ['segs_out', 4],
    ['segs_in', 4],
    ['notsent_bytes', 4],
    ['min_rtt', 4],
    ['data_segs_in', 4],
    ['data_segs_out', 4],
    ['delivery_rate', 8],
    ['busy_time', 8],
    ['rwnd_limited', 8],
    ['sndbuf_limited', 8],
    ['delivered', 4],
    ['delivered_ce', 4],
    ['bytes_sent', 8],
    ['bytes_retrans', 8],
    ['dsack_dups', 4],
    ['reord_seen', 4],
    ['rcv_ooopack', 4],
    ['snd_wnd', 4],
    ['rcv_wnd', 4],
    ['rehash', 4],
    ['total_rto', 2],
    ['total_rto_recoveries', 2],
    ['total_rto_time', 4],
    // Accurate ECN counters (6.18; the u16/bit-field words after them changed
    // between kernel versions and are not decoded)
    ['received_ce', 4],
    ['delivered_e1_bytes', 4],
    ['delivered_e0_bytes', 4],
    ['delivered_ce_bytes', 4],
    ['received_e1_bytes', 4],
    ['received_e0_bytes', 4],
    ['received_ce_bytes', 4],
  ];
  for (const [n, size] of rest) {
    LAYOUT.push([n, off, size]);
    off += size;
  }
}

/** sizeof(struct tcp_info) on Linux 6.18 (248 before the AccECN fields). */
export const TCP_INFO_LEN = 280;

/**
 * Whether field `name` (`tcpi_rto`) lies within the first `len` bytes of
 * struct tcp_info: getsockopt copies min(optlen, sizeof) bytes, so a
 * shorter optlen leaves the later fields out. The eight one-byte fields
 * (and the bit-fields in them) sit in the first 8 bytes.
 */
export function tcpInfoFieldWithin(name: string, len: number): boolean {
  for (const [n, off, size] of LAYOUT) if (`tcpi_${n}` === name) return off + size <= len;
  return len >= 8;
}

export function decodeTcpInfo(b: Uint8Array): Record<string, number> {
  const out: Record<string, number> = {};
  if (b.length < 8) return out;
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  out.tcpi_state = b[0]!;
  out.tcpi_ca_state = b[1]!;
  out.tcpi_retransmits = b[2]!;
  out.tcpi_probes = b[3]!;
  out.tcpi_backoff = b[4]!;
  out.tcpi_options = b[5]!;
  // u8 snd_wscale:4, rcv_wscale:4 (little-endian bitfields: low nibble first)
  out.tcpi_snd_wscale = b[6]! & 0xf;
  out.tcpi_rcv_wscale = b[6]! >> 4;
  out.tcpi_delivery_rate_app_limited = b[7]! & 1;
  out.tcpi_fastopen_client_fail = (b[7]! >> 1) & 3;
  for (const [name, off, size] of LAYOUT) {
    if (off + size > b.length) break;
    out[`tcpi_${name}`] =
      size === 2
        ? dv.getUint16(off, true)
        : size === 4
          ? dv.getUint32(off, true)
          : Number(dv.getBigUint64(off, true));
  }
  return out;
}
