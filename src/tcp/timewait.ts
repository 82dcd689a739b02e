/**
 * A segment that hits a TIME_WAIT entry (or an orphan's FIN_WAIT2 sub-state
 * entry) of the compact table: every branch of Linux's
 * tcp_timewait_state_process, with RFC 7323 PAWS, RFC 1337 and the
 * out-of-window ACK rate limit, and the caller's handling of its verdict
 * (tcp_v4_rcv: ACK, RST + kill, or a SYN reopening the 4-tuple through the
 * listener). Replies are bare segments built by TCP's sendReply().
 *
 * Verdicts (TW_*), and what each branch does:
 * FIN_WAIT2 sub-state ("just repeat the checks of tcp_rcv_state_process"):
 *  - PAWS-rejected or outside [rcv_nxt, rcv_nxt + rcv_wnd): ACK, rate-limited
 *    (TcpExtTCPACKSkippedFinWait2 counts the ones skipped);
 *  - RST: the entry dies silently;
 *  - SYN at or after rcv_nxt: RST, entry dies;
 *  - no ACK, nothing new, or no payload/FIN: dropped;
 *  - new data (not exactly the FIN at rcv_nxt): RST, entry dies;
 *  - the FIN: TIME_WAIT, rcv_nxt past the FIN, TS.Recent updated, 60 s, ACK.
 * TIME_WAIT:
 *  - exactly at rcv_nxt, bare ACK or RST, PAWS ok: RST kills the entry
 *    (TIME_WAIT assassination, RFC 1337) unless tcp_rfc1337 = 1; a bare ACK
 *    re-arms 60 s; TS.Recent updated; nothing sent;
 *  - a SYN without ACK/RST, PAWS ok, and seq after rcv_nxt or a newer
 *    timestamp: may reopen, ISN = old snd_nxt + 65537 (RFC 1122 §4.2.2.13,
 *    RFC 6191), when a listener exists (else it is ACKed);
 *  - PAWS-rejected: TcpExtPAWSTimewait;
 *  - any other non-RST: ACK (rate-limited unless it carries data or FIN,
 *    TcpExtTCPACKSkippedTimeWait), 60 s re-armed if it had ACK or failed PAWS;
 *  - any other RST: ignored.
 */
import type { Counters } from '../counters.js';
import type { TwTakeover } from '../inet/inet-tables.js';
import {
  newTimeWaitInit,
  TCP_TIMEWAIT_LEN,
  type TimeWaitInit,
  type TimeWaitTable,
} from '../inet/timewait-table.js';
import type { IpRx } from '../ip/types.js';
import type { Sysctl } from '../sysctl.js';
import type { IpAddr } from '../wire/addr.js';
import type { TcpHeader } from '../wire/tcp.js';
import type { Tcb } from './tcb.js';
import type { TcpListRow, TimeWaitHook } from './tcp.js';

export const TW_SUCCESS = 0;
export const TW_ACK = 1;
export const TW_RST = 2;
export const TW_SYN = 3;

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;

/** Linux TCP_PAWS_WRAP (24 days) and TCP_PAWS_MSL (60 s), in ms. */
const PAWS_WRAP_MS = 24 * 86400 * 1000;
const PAWS_MSL_MS = 60_000;

/** The tables' side the processing needs (InetTables implements it). */
export interface TwTables {
  twTable(id: number): TimeWaitTable;
  twRow(id: number): number;
  killTimeWait(id: number): void;
  addTimeWait(e: TimeWaitInit, now: number): number;
  lookupListener(family: 4 | 6, laddr: IpAddr, lport: number, raddr: IpAddr, rport: number): unknown;
  readonly tw4: TimeWaitTable;
  readonly tw6: TimeWaitTable;
}

/** Bare replies (TcpLayer.sendReply). `tsVal` < 0: no timestamp option. */
export interface TwReplySink {
  sendReply(
    family: 4 | 6,
    laddr: IpAddr,
    lport: number,
    raddr: IpAddr,
    rport: number,
    seq: number,
    ack: number,
    flags: number,
    tsVal: number,
    tsEcr: number,
    window: number,
  ): void;
}

export interface TwHost {
  readonly now: number;
  readonly sysctl: Sysctl;
  readonly counters: Counters;
}

export class TimeWait implements TimeWaitHook {
  /** ISN of the last TW_SYN verdict. */
  isn = 0;
  private readonly init: TimeWaitInit = newTimeWaitInit();
  private readonly cPaws: number;
  private readonly cSkipTw: number;
  private readonly cSkipFw2: number;

  constructor(
    private readonly tables: TwTables,
    private readonly sink: TwReplySink,
    private readonly host: TwHost,
  ) {
    const c = host.counters;
    this.cPaws = c.id('TcpExtPAWSTimewait');
    this.cSkipTw = c.id('TcpExtTCPACKSkippedTimeWait');
    this.cSkipFw2 = c.id('TcpExtTCPACKSkippedFinWait2');
  }

  /**
   * Decide what segment `h` (from raddr to laddr) does to entry `id`, with
   * the entry's state updated (timer, rcv_nxt, TS.Recent, sub-state) but
   * nothing sent and nothing killed: TW_SUCCESS (drop, or the entry was
   * killed by an RST when `killed`), TW_ACK (answer with an ACK), TW_RST
   * (answer with RST and kill), TW_SYN (`this.isn` holds the ISN).
   */
  process(id: number, h: TcpHeader, now: number): number {
    const t = this.tables.twTable(id);
    const i = this.tables.twRow(id);
    const v = this.host.sysctl.v;
    const f = h.flags;
    const seq = h.seq >>> 0;
    const endSeq = (seq + h.payloadLen + (f & SYN ? 1 : 0) + (f & FIN ? 1 : 0)) >>> 0;
    const rcvNxt = t.rcvNxt[i];
    const nowMs = Math.floor(now) >>> 0;

    // RFC 7323 PAWS, only when the old connection had timestamps (Linux parses options only then).
    let sawTs = false;
    let pawsReject = false;
    if (t.hasTs(i) && h.hasTs) {
      sawTs = true;
      const tsRecent = t.tsRecent[i];
      const stamp = t.tsRecentStamp[i];
      const ok =
        ((tsRecent - h.tsVal) | 0) <= 0 ||
        ((nowMs - ((stamp + PAWS_WRAP_MS) >>> 0)) | 0) >= 0 ||
        tsRecent === 0;
      // RSTs get PAWS relaxed to an MSL (Linux tcp_paws_reject).
      pawsReject = !ok && !(f & RST && ((nowMs - ((stamp + PAWS_MSL_MS) >>> 0)) | 0) >= 0);
    }

    if (t.isFinWait2(i)) {
      if (pawsReject || !inWindow(seq, endSeq, rcvNxt, (rcvNxt + t.rcvWnd[i]) >>> 0))
        return this.oowAck(t, i, seq, endSeq, f, now, this.cSkipFw2);
      if (f & RST) {
        this.tables.killTimeWait(id);
        return TW_SUCCESS;
      }
      if (f & SYN && ((seq - rcvNxt) | 0) >= 0) return TW_RST;
      if (!(f & ACK) || ((endSeq - rcvNxt) | 0) <= 0 || endSeq === seq) return TW_SUCCESS;
      if (!(f & FIN) || endSeq !== (rcvNxt + 1) >>> 0) return TW_RST;
      // The FIN: the real TIME_WAIT begins.
      t.rcvNxt[i] = endSeq;
      if (sawTs) t.setTsRecent(i, h.tsVal, now);
      t.enterTimeWait(i, now);
      return TW_ACK;
    }

    if (!pawsReject && seq === rcvNxt && (seq === endSeq || f & RST)) {
      // In window: only a RST or a bare ACK can be here.
      if (f & RST) {
        if (!v['net.ipv4.tcp_rfc1337']) {
          this.tables.killTimeWait(id);
          return TW_SUCCESS;
        }
      } else {
        t.rearm(i, now);
      }
      if (sawTs) t.setTsRecent(i, h.tsVal, now);
      return TW_SUCCESS;
    }

    if (
      f & SYN &&
      !(f & (RST | ACK)) &&
      !pawsReject &&
      (((seq - rcvNxt) | 0) > 0 || (sawTs && ((t.tsRecent[i] - h.tsVal) | 0) < 0))
    ) {
      let isn = (t.sndNxt[i] + 65537) >>> 0;
      if (isn === 0) isn = 1;
      this.isn = isn;
      return TW_SYN;
    }

    if (pawsReject) this.host.counters.inc(this.cPaws);

    if (!(f & RST)) {
      // An ACK-less SYN may be a new SYN with a random ISN below rcv_nxt: no re-arm for it.
      if (pawsReject || f & ACK) t.rearm(i, now);
      return this.oowAck(t, i, seq, endSeq, f, now, this.cSkipTw);
    }
    return TW_SUCCESS;
  }

  /**
   * Linux tcp_oow_rate_limited: segments carrying data or FIN (and no SYN)
   * are always answered; others at most once per tcp_invalid_ratelimit ms.
   */
  private oowAck(
    t: TimeWaitTable,
    i: number,
    seq: number,
    endSeq: number,
    f: number,
    now: number,
    cSkip: number,
  ): number {
    if (seq !== endSeq && !(f & SYN)) return TW_ACK;
    if (t.oowRateLimited(i, now, this.host.sysctl.v['net.ipv4.tcp_invalid_ratelimit'])) {
      this.host.counters.inc(cSkip);
      return TW_SUCCESS;
    }
    return TW_ACK;
  }

  /** The ACK a TIME_WAIT entry sends (Linux tcp_v4_timewait_ack). */
  sendAck(
    id: number,
    family: 4 | 6,
    laddr: IpAddr,
    lport: number,
    raddr: IpAddr,
    rport: number,
    now: number,
  ): void {
    const t = this.tables.twTable(id);
    const i = this.tables.twRow(id);
    const tsRecent = t.tsRecent[i];
    // Linux adds the timestamp option only when there is a TS.Recent to echo.
    const hasTs = t.hasTs(i) && tsRecent !== 0;
    const tsVal = hasTs ? (Math.floor(now) + t.tsOffset[i]) >>> 0 : -1;
    const win = Math.min(65535, t.rcvWnd[i] >>> t.rcvWscale(i));
    this.sink.sendReply(
      family,
      laddr,
      lport,
      raddr,
      rport,
      t.sndNxt[i],
      t.rcvNxt[i],
      ACK,
      tsVal,
      hasTs ? tsRecent : 0,
      win,
    );
  }

  /** RST in answer to `h` (RFC 9293 §3.10.7.1 shape, no options). */
  sendRst(family: 4 | 6, laddr: IpAddr, lport: number, raddr: IpAddr, rport: number, h: TcpHeader): void {
    if (h.flags & ACK) {
      this.sink.sendReply(family, laddr, lport, raddr, rport, h.ack, 0, RST, -1, 0, 0);
    } else {
      const len = h.payloadLen + (h.flags & SYN ? 1 : 0) + (h.flags & FIN ? 1 : 0);
      this.sink.sendReply(family, laddr, lport, raddr, rport, 0, (h.seq + len) >>> 0, RST | ACK, -1, 0, 0);
    }
  }

  // ---- TimeWaitHook (what TcpLayer calls) ----

  /**
   * Segment `h` arrived for entry `id`. Acts on the verdict as Linux's
   * tcp_v4_rcv does; returns the ISN when a SYN reopens the 4-tuple through
   * a listener (the entry is gone then), else -1.
   */
  input(id: number, rx: IpRx, h: TcpHeader): number {
    const now = this.host.now;
    const r = this.process(id, h, now);
    switch (r) {
      case TW_SYN:
        if (this.tables.lookupListener(rx.family, rx.dst, h.dstPort, rx.src, h.srcPort) !== null) {
          this.tables.killTimeWait(id);
          return this.isn;
        }
        // No listener: answered like any other segment (Linux falls through to the ACK).
        this.sendAck(id, rx.family, rx.dst, h.dstPort, rx.src, h.srcPort, now);
        return -1;
      case TW_ACK:
        this.sendAck(id, rx.family, rx.dst, h.dstPort, rx.src, h.srcPort, now);
        return -1;
      case TW_RST:
        this.sendRst(rx.family, rx.dst, h.dstPort, rx.src, h.srcPort, h);
        this.tables.killTimeWait(id);
        return -1;
      default:
        return -1;
    }
  }

  /**
   * A control block becomes an entry (Linux tcp_time_wait): TIME_WAIT once
   * the peer's FIN is in, else the FIN_WAIT2 sub-state of an orphan, whose
   * timer is max(tcp_fin_timeout, 3.5 RTO). False past tcp_max_tw_buckets.
   */
  enter(t: Tcb, now: number): boolean {
    const e = this.init;
    e.laddr = t.laddr!;
    e.lport = t.lport;
    e.raddr = t.raddr!;
    e.rport = t.rport;
    e.sndNxt = t.sndNxt;
    e.rcvNxt = t.rcvNxt;
    // Linux tcp_receive_window: what is left of the window last advertised.
    const wnd = Math.max((t.rcvWup + t.rcvWnd - t.rcvNxt) | 0, 0);
    e.rcvWnd = wnd;
    e.rcvWscale = t.wsOk ? t.rcvWscale : 0;
    e.hasTs = t.tsOk;
    e.tsRecent = t.tsRecent;
    e.tsRecentStamp = t.tsRecentStamp;
    e.tsOffset = t.tsOffset;
    e.finWait2 = !t.finRcvd;
    e.timeout = e.finWait2
      ? Math.max(this.host.sysctl.v['net.ipv4.tcp_fin_timeout'] * 1000, (t.rto * 7) / 2)
      : TCP_TIMEWAIT_LEN;
    e.reuse = t.reuseAddr;
    e.reusePort = t.reusePort;
    e.v6sock = t.family === 6;
    e.active = t.active;
    e.tos = 0;
    return this.tables.addTimeWait(e, now) >= 0;
  }

  /** ss rows for the entries (TIME-WAIT, or FIN-WAIT-2 for the sub-state). */
  list(now: number): TcpListRow[] {
    const rows: TcpListRow[] = [];
    for (const t of [this.tables.tw4, this.tables.tw6]) {
      for (const i of t.rows()) {
        const v6 = (t.meta[i] & 0x100) !== 0;
        let la: IpAddr = t.copyLaddr(i, new Uint8Array(t.width * 4));
        let ra: IpAddr = t.copyRaddr(i, new Uint8Array(t.width * 4));
        if (v6 && t.width === 1) {
          la = mapped(la);
          ra = mapped(ra);
        }
        rows.push({
          state: t.isFinWait2(i) ? 'FIN-WAIT-2' : 'TIME-WAIT',
          family: v6 ? 6 : 4,
          laddr: la,
          lport: t.lport(i),
          raddr: ra,
          rport: t.rport(i),
          recvQ: 0,
          sendQ: 0,
          timer: 'timewait',
          timerMs: Math.max(0, t.expiresAt(i, now) - now),
          retrans: 0,
        });
      }
    }
    return rows;
  }
}

/** RFC 9293 acceptability as Linux's tcp_in_window checks it. */
function inWindow(seq: number, endSeq: number, sWin: number, eWin: number): boolean {
  if (seq === sWin) return true;
  if (((endSeq - sWin) | 0) > 0 && ((seq - eWin) | 0) < 0) return true;
  return seq === eWin && seq === endSeq;
}

function mapped(a: IpAddr): IpAddr {
  const m = new Uint8Array(16);
  m[10] = 0xff;
  m[11] = 0xff;
  m.set(a, 12);
  return m;
}

export type { TwTakeover };
