/**
 * The runner against the usnet target with scripts that must fail, checking
 * that each failure names the line, the field, and expected vs actual.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultConfig } from '../../src/drill/config.js';
import { runOne } from '../../src/drill/drill.js';

const OPEN = `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 65535 <mss 1460,sackOK,nop,nop,nop,wscale 7>
`;

async function run(body: string, pcap?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'drill-test-'));
  try {
    const f = join(dir, 't.pkt');
    writeFileSync(f, body);
    const cfg = defaultConfig();
    return { r: await runOne(f, { target: 'usnet', config: cfg, pcap: pcap ? join(dir, pcap) : null }), dir };
  } finally {
    if (!pcap) rmSync(dir, { recursive: true, force: true });
  }
}

test('a wrong ack number is reported with the field, both values and the decoded packet', async () => {
  const { r } = await run(`${OPEN}+0 > S. 0:0(0) ack 2 <...>\n`);
  assert.equal(r.ok, false);
  assert.match(
    r.error ?? '',
    /t\.pkt:6: error handling packet: live packet field tcp_ack_seq: expected: 2 vs actual: 1/,
  );
  assert.match(r.error ?? '', /script packet: 0\.000000 S\. 0:0\(0\) ack 2 <\.\.\.>/);
  assert.match(
    r.error ?? '',
    /actual packet: 0\.000000 S\. 0:0\(0\) ack 1 win \d+ <mss 1460,nop,nop,sackOK,nop,wscale \d+>/,
  );
});

test('wrong flags, options and window are each named', async () => {
  const flags = await run(`${OPEN}+0 > R. 0:0(0) ack 1 <...>\n`);
  assert.match(flags.r.error ?? '', /live packet field tcp_flags: expected: R\. vs actual: S\./);
  const opts = await run(`${OPEN}+0 > S. 0:0(0) ack 1 <mss 1000,nop,nop,sackOK,nop,wscale 7>\n`);
  assert.match(opts.r.error ?? '', /live packet field tcp_options mss: expected: <mss 1000,/);
  const win = await run(`${OPEN}+0 > S. 0:0(0) ack 1 win 1 <...>\n`);
  assert.match(win.r.error ?? '', /live packet field tcp_window: expected: 1 vs actual: \d+/);
});

test('timing: a packet outside the tolerance fails, a range accepts it', async () => {
  const late = await run(`${OPEN}+0.5 > S. 0:0(0) ack 1 <...>\n`);
  assert.match(
    late.r.error ?? '',
    /timing error: expected outbound packet at 0\.500000 sec but happened at 0\.000000 sec/,
  );
  const range = await run(`${OPEN}+0~+0.5 > S. 0:0(0) ack 1 <...>\n`);
  assert.equal(range.r.error, null);
  // the SYN-ACK is retransmitted 1 s later when the handshake does not complete
  const rtx = await run(`${OPEN}+0 > S. 0:0(0) ack 1 <...>\n+1 > S. 0:0(0) ack 1 <...>\n`);
  assert.equal(rtx.r.error, null);
});

test('system call results and errno are checked', async () => {
  const ret = await run('0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 listen(3, 1) = 1\n');
  assert.match(ret.r.error ?? '', /t\.pkt:2: runtime error in listen call: Expected result 1 but got 0/);
  // script fds are names for the target's fds, as in packetdrill
  const fds = await run(
    '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 7\n+0 bind(7, ..., ...) = 0\n+0 listen(7, 1) = 0\n+0 close(7) = 0\n',
  );
  assert.equal(fds.r.error, null);
  const errno = await run(`0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("10.9.9.9")}, 16) = -1 EADDRINUSE (Address already in use)
`);
  assert.match(
    errno.r.error ?? '',
    /Expected errno EADDRINUSE \(Address already in use\) but got EADDRNOTAVAIL/,
  );
  const ok = await run(`0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("10.9.9.9")}, 16) = -1 EADDRNOTAVAIL (Cannot assign requested address)
+0 getsockopt(3, SOL_SOCKET, SO_REUSEADDR, [0], [4]) = 0
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 getsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], [4]) = 0
`);
  assert.equal(ok.r.error, null);
  const out = await run(
    '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 getsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], [4]) = 0\n',
  );
  assert.match(out.r.error ?? '', /Bad optval: expected: \[1\] actual: \[0\]/);
});

test('struct out-values: the listed fields are compared, and only those', async () => {
  const sock = '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n';
  // a wrong field fails, naming it with both values
  const wrong = await run(`${sock}+0 getsockopt(3, SOL_TCP, TCP_INFO, {tcpi_state=TCP_LISTEN}, ...) = 0\n`);
  assert.match(
    wrong.r.error ?? '',
    /t\.pkt:2: runtime error in getsockopt call: Bad optval: expected: \{tcpi_state=TCP_LISTEN\} actual: \{tcpi_state=7\} \(tcpi_state: expected TCP_LISTEN, got 7\)/,
  );
  // a field the target does not report is a failure, not a pass
  const unknown = await run(`${sock}+0 getsockopt(3, SOL_TCP, TCP_INFO, {tcpi_no_such_field=0}, ...) = 0\n`);
  assert.match(unknown.r.error ?? '', /tcpi_no_such_field not reported by the target/);
  // a shorter optlen leaves the later fields out, as Linux copies min(optlen, sizeof)
  const short = await run(`${sock}+0 getsockopt(3, SOL_TCP, TCP_INFO, {tcpi_bytes_acked=0}, [104]) = 0\n`);
  assert.match(short.r.error ?? '', /tcpi_bytes_acked not reported by the target/);
  // fields not listed are not compared; `...` matches any value
  const ok = await run(
    `${sock}+0 getsockopt(3, SOL_TCP, TCP_INFO, {tcpi_state=TCP_CLOSE, tcpi_rto=1000000, tcpi_snd_cwnd=...}, ...) = 0\n`,
  );
  assert.equal(ok.r.error, null);
});

test('list out-values must have as many items as written: msg_control=[] means none', async () => {
  const body = `${OPEN}+0 > S. 0:0(0) ack 1 <...>
+.01 < . 1:1(0) ack 1 win 502
+0 accept(3, ..., ...) = 4
+0 setsockopt(4, SOL_TCP, TCP_INQ, [1], 4) = 0
+0 < P. 1:101(100) ack 1 win 502
+0 > . 1:1(0) ack 101
+0 recvmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 60}], msg_flags=0, msg_control=CONTROL}, 0) = 60
`;
  const none = await run(body.replace('CONTROL', '[]'));
  assert.match(
    none.r.error ?? '',
    /t\.pkt:12: runtime error in recvmsg call: .*\(msg_control: 0 item\(s\) expected, 1 returned\)/,
  );
  const inq = await run(
    body.replace('CONTROL', '[{cmsg_level=SOL_TCP, cmsg_type=TCP_CM_INQ, cmsg_data=40}]'),
  );
  assert.equal(inq.r.error, null);
});

test('sockaddr out-values compare the family too', async () => {
  const { r } = await run(`${OPEN}+0 > S. 0:0(0) ack 1 <...>
+.01 < . 1:1(0) ack 1 win 502
+0 accept(3, ..., ...) = 4
+0 getpeername(4, {sa_family=AF_INET6, sin6_port=htons(40000), sin6_addr=inet6_addr("192.0.2.1")}, [28]) = 0
`);
  assert.match(r.error ?? '', /t\.pkt:9: runtime error in getpeername call: Bad argument 1/);
});

test('a failing shell command fails the script; %{ }% is reported skipped', async () => {
  const sh = await run('0 `ss -tan | grep -q ESTAB`\n');
  assert.match(
    sh.r.error ?? '',
    /t\.pkt:1: error executing `ss -tan \| grep -q ESTAB` command: non-zero status 1/,
  );
  const code = await run(
    '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 %{ assert tcpi_snd_cwnd == 10 }%\n',
  );
  assert.equal(code.r.ok, true);
  assert.deepEqual(code.r.skipped, [
    't.pkt:2: skipped %{ assert tcpi_snd_cwnd == 10 }%'.replace('t.pkt', code.r.file),
  ]);
});

test('a blocking accept waits in virtual time for the handshake', async () => {
  const { r } = await run(`0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0...0.2 accept(3, ..., ...) = 4
+.1 < S 0:0(0) win 65535 <mss 1460>
+0 > S. 0:0(0) ack 1 <mss 1460>
+.1 < . 1:1(0) ack 1 win 65535
+0 close(4) = 0
`);
  assert.equal(r.error, null);
});

test('markers: a kernel-only script is not run against usnet', async () => {
  const { r } = await run('// usnet-drill: kernel-only: needs the kernel\n0 bogus_call() = 0\n');
  assert.equal(r.ok, true);
  assert.equal(r.notRun, 'kernel-only: needs the kernel');
});

test('--pcap writes every packet of the run', async () => {
  const { r, dir } = await run(`${OPEN}+0 > S. 0:0(0) ack 1 <...>\n`, 'run.pcap');
  try {
    assert.equal(r.error, null);
    const b = readFileSync(join(dir, 'run.pcap'));
    assert.equal(b.readUInt32LE(0), 0xa1b2c3d4);
    assert.equal(b.readUInt32LE(20), 101);
    // two records: the SYN in and the SYN-ACK out
    const first = b.readUInt32LE(24 + 8);
    const second = b.readUInt32LE(24 + 16 + first + 8);
    assert.equal(24 + 16 + first + 16 + second, b.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
