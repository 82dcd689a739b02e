/**
 * The C symbols packetdrill scripts use, with their Linux (x86-64) values,
 * and the evaluation of script expressions into target-neutral Values.
 */
import { ERRNO } from '../errno.js';
import type { Expr } from './ast.js';
import type { Value } from './target.js';

export const SYMBOLS: Record<string, number> = {
  // address families, socket types, protocols
  AF_UNSPEC: 0,
  AF_INET: 2,
  AF_INET6: 10,
  PF_INET: 2,
  PF_INET6: 10,
  SOCK_STREAM: 1,
  SOCK_DGRAM: 2,
  SOCK_RAW: 3,
  SOCK_NONBLOCK: 0x800,
  SOCK_CLOEXEC: 0x80000,
  IPPROTO_IP: 0,
  IPPROTO_ICMP: 1,
  IPPROTO_TCP: 6,
  IPPROTO_UDP: 17,
  IPPROTO_IPV6: 41,
  IPPROTO_ICMPV6: 58,
  // levels
  SOL_SOCKET: 1,
  SOL_IP: 0,
  SOL_TCP: 6,
  SOL_UDP: 17,
  SOL_IPV6: 41,
  // SOL_SOCKET options
  SO_DEBUG: 1,
  SO_REUSEADDR: 2,
  SO_TYPE: 3,
  SO_ERROR: 4,
  SO_DONTROUTE: 5,
  SO_BROADCAST: 6,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SO_KEEPALIVE: 9,
  SO_OOBINLINE: 10,
  SO_NO_CHECK: 11,
  SO_PRIORITY: 12,
  SO_LINGER: 13,
  SO_REUSEPORT: 15,
  SO_RCVLOWAT: 18,
  SO_SNDLOWAT: 19,
  SO_RCVTIMEO: 20,
  SO_SNDTIMEO: 21,
  SO_BINDTODEVICE: 25,
  SO_TIMESTAMP: 29,
  SO_ACCEPTCONN: 30,
  SO_SNDBUFFORCE: 32,
  SO_RCVBUFFORCE: 33,
  SO_PROTOCOL: 38,
  SO_DOMAIN: 39,
  SO_MARK: 36,
  SO_MAX_PACING_RATE: 47,
  SO_INCOMING_CPU: 49,
  SO_ZEROCOPY: 60,
  // SOL_TCP options
  TCP_NODELAY: 1,
  TCP_MAXSEG: 2,
  TCP_CORK: 3,
  TCP_KEEPIDLE: 4,
  TCP_KEEPINTVL: 5,
  TCP_KEEPCNT: 6,
  TCP_SYNCNT: 7,
  TCP_LINGER2: 8,
  TCP_DEFER_ACCEPT: 9,
  TCP_WINDOW_CLAMP: 10,
  TCP_INFO: 11,
  TCP_QUICKACK: 12,
  TCP_CONGESTION: 13,
  TCP_MD5SIG: 14,
  TCP_THIN_LINEAR_TIMEOUTS: 16,
  TCP_THIN_DUPACK: 17,
  TCP_USER_TIMEOUT: 18,
  TCP_REPAIR: 19,
  TCP_FASTOPEN: 23,
  TCP_TIMESTAMP: 24,
  TCP_NOTSENT_LOWAT: 25,
  TCP_CC_INFO: 26,
  TCP_SAVE_SYN: 27,
  TCP_SAVED_SYN: 28,
  TCP_FASTOPEN_CONNECT: 30,
  TCP_ULP: 31,
  TCP_FASTOPEN_KEY: 33,
  TCP_FASTOPEN_NO_COOKIE: 34,
  TCP_ZEROCOPY_RECEIVE: 35,
  TCP_INQ: 36,
  TCP_CM_INQ: 36,
  TCP_TX_DELAY: 37,
  // SOL_IP / SOL_IPV6 options
  IP_TOS: 1,
  IP_TTL: 2,
  IP_MTU_DISCOVER: 10,
  IP_RECVERR: 11,
  IP_MTU: 14,
  IP_FREEBIND: 15,
  IP_BIND_ADDRESS_NO_PORT: 24,
  IP_LOCAL_PORT_RANGE: 51,
  IP_PMTUDISC_DONT: 0,
  IP_PMTUDISC_WANT: 1,
  IP_PMTUDISC_DO: 2,
  IP_PMTUDISC_PROBE: 3,
  IPV6_UNICAST_HOPS: 16,
  IPV6_MTU_DISCOVER: 23,
  IPV6_MTU: 24,
  IPV6_RECVERR: 25,
  IPV6_V6ONLY: 26,
  IPV6_TCLASS: 67,
  // fcntl
  F_DUPFD: 0,
  F_GETFD: 1,
  F_SETFD: 2,
  F_GETFL: 3,
  F_SETFL: 4,
  FD_CLOEXEC: 1,
  O_RDONLY: 0,
  O_WRONLY: 1,
  O_RDWR: 2,
  O_NONBLOCK: 0x800,
  O_NDELAY: 0x800,
  O_CLOEXEC: 0x80000,
  // shutdown
  SHUT_RD: 0,
  SHUT_WR: 1,
  SHUT_RDWR: 2,
  // poll
  POLLIN: 0x1,
  POLLPRI: 0x2,
  POLLOUT: 0x4,
  POLLERR: 0x8,
  POLLHUP: 0x10,
  POLLNVAL: 0x20,
  POLLRDNORM: 0x40,
  POLLRDBAND: 0x80,
  POLLWRNORM: 0x100,
  POLLWRBAND: 0x200,
  POLLMSG: 0x400,
  POLLRDHUP: 0x2000,
  // epoll
  EPOLLIN: 0x1,
  EPOLLOUT: 0x4,
  EPOLLERR: 0x8,
  EPOLLHUP: 0x10,
  EPOLLRDHUP: 0x2000,
  EPOLLET: 0x80000000,
  EPOLL_CTL_ADD: 1,
  EPOLL_CTL_DEL: 2,
  EPOLL_CTL_MOD: 3,
  // send/recv flags
  MSG_OOB: 0x1,
  MSG_PEEK: 0x2,
  MSG_DONTROUTE: 0x4,
  MSG_TRUNC: 0x20,
  MSG_DONTWAIT: 0x40,
  MSG_EOR: 0x80,
  MSG_WAITALL: 0x100,
  MSG_ERRQUEUE: 0x2000,
  MSG_NOSIGNAL: 0x4000,
  MSG_MORE: 0x8000,
  MSG_FASTOPEN: 0x20000000,
  MSG_ZEROCOPY: 0x4000000,
  // ioctl
  SIOCINQ: 0x541b,
  FIONREAD: 0x541b,
  SIOCOUTQ: 0x5411,
  SIOCOUTQNSD: 0x894b,
  // struct tcp_info values (getsockopt TCP_INFO, {tcpi_state=TCP_ESTABLISHED, ...}):
  // include/net/tcp_states.h, tcp_ca_state and TCPI_OPT_* of linux/tcp.h
  TCP_ESTABLISHED: 1,
  TCP_SYN_SENT: 2,
  TCP_SYN_RECV: 3,
  TCP_FIN_WAIT1: 4,
  TCP_FIN_WAIT2: 5,
  TCP_TIME_WAIT: 6,
  TCP_CLOSE: 7,
  TCP_CLOSE_WAIT: 8,
  TCP_LAST_ACK: 9,
  TCP_LISTEN: 10,
  TCP_CLOSING: 11,
  TCP_CA_Open: 0,
  TCP_CA_Disorder: 1,
  TCP_CA_CWR: 2,
  TCP_CA_Recovery: 3,
  TCP_CA_Loss: 4,
  TCPI_OPT_TIMESTAMPS: 1,
  TCPI_OPT_SACK: 2,
  TCPI_OPT_WSCALE: 4,
  TCPI_OPT_ECN: 8,
  TCPI_OPT_ECN_SEEN: 16,
  TCPI_OPT_SYN_DATA: 32,
  // misc
  INADDR_ANY: 0,
  NULL: 0,
  // errno values, for getsockopt(fd, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4])
  ...ERRNO,
};

export class ExprError extends Error {}

/**
 * Evaluate a script expression. Symbols resolve to their numbers (keeping
 * the name); brace groups become sockaddr / linger / pollfd values where
 * their fields say so.
 */
export function evalExpr(e: Expr): Value {
  switch (e.kind) {
    case 'ellipsis':
      return { t: 'ellipsis' };
    case 'int':
      return { t: 'int', v: e.value };
    case 'string':
      return { t: 'str', v: e.value };
    case 'word': {
      const v = SYMBOLS[e.name];
      if (v === undefined) {
        if (/^[0-9]+$/.test(e.name)) return { t: 'int', v: Number(e.name) };
        throw new ExprError(`unknown symbol '${e.name}'`);
      }
      return { t: 'int', v, sym: e.name };
    }
    case 'or': {
      const a = evalExpr(e.lhs);
      const b = evalExpr(e.rhs);
      if (a.t !== 'int' || b.t !== 'int') throw new ExprError("'|' needs integers");
      return { t: 'int', v: (a.v | b.v) >>> 0, sym: `${a.sym ?? a.v}|${b.sym ?? b.v}` };
    }
    case 'list':
      return { t: 'list', items: e.items.map(evalExpr) };
    case 'call': {
      const args = e.args.map(evalExpr);
      if (e.fn === 'htons' || e.fn === 'htonl' || e.fn === 'ntohs' || e.fn === 'ntohl') {
        if (args.length !== 1 || args[0].t !== 'int') throw new ExprError(`${e.fn}() takes one integer`);
        return args[0];
      }
      if (e.fn === 'inet_addr' || e.fn === 'inet6_addr') {
        if (args.length !== 1 || args[0].t !== 'str') throw new ExprError(`${e.fn}() takes one string`);
        return args[0];
      }
      throw new ExprError(`unknown function ${e.fn}()`);
    }
    case 'struct': {
      const fields: Record<string, Value> = {};
      e.fields.forEach((f, i) => {
        fields[f.name ?? String(i)] = evalExpr(f.value);
      });
      const num = (k: string): number => {
        const v = fields[k];
        if (v?.t !== 'int') throw new ExprError(`field ${k} must be an integer`);
        return v.v;
      };
      if ('sa_family' in fields || 'sin6_family' in fields) {
        const fam = num('sa_family' in fields ? 'sa_family' : 'sin6_family');
        const portV = fields.sin_port ?? fields.sin6_port;
        const addrV = fields.sin_addr ?? fields.sin6_addr;
        const port = portV?.t === 'int' ? portV.v : 0;
        const addr = addrV?.t === 'str' ? addrV.v : addrV?.t === 'int' && addrV.v === 0 ? '' : '';
        return {
          t: 'sockaddr',
          family: fam === 10 ? 6 : 4,
          port,
          addr: addr || (fam === 10 ? '::' : '0.0.0.0'),
        };
      }
      if ('onoff' in fields || 'l_onoff' in fields) {
        return {
          t: 'linger',
          onoff: num('onoff' in fields ? 'onoff' : 'l_onoff'),
          linger: num('linger' in fields ? 'linger' : 'l_linger'),
        };
      }
      if ('fd' in fields && 'events' in fields) {
        return {
          t: 'pollfd',
          fd: num('fd'),
          events: num('events'),
          revents: 'revents' in fields ? num('revents') : 0,
        };
      }
      return { t: 'struct', fields };
    }
  }
}

/** A Value as packetdrill would print it in a message. */
export function showValue(v: Value): string {
  switch (v.t) {
    case 'int':
      return v.sym && !/^\d/.test(v.sym) ? `${v.sym}` : String(v.v);
    case 'str':
      return JSON.stringify(v.v);
    case 'ellipsis':
      return '...';
    case 'list':
      return `[${v.items.map(showValue).join(', ')}]`;
    case 'sockaddr':
      return `{sa_family=AF_INET${v.family === 6 ? '6' : ''}, sin_port=htons(${v.port}), sin_addr=inet_addr("${v.addr}")}`;
    case 'linger':
      return `{onoff=${v.onoff}, linger=${v.linger}}`;
    case 'pollfd':
      return `{fd=${v.fd}, events=${v.events}, revents=${v.revents}}`;
    case 'struct':
      return `{${Object.entries(v.fields)
        .map(([k, x]) => `${k}=${showValue(x)}`)
        .join(', ')}}`;
  }
}
