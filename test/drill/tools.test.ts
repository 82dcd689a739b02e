import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ToolShell } from '../../src/drill/shell.js';
import { type NstatHistory, runNstat, runSs, runSysctl, type SsRow } from '../../src/drill/tools.js';
import { ssTimerText } from '../../src/drill/usnet-target.js';
import { Sysctl } from '../../src/sysctl.js';

const ROWS: SsRow[] = [
  { state: 'LISTEN', recvQ: 1, sendQ: 3, family: 4, laddr: '127.0.0.1', lport: 45679, raddr: null, rport: 0 },
  {
    state: 'ESTAB',
    recvQ: 0,
    sendQ: 0,
    family: 4,
    laddr: '127.0.0.1',
    lport: 55880,
    raddr: '127.0.0.1',
    rport: 45679,
  },
  { state: 'LISTEN', recvQ: 0, sendQ: 5, family: 6, laddr: '::1', lport: 45678, raddr: null, rport: 0 },
  {
    state: 'TIME-WAIT',
    recvQ: 0,
    sendQ: 0,
    family: 4,
    laddr: '192.168.0.1',
    lport: 8080,
    raddr: '192.0.2.1',
    rport: 40000,
  },
];

// Expected texts are what iproute2 6.1's ss printed on the reference machine
// for the same sockets (trailing spaces included).
test('ss -tan lays out columns like iproute2 ss', () => {
  const r = runSs(['-tan'], ROWS.slice(0, 3));
  assert.equal(
    r.stdout,
    [
      'State  Recv-Q Send-Q Local Address:Port  Peer Address:Port Process',
      'LISTEN 1      3          127.0.0.1:45679      0.0.0.0:*           ',
      'ESTAB  0      0          127.0.0.1:55880    127.0.0.1:45679       ',
      'LISTEN 0      5              [::1]:45678         [::]:*           ',
      '',
    ].join('\n'),
  );
  const h = runSs(['-tanH'], ROWS.slice(0, 3));
  assert.equal(
    h.stdout,
    [
      'LISTEN 1      3      127.0.0.1:45679   0.0.0.0:*    ',
      'ESTAB  0      0      127.0.0.1:55880 127.0.0.1:45679',
      'LISTEN 0      5          [::1]:45678      [::]:*    ',
      '',
    ].join('\n'),
  );
});

test('ss state filters drop the State column for one state; default hides listeners', () => {
  const r = runSs(['-tan', 'state', 'time-wait'], ROWS);
  assert.equal(
    r.stdout,
    'Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n0      0        192.168.0.1:8080    192.0.2.1:40000       \n',
  );
  const d = runSs(['-tn'], ROWS);
  assert.ok(!d.stdout.includes('LISTEN'));
  assert.ok(d.stdout.includes('TIME-WAIT'));
  const ex = runSs(['-tanH', 'exclude', 'listening'], ROWS);
  assert.equal(ex.stdout.split('\n').filter(Boolean).length, 2);
  const f = runSs(['-tanH', '(', 'sport', '=', ':8080', 'or', 'dport', '=', ':45679', ')'], ROWS);
  assert.equal(f.stdout.split('\n').filter(Boolean).length, 2);
  assert.equal(runSs(['-tan', 'state', 'bogus'], ROWS).status, 1);
});

test('ss -l lists listening sockets only; -a and a state filter win over it; a dual-stack :: prints as *', () => {
  const l = runSs(['-tlnH'], ROWS);
  assert.deepEqual(
    l.stdout
      .split('\n')
      .filter(Boolean)
      .map((x) => x.split(/ +/)[0]),
    ['LISTEN', 'LISTEN'],
  );
  assert.equal(runSs(['--listening', '-tnH'], ROWS).stdout, l.stdout);
  assert.equal(runSs(['-tlanH'], ROWS).stdout, runSs(['-tanH'], ROWS).stdout);
  assert.ok(runSs(['-tlnH', 'state', 'time-wait'], ROWS).stdout.includes('192.0.2.1:40000'));
  // as iproute2 prints a dual-stack (v6only = 0) wildcard listener: `*:8080 *:*`
  const dual: SsRow[] = [
    {
      state: 'LISTEN',
      recvQ: 0,
      sendQ: 128,
      family: 6,
      laddr: null,
      lport: 8081,
      raddr: null,
      rport: 0,
      v6only: false,
    },
    {
      state: 'LISTEN',
      recvQ: 0,
      sendQ: 128,
      family: 6,
      laddr: null,
      lport: 8082,
      raddr: null,
      rport: 0,
      v6only: true,
    },
  ];
  assert.deepEqual(
    runSs(['-tlnH'], dual)
      .stdout.split('\n')
      .filter(Boolean)
      .map((x) => x.trim().split(/ +/).slice(3)),
    [
      ['*:8081', '*:*'],
      ['[::]:8082', '[::]:*'],
    ],
  );
});

test('ss -o prints the timer where the Process column would be padded', () => {
  const rows: SsRow[] = [
    {
      state: 'LISTEN',
      recvQ: 0,
      sendQ: 3,
      family: 4,
      laddr: '127.0.0.1',
      lport: 45689,
      raddr: null,
      rport: 0,
    },
    {
      state: 'TIME-WAIT',
      recvQ: 0,
      sendQ: 0,
      family: 4,
      laddr: '127.0.0.1',
      lport: 48842,
      raddr: '127.0.0.1',
      rport: 45689,
      timer: '(timewait,59sec,0)',
    },
  ];
  // as iproute2 6.1 printed them on the reference machine
  assert.equal(
    runSs(['-tano'], rows).stdout,
    [
      'State     Recv-Q Send-Q Local Address:Port  Peer Address:Port Process',
      'LISTEN    0      3          127.0.0.1:45689      0.0.0.0:*           ',
      'TIME-WAIT 0      0          127.0.0.1:48842    127.0.0.1:45689 timer:(timewait,59sec,0)',
      '',
    ].join('\n'),
  );
  assert.equal(
    runSs(['-tanoH', 'state', 'time-wait'], rows).stdout,
    '0      0      127.0.0.1:48842 127.0.0.1:45689 timer:(timewait,59sec,0)\n',
  );
  assert.equal(ssTimerText(59_500), '59sec');
  assert.equal(ssTimerText(1200), '1.200ms');
  assert.equal(ssTimerText(200), '200ms');
  assert.equal(ssTimerText(90_000), '1min30sec');
});

test('nstat prints nstat columns, deltas since its history, -s keeps the history', () => {
  const h: NstatHistory = { values: null };
  const c = { TcpActiveOpens: 21, TcpExtTW: 9, TcpExtTWKilled: 0 };
  assert.equal(
    runNstat(['-saz', 'TcpExtTW', 'TcpActiveOpens'], c, h).stdout,
    '#kernel\nTcpActiveOpens                  21                 0.0\nTcpExtTW                        9                  0.0\n',
  );
  assert.equal(h.values, null);
  assert.equal(
    runNstat(['TcpExtTW*'], c, h).stdout,
    '#kernel\nTcpExtTW                        9                  0.0\n',
  );
  c.TcpExtTW = 12;
  assert.equal(
    runNstat(['-s', 'TcpExtTW'], c, h).stdout,
    '#kernel\nTcpExtTW                        3                  0.0\n',
  );
  assert.equal(
    runNstat(['-az', 'TcpExtTWRecycled'], c, h).stdout,
    '#kernel\nTcpExtTWRecycled                0                  0.0\n',
  );
});

test('sysctl reads, writes, -n, -q, unknown names', () => {
  const s = new Sysctl();
  assert.deepEqual(runSysctl(['net.ipv4.tcp_rmem'], s), {
    status: 0,
    stdout: 'net.ipv4.tcp_rmem = 4096\t131072\t33554432\n',
    stderr: '',
  });
  assert.equal(runSysctl(['-w', 'net.ipv4.tcp_sack=0'], s).stdout, 'net.ipv4.tcp_sack = 0\n');
  assert.equal(s.v['net.ipv4.tcp_sack'], 0);
  assert.equal(runSysctl(['-q', 'net/ipv4/tcp_timestamps=0'], s).stdout, '');
  assert.equal(s.v['net.ipv4.tcp_timestamps'], 0);
  assert.equal(runSysctl(['-n', 'net.ipv4.tcp_sack'], s).stdout, '0\n');
  const bad = runSysctl(['-q', 'net.ipv4.nope=1'], s);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /cannot stat \/proc\/sys\/net\/ipv4\/nope/);
  assert.equal(runSysctl(['-e', '-q', 'net.ipv4.nope=1'], s).status, 0);
});

test('sysctl accepts and keeps Linux knobs usnet has no use for (pacing, Fast Open key, FACK)', () => {
  // what the kernel selftests' defaults.sh writes; each read back as a fresh 6.18 namespace prints it
  const s = new Sysctl();
  assert.equal(runSysctl(['-n', 'net.ipv4.tcp_pacing_ss_ratio'], s).stdout, '200\n');
  for (const item of [
    'net.ipv4.tcp_fack=0',
    'net.ipv4.tcp_pacing_ss_ratio=200',
    'net.ipv4.tcp_pacing_ca_ratio=120',
    'net.ipv4.tcp_fastopen_key=a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4',
  ])
    assert.deepEqual(runSysctl(['-q', item], s), { status: 0, stdout: '', stderr: '' }, item);
  assert.equal(
    runSysctl(['-w', 'net.ipv4.tcp_pacing_ca_ratio=90'], s).stdout,
    'net.ipv4.tcp_pacing_ca_ratio = 90\n',
  );
  assert.equal(runSysctl(['-n', 'net.ipv4.tcp_pacing_ca_ratio'], s).stdout, '90\n');
  assert.equal(
    runSysctl(['net/ipv4/tcp_fastopen_key'], s).stdout,
    'net.ipv4.tcp_fastopen_key = a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4\n',
  );
  // values are per stack
  assert.equal(runSysctl(['-n', 'net.ipv4.tcp_pacing_ca_ratio'], new Sysctl()).stdout, '120\n');
  // Linux's limits: the ratios are 0..1000, the key is four hex words
  for (const bad of [
    'net.ipv4.tcp_pacing_ss_ratio=1001',
    'net.ipv4.tcp_fastopen_key=zz',
    'net.ipv4.tcp_fack=x',
  ]) {
    const r = runSysctl(['-q', '-w', bad], s);
    assert.equal(r.status, 1, bad);
    assert.match(r.stderr, /setting key "net\.ipv4\.tcp_\w+": Invalid argument/);
  }
  assert.equal(runSysctl(['-n', 'net.ipv4.tcp_pacing_ss_ratio'], s).stdout, '200\n');
});

test('the tool shell runs pipelines with sysctl/ss/nstat answered by the runner', async () => {
  const s = new Sysctl();
  const sh = new ToolShell((tool, argv) => {
    if (tool === 'sysctl') return runSysctl(argv, s);
    if (tool === 'ss') return runSs(argv, ROWS);
    return runNstat(argv, { TcpExtTW: 4 }, { values: null });
  });
  try {
    const r = await sh.run(
      'sysctl -q net.ipv4.tcp_tw_reuse=1 && sysctl -n net.ipv4.tcp_tw_reuse && ss -tanH state time-wait | wc -l && nstat -az TcpExtTW | awk \'/TW/ {print $2}\' && echo "$FOO"',
      { cwd: '/', env: { FOO: 'bar' } },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '1\n1\n4\nbar\n');
    assert.equal(s.v['net.ipv4.tcp_tw_reuse'], 1);
    const f = await sh.run('sysctl net.ipv4.nope', { cwd: '/', env: {} });
    assert.equal(f.status, 1);
  } finally {
    await sh.close();
  }
});

test('nstat never prints gauges like TcpCurrEstab (as iproute2 nstat, seen on the kernel)', () => {
  const h: NstatHistory = { values: null };
  assert.equal(runNstat(['-az', 'TcpCurrEstab'], { TcpCurrEstab: 1 }, h).stdout, '#kernel\n');
  assert.equal(
    runNstat(['-az'], { TcpCurrEstab: 1, TcpInSegs: 3 }, h).stdout,
    '#kernel\nTcpInSegs                       3                  0.0\n',
  );
});
