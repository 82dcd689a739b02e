/**
 * The TCP control block: everything one connection (or listener) remembers.
 * Field names follow RFC 9293 (snd_una → sndUna ...) and Linux where RFC
 * 9293 has no name (rcv_wup, rcv_ssthresh, ato, pingpong, retrans_stamp).
 * A Tcb is also the `InetSock` the connection tables (src/inet) index.
 */
import type { IpAddr } from '../wire/addr.js';
import type { BufferPool } from './buffer-pool.js';
import type { AckEvent, CongestionControl } from './congestion/types.js';
import { PushMarks } from './push.js';
import { DEFAULT_SCALING_RATIO, RcvMem } from './rcv-mem.js';
import type { LossRecovery, RecoveryAction } from './recovery/types.js';
import { RecvBuffer } from './recv-buffer.js';
import type { RttEstimator } from './rtt.js';
import { SendBuffer } from './send-buffer.js';
import { TcpState } from './state.js';

/** What the socket layer hears from a control block (set by src/socket). */
export interface TcbOwner {
  /** Readiness may have changed; called after input/timer processing, never re-entrantly. */
  wake(): void;
}

export class Tcb {
  /** Index in the layer's table (timer data); -1 once freed. */
  id = -1;
  wakePending = false;
  // ---- identity (InetSock) ----
  family: 4 | 6;
  v6only = false;
  laddr: IpAddr | null = null;
  lport = 0;
  raddr: IpAddr | null = null;
  rport = 0;
  /** The addresses as they go on the wire (4 bytes for IPv4, also on a dual-stack socket), cached for output. */
  wl: IpAddr | null = null;
  wr: IpAddr | null = null;
  reuseAddr = false;
  reusePort = false;
  bindAddressNoPort = false;
  localPortRange = 0;
  /** IP_TOS: the DSCP bits of IPv4 segments (ECN bits are TCP's own); IP_MTU_DISCOVER (IP_PMTUDISC_WANT, 1). */
  ipTos = 0;
  pmtuDisc = 1;
  /** IPV6_TCLASS: the traffic class of IPv6 segments (ECN bits are TCP's own). */
  tclass = 0;
  listening = false;
  /** The connection tables' record of this socket (InetSock.inetReg; theirs alone). */
  inetReg: unknown = null;
  /** Set while in the tables' established hash (so it is removed exactly once). */
  hashed = false;
  /** Set while bound in the tables' bind buckets. */
  bound = false;
  /** bind() was called explicitly: the port stays with the socket after the connection ends. */
  userBound = false;
  /** connect() took over a TIME_WAIT entry (its TS.Recent is echoed on the SYN). */
  twTakeover = false;
  /** The connection was handed to the TIME_WAIT table. */
  twHandedOff = false;

  state: TcpState = TcpState.CLOSED;

  // ---- send sequence space (RFC 9293 §3.3.1) ----
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  /** Highest sequence ever sent + 1 (snd_nxt may go back on RTO: go-back-N). */
  sndMax = 0;
  /** Sequence number of the first byte held in the send buffer. */
  sndDataSeq = 0;
  /** End of the last sub-MSS segment sent (Minshall's variant of Nagle, Linux snd_sml). */
  sndSml = 0;
  /** Peer's window in bytes (already scaled). */
  sndWnd = 0;
  /** Where PSH goes: write-queue skb ends and their marks, sent PSH ends (src/tcp/push.ts). */
  readonly push = new PushMarks();
  sndWl1 = 0;
  sndWl2 = 0;
  /** Largest window the peer ever offered (RFC 5961 §5 ACK check, SWS avoidance). */
  maxWindow = 0;

  // ---- receive sequence space ----
  irs = 0;
  rcvNxt = 0;
  /** rcv_nxt when the window was last advertised (Linux rcv_wup). */
  rcvWup = 0;
  /** Window last advertised, in bytes (right edge = rcvWup + rcvWnd). */
  rcvWnd = 0;
  /** Linux rcv_ssthresh: the window grows towards the buffer space in steps. */
  rcvSsthresh = 0;
  /** Window clamp: the most the receive buffer allows us to advertise. */
  windowClamp = 0;
  /** Receive memory charged by skb truesize (Linux sk_rmem_alloc; src/tcp/rcv-mem.ts). */
  readonly rmem = new RcvMem();
  /** Payload per 256 bytes of receive memory (Linux scaling_ratio), measured from segments. */
  scalingRatio = DEFAULT_SCALING_RATIO;

  // ---- options ----
  /** Our shift (sent on SYN); applies to windows we advertise once both sides agreed. */
  rcvWscale = 0;
  /** Peer's shift; applies to windows it sends. */
  sndWscale = 0;
  wsOk = false;
  sackOk = false;
  tsOk = false;
  /** Last timestamp value to echo (RFC 7323 TS.Recent) and when it was taken. */
  tsRecent = 0;
  tsRecentStamp = 0;
  /** Per-connection random offset added to our timestamp clock. */
  tsOffset = 0;
  /** MSS we advertise (route MTU − headers). */
  advMss = 536;
  /** MSS the peer advertised (536 when absent, RFC 9293 §3.7.1). */
  peerMss = 536;
  /** Payload bytes per full segment we send (min(peer, ours, TCP_MAXSEG) − options). */
  mss = 536;
  /** TCP_MAXSEG clamp set by the user (0 = none). */
  userMss = 0;
  /** MSS estimate of what the peer sends (Linux rcv_mss), for delayed ACK and window rounding. */
  rcvMss = 536;

  // ---- buffers ----
  snd: SendBuffer;
  rcv: RecvBuffer;
  /** SO_SNDBUF / SO_RCVBUF values as getsockopt reports them (doubled, like Linux). */
  sndBuf = 16384;
  rcvBuf = 131072;
  sndBufLocked = false;
  rcvBufLocked = false;
  /** Bytes the application has read (Linux copied_seq, as a count). */
  bytesRead = 0;
  /** Receive-buffer autotuning (Linux rcvq_space): bytes read in the last measured RTT, and where it started. */
  rcvqSpace = 0;
  rcvqRead = 0;
  rcvqTime = 0;
  /** Receiver-side RTT estimate (Linux rcv_rtt_est), ms; 0 = none yet. */
  rcvRtt = 0;
  rcvRttSeq = 0;
  rcvRttTime = -1;
  rcvRttLastTsecr = 0;

  // ---- FIN bookkeeping ----
  /** The application shut down writing: a FIN follows the queued data. */
  finQueued = false;
  /** Our FIN has been sent at least once; its sequence number is finSeq. */
  finSent = false;
  finSeq = 0;
  /** Our FIN went in a segment of its own (after all data was sent), so it is resent on its own. */
  finAlone = false;
  /** The peer's FIN was received (in sequence). */
  finRcvd = false;
  /** shutdown(SHUT_RD) or close(): received data is discarded. */
  rdShut = false;

  // ---- retransmission ----
  rtt: RttEstimator | null = null;
  cc: CongestionControl | null = null;
  rec: LossRecovery | null = null;
  ackEv: AckEvent | null = null;
  recAct: RecoveryAction | null = null;
  /** Current retransmission timeout (ms), with backoff applied. */
  rto = 1000;
  backoff = 0;
  /** Retransmissions of the current head since it was last acknowledged (icsk_retransmits). */
  retransmits = 0;
  /** RTO expirations counting toward SYN linear timeouts (Linux total_rto). */
  totalRto = 0;
  /** Time of the first retransmission of the current head, 0 when none (Linux retrans_stamp). */
  retransStamp = -1;
  /** Sequence and send time of the one segment being timed (Karn's algorithm without timestamps). */
  rttSeq = 0;
  rttTime = -1;
  /** Time the last segment carrying data was sent / received (idle restart, keepalive). */
  lastSend = 0;
  lastRecv = 0;
  /** Time of the last ACK received that acknowledged something (user timeout). */
  lastAckRecv = 0;
  /** Retransmission timer kind armed on hRtx, and when it was armed. */
  rtxKind = 0;
  rtxArmedAt = 0;
  /** Persist-timer probes sent without reply (icsk_probes_out), also keepalive probes. */
  probesOut = 0;
  /** Time the first unanswered zero-window/keepalive probe went out (user timeout). */
  probeStamp = 0;
  /** snd_nxt when the outstanding tail-loss probe was sent, -1 when none (Linux tlp_high_seq). */
  tlpHighSeq = -1;
  /** That probe was a retransmission, not new data (Linux tlp_retrans). */
  tlpRetrans = false;
  /** Segments the peer reported as duplicates with a plausible D-SACK (Linux dsack_dups). */
  dsackDups = 0;
  /** Whether cwnd limited sending during the last flight. */
  cwndLimited = false;

  // ---- ECN (RFC 3168; src/tcp/ecn.ts) ----
  /** ECN_OK / ECN_QUEUE_CWR / ECN_DEMAND_CWR / ECN_SEEN (Linux ecn_flags). */
  ecnFlags = 0;
  /** A window reduction for ECE is under way (Linux TCP_CA_CWR) until snd_una passes cwrHigh. */
  cwrActive = false;
  cwrHigh = 0;
  /** PRR (RFC 6937) state of that reduction: cwnd when it began, segments delivered and sent since. */
  priorCwnd = 0;
  prrDelivered = 0;
  prrOut = 0;
  /** Segments acknowledged by ACKs with ECE (tcpi_delivered_ce). */
  deliveredCe = 0;

  // ---- delayed ACK (Linux icsk_ack) ----
  ackPending = false;
  /** In TcpLayer.groAcks: the ACK decision waits for the end of the receive burst (gro.ts). */
  groPending = false;
  /** A one-time immediate ACK is owed (Linux ICSK_ACK_NOW: a hole was filled). */
  ackNow = false;
  /** Quick-ACK credits: this many segments are ACKed at once (icsk_ack.quick). */
  quick = 0;
  /** Interactive mode: ACKs are delayed (icsk_ack.pingpong). */
  pingpong = false;
  /** TCP_QUICKACK forced off pingpong once. */
  ato = 0;
  /** Time the last data segment arrived (ato estimation). */
  lastDataRecv = -Infinity;
  /** Segments received since the last ACK we sent. */
  segsSinceAck = 0;
  /** A duplicate [dsackStart, dsackEnd) waits to be reported as the first SACK block (RFC 2883; src/tcp/dsack.ts). */
  dsack = false;
  dsackStart = 0;
  dsackEnd = 0;

  // ---- timers (wheel handles; -1 when not allocated) ----
  hRtx = -1;
  hDack = -1;
  hKeep = -1;
  /** Deadline of each timer (Infinity when not armed), for TCP_INFO / ss. */
  rtxDeadline = Infinity;
  dackDeadline = Infinity;
  keepDeadline = Infinity;

  // ---- socket options ----
  nodelay = false;
  cork = false;
  keepalive = false;
  keepIdle = 0; // seconds, 0 = sysctl
  keepIntvl = 0;
  keepCnt = 0;
  userTimeout = 0; // ms, 0 = off
  lingerOn = false;
  lingerSec = 0;
  quickAckOpt = false;
  synRetries = 0; // TCP_SYNCNT, 0 = sysctl

  // ---- listener ----
  backlog = 0;
  /** Children in SYN_RECV (the SYN queue). */
  synQueueLen = 0;
  /** Established children not yet accepted. */
  acceptQueue: Tcb[] | null = null;
  parent: Tcb | null = null;
  /** Child only: the final ACK arrived but the accept queue was full (retransmit SYN-ACK). */
  acked = false;
  /** Listener: last time the SYN queue overflowed (cookies are checked for a while after). */
  lastSynqOverflow = -Infinity;
  /** Sequence number of a FIN received out of order (-1 none). */
  rcvFinSeq = -1;
  /** Child counted in the parent's SYN queue. */
  inSynQueue = false;
  /** SYN cookie connection: the timestamp value our SYN-ACK carried (-1 none). */
  cookieTs = -1;

  // ---- lifecycle ----
  owner: TcbOwner | null = null;
  /** The socket was closed: nobody reads any more (Linux SOCK_DEAD). */
  orphan = false;
  /** Pending error for the socket (SO_ERROR), an errno code or null. */
  error: string | null = null;
  /** Last ICMP soft error (reported instead of ETIMEDOUT when the connection times out). */
  softError: string | null = null;
  /** The connection ended (Linux SOCK_DONE): reads return end of stream. */
  done = false;
  /** The connection was reset (RST received or sent): sends fail with EPIPE after ECONNRESET. */
  reset = false;
  /** Set once a connect() has been issued (EALREADY / EISCONN logic). */
  connectIssued = false;
  /** Active open (we sent the first SYN) vs passive. */
  active = false;
  /** Simultaneous open (SYN_SENT → SYN_RECV). */
  simOpen = false;

  // ---- TCP_INFO counters ----
  bytesSent = 0;
  bytesRetrans = 0;
  bytesAcked = 0;
  bytesReceived = 0;
  segsOut = 0;
  segsIn = 0;
  dataSegsOut = 0;
  dataSegsIn = 0;
  totalRetrans = 0;
  /** Last time an invalid/out-of-window segment was answered (tcp_invalid_ratelimit). */
  lastOowAck = -Infinity;

  /** `pool`: where the buffers take their rings from (the TcpLayer's; null allocates). */
  constructor(family: 4 | 6, sndBuf: number, rcvBuf: number, pool: BufferPool | null = null) {
    this.family = family;
    this.sndBuf = sndBuf;
    this.rcvBuf = rcvBuf;
    this.snd = new SendBuffer(0, pool);
    this.rcv = new RecvBuffer(0, pool);
  }

  /** Bytes in flight by sequence number (snd_nxt − snd_una, SYN/FIN included). */
  get flight(): number {
    return (this.sndNxt - this.sndUna) | 0;
  }

  /** Sequence number after the last byte queued (where a FIN goes). */
  get dataEnd(): number {
    return (this.sndDataSeq + this.snd.length) >>> 0;
  }

  /** A SYN is still in the sequence space between snd_una and snd_nxt. */
  synUnacked(): boolean {
    return (this.state === TcpState.SYN_SENT || this.state === TcpState.SYN_RECV) && this.sndUna === this.iss;
  }
}
