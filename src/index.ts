// Public API of usnet. Each layer's owner adds its lines here.
export { Counters } from './counters.js';
export { ERRNO, type ErrnoCode, isSysError, SysError } from './errno.js';
export type { EchoReply } from './ip/icmp-service.js';
export type { InterfaceOptions, RouteOptions } from './ip/ip-layer.js';
export type { Family, IcmpErr, IpHandler, IpLayerApi, IpOutputOpts, IpRx, Route } from './ip/types.js';
export type { Link } from './link/link.js';
export { Loopback } from './link/loopback.js';
export { type Impairments, MemoryWire, type MemoryWireOptions } from './link/memory-wire.js';
export { PcapTap } from './link/pcap-tap.js';
export { Rng } from './rng.js';
export { LivelockError, World } from './sim/world.js';
export {
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLOUT,
  POLLPRI,
  POLLRDHUP,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  type SockName,
} from './socket/poll.js';
export { type Linger, TcpSocket, type TcpSockOpt } from './socket/tcp-socket.js';
export { Stack, type StackOptions, type TransportLayer, type Wakeable } from './stack.js';
export { Sysctl, type SysctlName, type SysctlValue } from './sysctl.js';
export { SS_STATE_NAMES, STATE_NAMES } from './tcp/state.js';
export { TcpLayer, type TcpListRow } from './tcp/tcp.js';
export type { Steppable } from './time/steppable.js';
export { type TimerHandler, TimerWheel } from './time/timer-wheel.js';
export { UdpLayer } from './udp/udp-layer.js';
export { type Datagram, UdpSocket } from './udp/udp-socket.js';
export * from './wire/index.js';
