import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tcpFlagsText, tcpOptionsText } from '../../src/wire/tcpdump.js';

test('flag letters in tcpdump table order, "none" for no flag', () => {
  assert.equal(tcpFlagsText(0x12), 'S.');
  assert.equal(tcpFlagsText(0x19), 'FP.');
  assert.equal(tcpFlagsText(0xff), 'FSRP.UEW');
  assert.equal(tcpFlagsText(0), 'none');
});

test('options as tcpdump lists them, SACK edges through the relative mapping', () => {
  const text = tcpOptionsText(
    [
      { kind: 'mss', mss: 1460 },
      { kind: 'sackOk' },
      { kind: 'ts', val: 7, ecr: 0 },
      { kind: 'nop' },
      { kind: 'wscale', shift: 7 },
      { kind: 'sack', blocks: [110, 120, 150, 160] },
      { kind: 'unknown', code: 30, data: new Uint8Array(2) },
      { kind: 'eol' },
    ],
    (x) => x - 100,
  );
  assert.equal(text, 'mss 1460,sackOK,TS val 7 ecr 0,nop,wscale 7,sack 2 {10:20}{50:60},unknown-30,eol');
  assert.equal(
    tcpOptionsText([], (x) => x),
    '',
  );
});
