import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PacketAction, SyscallAction, TcpSpec } from '../../src/drill/ast.js';
import { DrillParseError, parseScript } from '../../src/drill/parser.js';

const parse = (s: string, defines?: Record<string, string>) => parseScript(s, 't.pkt', { defines });
const tcp = (a: unknown) => (a as PacketAction).spec as TcpSpec;

// Written in the style of gtests/net/tcp and the kernel's selftests/net/packetdrill.
const PASSIVE = `// Test that a passive open works.
--tolerance_usecs=10000
\`./defaults.sh
sysctl -q net.ipv4.tcp_timestamps=1\`

    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0

   +0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
   +0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
  +.1 < . 1:1(0) ack 1 win 257
   +0 accept(3, ..., ...) = 4
   +0 write(4, ..., 1000) = 1000
   +0 > P. 1:1001(1000) ack 1
 +.01 < . 1:1(0) ack 1001 win 257 <sack 1:2 3:4,nop,nop>
   +0 %{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%
   +0 \`ss -tan | grep ESTAB\`
`;

test('a passive-open script parses into options, init command and events', () => {
  const s = parse(PASSIVE);
  assert.deepEqual(
    s.options.map((o) => [o.name, o.value]),
    [['tolerance_usecs', '10000']],
  );
  assert.equal(s.initCommand?.command, './defaults.sh\nsysctl -q net.ipv4.tcp_timestamps=1');
  assert.equal(s.events.length, 13);
  assert.deepEqual(s.events[0].time, { kind: 'absolute', us: 0 });
  assert.deepEqual(s.events[6].time, { kind: 'relative', us: 100000 });
  const syn = tcp(s.events[4].action);
  assert.equal(syn.flags, 'S');
  assert.equal(syn.win, 32792);
  assert.deepEqual(syn.options, [
    { kind: 'mss', value: 1000 },
    { kind: 'sackOK' },
    { kind: 'nop' },
    { kind: 'nop' },
    { kind: 'nop' },
    { kind: 'wscale', value: 7 },
  ]);
  const synack = tcp(s.events[5].action);
  assert.equal(synack.flags, 'S.');
  assert.equal(synack.ack, 1);
  assert.equal(synack.win, null);
  const data = tcp(s.events[9].action);
  assert.deepEqual([data.seq, data.endSeq, data.len], [1, 1001, 1000]);
  const sack = tcp(s.events[10].action);
  assert.deepEqual(sack.options?.[0], {
    kind: 'sack',
    blocks: [
      [1, 2],
      [3, 4],
    ],
  });
  assert.equal(s.events[11].action.type, 'code');
  assert.equal(s.events[12].action.type, 'command');
  const setsockopt = s.events[1].action as SyscallAction;
  assert.equal(setsockopt.args[3].kind, 'list');
});

test('errno with strerror text, notes, blocking end times, structs', () => {
  const s = parse(`0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0 connect(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("192.0.2.1")}, 16) = -1 EINPROGRESS (Operation now in progress)
+0 bind(3, ..., ...) = -1 EADDRNOTAVAIL (Cannot assign requested address)
+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0
+0 poll([{fd=3, events=POLLOUT, revents=POLLOUT}], 1, 0) = 1
0.1...0.2 accept(3, ..., ...) = 4
+0 read(4, ..., 1000) = 0 (EOF)
+0 getsockopt(4, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0
`);
  const c = s.events[2].action as SyscallAction;
  assert.deepEqual(c.errno, { code: 'EINPROGRESS', note: 'Operation now in progress' });
  assert.equal(c.args[1].kind, 'struct');
  const b = s.events[3].action as SyscallAction;
  assert.deepEqual(b.errno, { code: 'EADDRNOTAVAIL', note: 'Cannot assign requested address' });
  const f = s.events[1].action as SyscallAction;
  assert.equal(f.args[2].kind, 'or');
  const a = s.events[6].action as SyscallAction;
  assert.deepEqual(s.events[6].time, { kind: 'absolute', us: 100000 });
  assert.equal(a.endUs, 200000);
  assert.equal((s.events[7].action as SyscallAction).note, 'EOF');
});

test('time forms: absolute, relative, ranges and any', () => {
  const s = parse(`0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0~+0.05 > S 0:0(0) <...>
0.1~0.3 > S 0:0(0) <...>
* > S 0:0(0) <...>
1.5 close(3) = 0
`);
  assert.deepEqual(
    s.events.map((e) => e.time),
    [
      { kind: 'absolute', us: 0 },
      { kind: 'relative-range', us: 0, endUs: 50000 },
      { kind: 'absolute-range', us: 100000, endUs: 300000 },
      { kind: 'any' },
      { kind: 'absolute', us: 1500000 },
    ],
  );
  assert.equal(tcp(s.events[1].action).options, null);
});

test('flags, ECN ip info, ports, TS and every option kind', () => {
  const s = parse(`0 < [ect0] SEW 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7,eol>
+0 > [ect01] SE. 0:0(0) ack 1 <...>
+0 < 40000>8080 F. 1:1(0) ack 1 win 100 urg 0
+0 > R 1:1(0)
+0 > R. 1:1(0) ack 1
+0 < - 1:1(0) win 10
`);
  assert.equal(tcp(s.events[0].action).flags, 'SEW');
  assert.equal((s.events[0].action as PacketAction).ip?.ecn, 'ect0');
  assert.deepEqual(tcp(s.events[0].action).options?.[2], { kind: 'ts', val: 100, ecr: 0 });
  assert.equal(tcp(s.events[1].action).flags, 'SE.');
  const p = s.events[2].action as PacketAction;
  assert.deepEqual([p.srcPort, p.dstPort], [40000, 8080]);
  assert.equal(tcp(p).urg, 0);
  assert.equal(tcp(s.events[5].action).flags, '');
});

test('UDP and ICMP lines', () => {
  const s = parse(`0 < udp (100)
+0 > icmp unreachable port_unreachable [udp (100)]
+0 < icmp unreachable frag_needed mtu 1200 [1:1461(1460)]
`);
  const u = (s.events[0].action as PacketAction).spec;
  assert.deepEqual(u, { proto: 'udp', len: 100, srcPort: null, dstPort: null });
  const i = (s.events[2].action as PacketAction).spec;
  assert.equal(i.proto, 'icmp');
  if (i.proto === 'icmp') {
    assert.equal(i.icmpCode, 'frag_needed');
    assert.equal(i.mtu, 1200);
    assert.deepEqual(i.echoed, { proto: 'tcp', seq: 1, len: 1460 });
  }
});

test('-D definitions expand to the tokens of their value', () => {
  const s = parse('0 setsockopt(3, SOL_SOCKET, SO_RCVBUF, [BUF], 4) = 0\n+0 < S 0:0(0) win WIN\n', {
    BUF: '65536',
    WIN: '1000',
  });
  const a = s.events[0].action as SyscallAction;
  assert.deepEqual(a.args[3], {
    kind: 'list',
    items: [
      {
        kind: 'int',
        value: 65536,
        hex: false,
        loc: a.args[3].kind === 'list' ? a.args[3].items[0].loc : undefined,
      },
    ],
    loc: a.args[3].loc,
  });
  assert.equal(tcp(s.events[1].action).win, 1000);
});

test('cleanup command and markers', () => {
  const s = parse(`// usnet-drill: kernel-only: uses a sysctl usnet does not have
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
\`echo done\`
`);
  assert.deepEqual(
    s.markers.map((m) => [m.kind, m.reason]),
    [['kernel-only', 'uses a sysctl usnet does not have']],
  );
  assert.equal(s.cleanupCommand?.command, 'echo done');
  assert.throws(() => parse('// usnet-drill: kernel-only:\n'), /needs a written reason/);
});

test('parse errors name file:line:column', () => {
  const cases: Array<[string, RegExp]> = [
    ['0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 > S. 0:0 ack 1\n', /^t\.pkt:2:13: expected '\('/],
    ['0 < S 0:5(0) win 1\n', /^t\.pkt:1:7: inconsistent TCP sequence numbers/],
    ['0 < S 0:0(0) <...>\n', /^t\.pkt:1:14: <\.\.\.> for TCP options can only be used with outbound/],
    ['* close(3) = 0\n', /^t\.pkt:1:1: event time \* can only be used with outbound packets/],
    ['0 close(3 = 0\n', /^t\.pkt:1:11: expected '\)'/],
    ['0 < S 0:0(0) <mss 1460,bogus 3>\n', /^t\.pkt:1:24: unknown TCP option/],
    ['0 "unterminated\n', /^t\.pkt:1:3: unterminated string/],
    ['0 close(3) = 0\n--late=1\n', /^t\.pkt:2:1: --options must come before the first event/],
  ];
  for (const [src, re] of cases) {
    try {
      parse(src);
      assert.fail(`no error for ${JSON.stringify(src)}`);
    } catch (e) {
      assert.ok(e instanceof DrillParseError, String(e));
      assert.match(e.message, re);
    }
  }
});

test('AccECN: AE flag letter, ACE counters after the dot, the ECN option', () => {
  const s = parse(`0 < SEWA 0:0(0) win 32792 <mss 1050,nop,nop,sackOK,nop,wscale 8>
+.002 > SW. 0:0(0) ack 1 <mss 1460,ECN e1b 1 ceb 0 e0b 1,nop,nop,nop,sackOK,nop,wscale 8>
+.002 > [ect0] P.6 1:101(100) ack 1 <ECN e1b 1 ceb 0 e0b 1,nop>
+.002 > [ect0] .5 101:101(0) ack 101 <ECN e1b 1 ceb 0 e0b 101,nop>
+.002 > [noecn] EAP. 1:1001(1000) ack 1 <...>
`);
  assert.deepEqual(
    s.events.map((e) => tcp(e.action).flags),
    ['SEWA', 'SW.', 'P.6', '.5', 'EAP.'],
  );
  assert.deepEqual(tcp(s.events[1].action).options?.[1], {
    kind: 'accecn',
    fields: [
      ['e1b', 1],
      ['ceb', 0],
      ['e0b', 1],
    ],
  });
});

// Written for this test in the style of the kernel selftests and gtests
// (multi-line calls, msghdr/iovec, epoll structs, escapes, notes without errno).
const KERNEL_STYLE = `// SPDX-License-Identifier: GPL-2.0
--mss=1000
--tolerance_usecs=10000

\`./defaults.sh
ethtool -K tun0 tso off
./set_sysctls.py /proc/sys/net/ipv4/tcp_fastopen=0x207\`

    0 socket(..., SOCK_STREAM|SOCK_NONBLOCK, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_TCP, TCP_FASTOPEN_KEY,
                 "\\xa1\\xa1\\xa1\\xa1\\xb2\\xb2\\xb2\\xb2\\xc3\\xc3\\xc3\\xc3\\xd4\\xd4\\xd4\\xd4", 16) = 0
   +0 setsockopt(3, SOL_TCP, TCP_FASTOPEN_KEY, "", 3) = -1 (Invalid Argument)
   +0 sendto(3, ..., 0, MSG_FASTOPEN, ..., ...) = -1 EINPROGRESS (Operation is now in progress)
   +0 > S 0:0(0) <mss 1460,nop,nop,sackOK,nop,wscale 8,FO,nop,nop>
 +.01 < S. 123:123(0) ack 1 win 5840 <mss 1040,nop,nop,sackOK,nop,wscale 6,FO abcd1234,nop,nop>
 +.01...0.020 sendmsg(4, {msg_name(...)=...,
                          msg_iov(3)=[{..., 500},{..., 1000},{...,400}],
                          msg_flags=0}, MSG_NOSIGNAL|MSG_FASTOPEN) = 1900   // trailing comment
   +0 epoll_ctl(5, EPOLL_CTL_ADD, 4, {events=EPOLLOUT|EPOLLIN|EPOLLET, fd=4}) = 0
   +0 epoll_wait(5, {events=0, ptr=0}, 1, 0) = 0
   +0 getsockopt(4, SOL_TCP, TCP_NOTSENT_LOWAT, [0xffffffff], [4]) = 0
   +0 < icmp unreachable frag_needed mtu 1200 [1:1461(1460)]
   +0~+.04 > .  1:1(0) ack 1002
   *  > F. 1:1(0) ack 1 <nop, nop, sack 1001:2001>
   +0 %{ assert (tcpi_options & TCPI_OPT_SYN_DATA) == 0, tcpi_options }%
/* a C comment
   over two lines */
\`/tmp/sysctl_restore_\${PPID}.sh\`
`;

test('kernel-selftest style constructs parse', () => {
  const s = parse(KERNEL_STYLE);
  assert.deepEqual(
    s.options.map((o) => o.name),
    ['mss', 'tolerance_usecs'],
  );
  assert.match(s.initCommand?.command ?? '', /ethtool -K tun0 tso off/);
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the script's shell text, ${PPID} included
  assert.equal(s.cleanupCommand?.command, '/tmp/sysctl_restore_${PPID}.sh');
  assert.equal(s.events.length, 14);
  const key = s.events[1].action as SyscallAction;
  assert.deepEqual(key.args[3], {
    kind: 'string',
    value: '\xa1\xa1\xa1\xa1\xb2\xb2\xb2\xb2\xc3\xc3\xc3\xc3\xd4\xd4\xd4\xd4',
    more: false,
    loc: key.args[3].loc,
  });
  const inval = s.events[2].action as SyscallAction;
  assert.equal(inval.errno, null);
  assert.equal(inval.note, 'Invalid Argument');
  const msg = s.events[6].action as SyscallAction;
  assert.equal(msg.endUs, 20000);
  assert.equal(msg.args[1].kind, 'struct');
  assert.deepEqual(tcp(s.events[4].action).options?.at(-3), { kind: 'fastopen', cookie: '', exp: false });
  assert.deepEqual(tcp(s.events[5].action).options?.at(-3), {
    kind: 'fastopen',
    cookie: 'abcd1234',
    exp: false,
  });
  assert.equal(s.events[12].time.kind, 'any');
  assert.equal(s.events[13].action.type, 'code');
});
