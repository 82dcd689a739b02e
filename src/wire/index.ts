// Re-exports of the wire codecs. Owners of other wire files add their line here.
export * from './addr.js';
export * from './checksum.js';
export * from './errors.js';
export * from './icmp.js';
export * from './ipv4.js';
export * from './ipv6.js';
export * from './pcap.js';
export * from './pcapng.js';
export * from './seq.js';
export * from './tcp.js';
export * from './tcp-options.js';
export * from './udp.js';
