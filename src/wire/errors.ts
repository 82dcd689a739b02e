/**
 * Why a codec refused a byte string. Parsers return one of these kinds (or
 * `null` for success) instead of throwing: on the receive path malformed input
 * is dropped and counted, never an exception (DESIGN.md principle 4).
 *
 * The kinds are string literals so that a result can be compared and logged
 * without allocation, and mapped to an nstat counter by the layer that drops
 * the packet (e.g. 'bad-checksum' → TcpInCsumErrors, the rest of a TCP parse
 * failure → TcpInErrs; IPv4 header faults → IpInHdrErrors).
 */
export type WireError =
  /** The buffer ends before the fixed header, or before a length field says it does. */
  | 'truncated'
  /** IP version nibble is not the one this parser handles. */
  | 'bad-version'
  /** A header-length field is below the minimum or runs past the buffer
   *  (IPv4 IHL < 5, TCP data offset < 5 or beyond the segment). */
  | 'bad-header-length'
  /** A total/payload length field disagrees with the buffer (IPv4 total length,
   *  IPv6 payload length, UDP length). */
  | 'bad-length'
  /** The checksum does not verify. */
  | 'bad-checksum'
  /** An option (IPv4 option, TCP option, IPv6 TLV option) has a malformed length:
   *  0 or 1 where at least 2 is required, runs past the option space, or has the
   *  wrong size for a known kind (e.g. TCP MSS with length ≠ 4). */
  | 'bad-option'
  /** An IPv6 extension header is malformed, truncated, or the chain is too long. */
  | 'bad-ext-header'
  /** A fragment header/offset combination that cannot be valid. */
  | 'bad-fragment'
  /** A type/code field this parser does not know how to interpret. */
  | 'unsupported'
  /** A file format (pcap/pcapng) magic number or block structure is wrong. */
  | 'bad-format';

/** Every kind, e.g. for tests and for building a counter map at start-up. */
export const WIRE_ERRORS: readonly WireError[] = [
  'truncated',
  'bad-version',
  'bad-header-length',
  'bad-length',
  'bad-checksum',
  'bad-option',
  'bad-ext-header',
  'bad-fragment',
  'unsupported',
  'bad-format',
];
