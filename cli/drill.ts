/**
 * `usnet drill`: run packetdrill scripts against usnet (default) or the
 * Linux kernel. Flags follow packetdrill's (`--flag=value` works).
 */
import type { Command } from 'commander';
import { applyOption, defaultConfig } from '../src/drill/config.js';
import { runDrill, type TargetName } from '../src/drill/drill.js';

const HELP = `
Scripts
  Scripts use packetdrill's language (google/packetdrill gtests/net/tcp, the
  kernel's tools/testing/selftests/net/packetdrill): each event is a time
  (0.1 absolute, +0.1 relative, +0~+0.05 or 0.1~0.2 a range, * any time) and
  - a system call with its expected result and errno:
      +0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
    socket bind listen accept connect write/send/sendto read/recv/recvfrom
    close shutdown setsockopt getsockopt fcntl(F_GETFL/F_SETFL O_NONBLOCK)
    poll getsockname getpeername ioctl(SIOCINQ/SIOCOUTQ) on TCP sockets,
    and the datagram calls on SOCK_DGRAM (UDP) sockets; a blocking call
    waits (in virtual time) while later lines run; 0.1...0.2 accept(...)
    checks when it returns; script fds are names (socket(...) = 4 works);
  - an inbound (<) or outbound (>) TCP segment:
      +0 < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
      +0 > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 1 ecr 100,nop,wscale 7>
    flags F S R P . U E W (or - for none); seq start:end(len) relative to
    the sender's ISN (the remote side's as written, the local host's mapped);
    ack, win, urg; options mss, sackOK, sack a:b c:d, TS val X ecr Y, nop,
    wscale, eol, md5, FO, or <...> to accept any (outbound only); [ect0]
    [ect1] [ce] [noecn] [ect01] (tos 0x..) (ttl N) before the flags;
    explicit ports as "< 40000>8080 S ..."; "< udp (100)"; "< icmp
    unreachable port_unreachable [1:101(100)]";
  - a \`shell command\`: sysctl, ss and nstat act on the usnet host and print
    like the Linux tools (sysctl -q/-n/-w/-e, ss -tan[H][o] [state S]
    [exclude S] [sport/dport = :N] [src/dst A], nstat -a -s -z -r -n
    [PATTERN]); tc qdisc, ip tcp_metrics and ethtool -K are accepted and
    ignored; everything else runs in /bin/sh in the script's directory
    (in a throw-away network namespace when root); -D definitions are in
    its environment;
  - %{ python }%: not run (usnet runs no Python); reported as skipped.
  Lines --name=value before the first event set options (the command line
  wins). A backquoted command before the first event runs first, one after
  the last event runs last even when the script fails.
  Outbound TS val is not checked (packetdrill's default); TS ecr is.

Markers (first lines of a script)
  // usnet-drill: kernel-only: <reason>   not run against usnet
  // usnet-drill: usnet-only: <reason>    not run against the kernel

Addresses and ports (packetdrill's defaults)
  ipv4: local 192.168.0.1, remote 192.0.2.1, gateway 192.168.0.2, netmask 255.255.0.0
  ipv6: local fd3d:fa7b:d17d::1, remote 2001:db8::1, gateway fd3d:fa7b:d17d:8888::, /48
  ipv4-mapped-ipv6: AF_INET6 sockets, IPv4 on the wire, v4-mapped addresses in calls
  bind(fd, ..., ...) binds local:8080; connect(fd, ..., ...) goes to remote:8080;
  connections the remote side opens come from port 40000.

Exit status: 0 when every script passed (or was marked for the other
target), 1 when any failed, 2 on bad usage.

Examples
  usnet drill test/drill/*.pkt
  usnet drill --ip_version=ipv6 -v --pcap=/tmp/run.pcap script.pkt
  sudo usnet drill --target kernel --tolerance_usecs=20000 script.pkt
`;

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export function register(program: Command): void {
  program
    .command('drill')
    .description(
      'run packetdrill scripts against usnet (virtual time) or the Linux kernel (TUN + netns, root)',
    )
    .argument('<scripts...>', 'script files (.pkt)')
    .option('--target <name>', 'usnet (default) or kernel', 'usnet')
    .option('--ip_version <v>', 'ipv4 (default), ipv6 or ipv4-mapped-ipv6')
    .option('--local_ip <addr>', "the local host's address")
    .option('--remote_ip <addr>', "the simulated remote host's address")
    .option('--gateway_ip <addr>', 'gateway address')
    .option('--netmask_ip <mask>', 'netmask of the local network')
    .option('--mtu <n>', 'MTU of the link (default 1500)')
    .option('--tolerance_usecs <n>', 'timing tolerance in microseconds (default 4000)')
    .option(
      '--tolerance_percent <p>',
      'extra tolerance, % of the time since the previous event (default 12.5)',
    )
    .option('--bind_port <n>', 'port of bind(fd, ..., ...) (default 8080)')
    .option('--connect_port <n>', 'port of connect(fd, ..., ...) (default 8080)')
    .option('--tcp_ts_tick_usecs <n>', 'accepted; outbound TS val is not checked')
    .option('-D, --define <NAME=value>', 'define a symbol for the scripts (repeatable)', collect, [])
    .option('--pcap <file>', 'write the packets of the run to a pcap file (one per script when several)')
    .option('-v, --verbose', 'trace every event')
    .option('--dry_run', 'parse the scripts and check their options; run nothing')
    .allowUnknownOption(true)
    .addHelpText('after', HELP)
    .action(async (scripts: string[], opts: Record<string, unknown>) => {
      const cfg = defaultConfig();
      const files: string[] = [];
      const errors: string[] = [];
      // unknown --flag=value (other packetdrill flags) arrive among the scripts
      for (const s of scripts) {
        if (s.startsWith('--')) {
          const eq = s.indexOf('=');
          const err = applyOption(
            cfg,
            eq < 0 ? s.slice(2) : s.slice(2, eq),
            eq < 0 ? null : s.slice(eq + 1),
            false,
          );
          if (err) errors.push(err);
        } else files.push(s);
      }
      // the address family first, so that explicit addresses are not reset by it
      const order = [
        'ip_version',
        'local_ip',
        'remote_ip',
        'gateway_ip',
        'netmask_ip',
        'mtu',
        'tolerance_usecs',
        'tolerance_percent',
        'bind_port',
        'connect_port',
        'tcp_ts_tick_usecs',
      ];
      for (const k of order) {
        const v = opts[k];
        if (typeof v === 'string') {
          const err = applyOption(cfg, k, v, false);
          if (err) errors.push(err);
        }
      }
      for (const d of opts.define as string[]) {
        const err = applyOption(cfg, 'define', d, false);
        if (err) errors.push(err);
      }
      if (opts.verbose) cfg.verbose = true;
      if (opts.dry_run) cfg.dryRun = true;
      const target = opts.target as string;
      if (target !== 'usnet' && target !== 'kernel')
        errors.push(`unknown --target ${target} (usnet or kernel)`);
      if (files.length === 0) errors.push('no script files given');
      if (errors.length > 0) {
        for (const e of errors) process.stderr.write(`usnet drill: ${e}\n`);
        process.exitCode = 2;
        return;
      }
      const sum = await runDrill(files, {
        target: target as TargetName,
        config: cfg,
        pcap: (opts.pcap as string | undefined) ?? null,
        out: (l) => process.stdout.write(`${l}\n`),
      });
      const parts = [`${sum.passed} passed`, `${sum.failed} failed`];
      if (sum.notRun > 0) parts.push(`${sum.notRun} not for this target`);
      process.stdout.write(`${parts.join(', ')}\n`);
      process.exitCode = sum.failed > 0 ? 1 : 0;
    });
}
