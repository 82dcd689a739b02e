/**
 * The nstat counters TCP maintains, resolved to indices once per stack so
 * the packet path increments by index (src/counters.ts).
 */
import type { Counters } from '../counters.js';

const NAMES = [
  'TcpActiveOpens',
  'TcpPassiveOpens',
  'TcpAttemptFails',
  'TcpEstabResets',
  'TcpCurrEstab',
  'TcpInSegs',
  'TcpOutSegs',
  'TcpRetransSegs',
  'TcpInErrs',
  'TcpOutRsts',
  'TcpInCsumErrors',
  'TcpExtListenOverflows',
  'TcpExtListenDrops',
  'TcpExtTCPChallengeACK',
  'TcpExtTCPSYNChallenge',
  'TcpExtSyncookiesSent',
  'TcpExtSyncookiesRecv',
  'TcpExtSyncookiesFailed',
  'TcpExtTCPReqQFullDoCookies',
  'TcpExtTCPReqQFullDrop',
  'TcpExtDelayedACKs',
  'TcpExtTCPTimeouts',
  'TcpExtTCPSynRetrans',
  'TcpExtTCPOFOQueue',
  'TcpExtTCPOFODrop',
  'TcpExtTCPOFOMerge',
  'TcpExtPAWSEstab',
  'TcpExtTCPACKSkippedSeq',
  'TcpExtTCPACKSkippedChallenge',
  'TcpExtTCPAbortOnData',
  'TcpExtTCPAbortOnClose',
  'TcpExtTCPAbortOnLinger',
  'TcpExtTCPAbortOnTimeout',
  'TcpExtTCPAbortOnMemory',
  'TcpExtTCPKeepAlive',
  'TcpExtTCPWinProbe',
  'TcpExtTCPPureAcks',
  'TcpExtTCPHPAcks',
  'TcpExtTCPRenoRecovery',
  'TcpExtTCPLossProbes',
  'TcpExtTCPFastRetrans',
  'TcpExtTCPSlowStartRetrans',
  'TcpExtTCPDSACKOldSent',
  'TcpExtTCPDSACKOfoSent',
  'TcpExtTCPDSACKRecv',
  'TcpExtTCPDSACKOfoRecv',
  'TcpExtTCPDSACKRecvSegs',
  'TcpExtTCPDSACKIgnoredDubious',
  'TcpExtTCPDSACKIgnoredNoUndo',
  'TcpExtTCPDSACKIgnoredOld',
  'TcpExtTCPDSACKUndo',
  'TcpExtTCPFullUndo',
  'TcpExtTCPSACKDiscard',
  'TcpExtDelayedACKLost',
  'TcpExtTCPSackRecovery',
  'TcpExtTCPLossProbeRecovery',
  'TcpExtTCPRcvQDrop',
  'TcpExtTCPZeroWindowDrop',
  'TcpExtTCPWantZeroWindowAdv',
  'TcpExtTCPToZeroWindowAdv',
  'TcpExtTCPFromZeroWindowAdv',
  'TcpExtEmbryonicRsts',
  'TcpExtTCPOrphanQueued',
  'TcpExtOutOfWindowIcmps',
  'TcpExtTCPDeliveredCE',
] as const;

export type TcpCounterName = (typeof NAMES)[number];
export type TcpCounterIds = Record<TcpCounterName, number>;

export function tcpCounterIds(c: Counters): TcpCounterIds {
  const out = {} as TcpCounterIds;
  for (const n of NAMES) out[n] = c.id(n);
  return out;
}
