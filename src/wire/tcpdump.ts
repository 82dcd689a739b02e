/**
 * The words tcpdump prints for a TCP segment's flags and options, shared by
 * every trace this project prints (the web segment log, the Node demo's
 * formatter, packetdrill's option lists). Pure formatting, browser-clean;
 * display code, not the packet path, so it builds strings freely.
 */
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG } from './tcp.js';
import type { TcpOption } from './tcp-options.js';

/**
 * tcpdump's flag letters in its table order (F S R P . U E W, print-tcp.c's
 * tcp_flag_values): SYN-ACK is "S.", FIN-PSH-ACK "FP.", no flag "none".
 */
export function tcpFlagsText(f: number): string {
  let s = '';
  if (f & TCP_FIN) s += 'F';
  if (f & TCP_SYN) s += 'S';
  if (f & TCP_RST) s += 'R';
  if (f & TCP_PSH) s += 'P';
  if (f & TCP_ACK) s += '.';
  if (f & TCP_URG) s += 'U';
  if (f & TCP_ECE) s += 'E';
  if (f & TCP_CWR) s += 'W';
  return s === '' ? 'none' : s;
}

/**
 * One option as tcpdump writes it: `mss 1460`, `sackOK`, `TS val 1 ecr 0`,
 * `wscale 7`, `sack 2 {1:2}{5:9}`; SACK edges pass through `relSack` (tcpdump
 * makes them relative to the other direction's ISN, as it does ack).
 */
export function tcpOptionText(o: TcpOption, relSack: (x: number) => number): string {
  switch (o.kind) {
    case 'eol':
      return 'eol';
    case 'nop':
      return 'nop';
    case 'mss':
      return `mss ${o.mss}`;
    case 'wscale':
      return `wscale ${o.shift}`;
    case 'sackOk':
      return 'sackOK';
    case 'ts':
      return `TS val ${o.val} ecr ${o.ecr}`;
    case 'sack': {
      let b = '';
      let n = 0;
      for (let i = 0; i + 1 < o.blocks.length; i += 2, n++)
        b += `{${relSack(o.blocks[i] as number)}:${relSack(o.blocks[i + 1] as number)}}`;
      return `sack ${n} ${b}`;
    }
    case 'unknown':
      return `unknown-${o.code}`;
  }
}

/** The list inside tcpdump's `options [...]`: each option's text, comma-separated. */
export function tcpOptionsText(list: readonly TcpOption[], relSack: (x: number) => number): string {
  let s = '';
  for (let i = 0; i < list.length; i++)
    s += (i > 0 ? ',' : '') + tcpOptionText(list[i] as TcpOption, relSack);
  return s;
}
