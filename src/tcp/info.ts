/**
 * A TCP_INFO snapshot (Linux struct tcp_info, linux/tcp.h) with the field
 * names packetdrill scripts use (`tcpi_rtt` ...) and Linux's units: µs for
 * rtt, rttvar, rto, ato and min_rtt; ms for the last_* times; cwnd and
 * ssthresh in segments.
 */
import { isV4Mapped } from '../wire/addr.js';
import { ECN_OK, ECN_SEEN } from './ecn.js';
import { TcpState } from './state.js';
import type { Tcb } from './tcb.js';

/** Linux's TCP state numbers (include/net/tcp_states.h), as tcpi_state reports them. */
export const LINUX_STATE_NUMBER = [7, 10, 2, 3, 1, 4, 5, 8, 11, 9, 6];

export const TCPI_OPT_TIMESTAMPS = 1;
export const TCPI_OPT_SACK = 2;
export const TCPI_OPT_WSCALE = 4;
export const TCPI_OPT_ECN = 8;
export const TCPI_OPT_ECN_SEEN = 16;

export function tcpInfo(t: Tcb, now: number): Record<string, number> {
  const rtt = t.rtt;
  const cc = t.cc;
  const est = t.state !== TcpState.LISTEN && t.state !== TcpState.CLOSED;
  // The recovery module's scoreboard, in segments (Linux sacked_out, lost_out, retrans_out).
  const rec = est ? t.rec : null;
  const mss = Math.max(1, t.mss);
  return {
    tcpi_state: LINUX_STATE_NUMBER[t.state],
    // An ECN window reduction is Linux's CWR state (2) while no recovery is under way.
    tcpi_ca_state: t.rec !== null ? (t.cwrActive && t.rec.caState < 2 ? 2 : t.rec.caState) : 0,
    tcpi_retransmits: t.retransmits,
    tcpi_probes: t.probesOut,
    tcpi_backoff: rtt !== null ? rtt.backoff : 0,
    tcpi_options:
      (t.tsOk ? TCPI_OPT_TIMESTAMPS : 0) |
      (t.sackOk ? TCPI_OPT_SACK : 0) |
      (t.wsOk ? TCPI_OPT_WSCALE : 0) |
      (t.ecnFlags & ECN_OK ? TCPI_OPT_ECN : 0) |
      (t.ecnFlags & ECN_SEEN ? TCPI_OPT_ECN_SEEN : 0),
    tcpi_snd_wscale: t.wsOk ? t.sndWscale : 0,
    tcpi_rcv_wscale: t.wsOk ? t.rcvWscale : 0,
    tcpi_rto: Math.round((rtt !== null ? rtt.timeout() : 1000) * 1000),
    tcpi_ato: Math.round((t.ato || 40) * 1000),
    tcpi_snd_mss: t.mss,
    tcpi_rcv_mss: t.rcvMss,
    tcpi_unacked: est ? Math.ceil(t.flight / Math.max(1, t.mss)) : 0,
    tcpi_sacked: rec !== null ? rec.sackedSegs(mss) : 0,
    tcpi_lost: rec !== null ? rec.lostSegs(t.sndUna, t.sndNxt, mss) : 0,
    tcpi_retrans: rec !== null ? rec.retransSegs(t.sndUna, t.sndNxt, mss) : 0,
    tcpi_fackets: 0,
    tcpi_last_data_sent: t.lastSend > 0 ? Math.round(now - t.lastSend) : 0,
    tcpi_last_ack_sent: 0,
    tcpi_last_data_recv: Number.isFinite(t.lastDataRecv) ? Math.round(now - t.lastDataRecv) : 0,
    tcpi_last_ack_recv: t.lastAckRecv > 0 ? Math.round(now - t.lastAckRecv) : 0,
    // headers of the wire family: a v4-mapped connection of an AF_INET6 socket is IPv4
    tcpi_pmtu: t.advMss + (t.family === 4 || (t.raddr !== null && isV4Mapped(t.raddr)) ? 40 : 60),
    tcpi_rcv_ssthresh: t.rcvSsthresh,
    tcpi_rtt: Math.round((rtt !== null ? rtt.srtt : 0) * 1000),
    tcpi_rttvar: Math.round((rtt !== null ? rtt.rttvar : 0) * 1000),
    tcpi_snd_ssthresh: cc !== null ? cc.ssthresh : 0x7fffffff,
    tcpi_snd_cwnd: cc !== null ? cc.cwnd : 10,
    tcpi_advmss: t.advMss,
    tcpi_reordering: 3,
    tcpi_rcv_space: t.rcvWnd,
    tcpi_total_retrans: t.totalRetrans,
    // Linux counts snd_una's advance, so our SYN and FIN count one byte each (checked on 6.18).
    tcpi_bytes_acked: t.bytesAcked + (synAcked(t) ? 1 : 0) + (finAcked(t) ? 1 : 0),
    tcpi_bytes_received: t.bytesReceived,
    tcpi_segs_out: t.segsOut,
    tcpi_segs_in: t.segsIn,
    tcpi_notsent_bytes: Math.max(0, (t.dataEnd - t.sndNxt) | 0),
    tcpi_min_rtt: rtt !== null && Number.isFinite(rtt.minRtt) ? Math.round(rtt.minRtt * 1000) : 0,
    tcpi_data_segs_in: t.dataSegsIn,
    tcpi_data_segs_out: t.dataSegsOut,
    tcpi_bytes_sent: t.bytesSent + t.bytesRetrans,
    tcpi_bytes_retrans: t.bytesRetrans,
    tcpi_snd_wnd: t.sndWnd,
    tcpi_rcv_wnd: t.rcvWnd,
    tcpi_total_rto: t.totalRto,
    tcpi_dsack_dups: t.dsackDups,
    tcpi_delivered_ce: t.deliveredCe,
  };
}

function synAcked(t: Tcb): boolean {
  const s = t.state;
  return s !== TcpState.LISTEN && s !== TcpState.CLOSED && s !== TcpState.SYN_SENT && !t.synUnacked();
}

function finAcked(t: Tcb): boolean {
  return t.state === TcpState.FIN_WAIT2 || t.state === TcpState.TIME_WAIT;
}
