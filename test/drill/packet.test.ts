import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildTcpPacket,
  decodePacket,
  F_ACK,
  F_AE,
  F_CWR,
  F_ECE,
  F_PSH,
  F_SYN,
  flagsString,
  formatTcp,
  parseFlags,
} from '../../src/drill/packet.js';
import { mustParseAddr } from '../../src/wire/addr.js';

test('flag text <-> bits, including AccECN ACE digits', () => {
  assert.equal(parseFlags('S.'), F_SYN | F_ACK);
  assert.equal(parseFlags('P.'), F_PSH | F_ACK);
  assert.equal(parseFlags('SEW'), F_SYN | F_ECE | F_CWR);
  assert.equal(parseFlags('SEWA'), F_SYN | F_ECE | F_CWR | F_AE);
  assert.equal(parseFlags('P.6'), F_PSH | F_ACK | F_AE | F_CWR);
  assert.equal(parseFlags('.5'), F_ACK | F_AE | F_ECE);
  assert.equal(parseFlags(''), 0);
  assert.equal(flagsString(F_SYN | F_ACK), 'S.');
  assert.equal(flagsString(0), '-');
  assert.throws(() => parseFlags('X'), /unknown TCP flag/);
});

test('a built segment decodes back to the same fields and prints like packetdrill', () => {
  for (const [src, dst] of [
    ['192.0.2.1', '192.168.0.1'],
    ['2001:db8::1', 'fd3d:fa7b:d17d::1'],
  ]) {
    const s = mustParseAddr(src);
    const d = mustParseAddr(dst);
    const bytes = buildTcpPacket(
      { family: s.length === 4 ? 4 : 6, src: s, dst: d, tos: 2, ttl: 64, flowLabel: 0 },
      {
        srcPort: 40000,
        dstPort: 8080,
        seq: 1000,
        ack: 5001,
        flags: F_ACK | F_PSH,
        window: 502,
        urgent: 0,
        options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'ts', val: 7, ecr: 9 }],
        payloadLen: 100,
      },
    );
    const p = decodePacket(bytes);
    assert.equal(p.error, null);
    assert.equal(p.tcp?.seq, 1000);
    assert.equal(p.tcp?.payloadLen, 100);
    assert.equal(
      formatTcp(p.tcp!, 999, 5000, p.ip.tos),
      '[ect0] P. 1:101(100) ack 1 win 502 <nop,nop,TS val 7 ecr 9>',
    );
  }
});

test('garbage does not decode and does not throw', () => {
  assert.match(decodePacket(new Uint8Array([0x45, 0, 0])).error ?? '', /IPv4/);
  assert.match(decodePacket(new Uint8Array([0x10])).error ?? '', /IP version 1/);
  assert.equal(decodePacket(new Uint8Array(0)).error, 'empty packet');
});
