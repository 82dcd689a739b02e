/**
 * Entry point of the browser bundle (scripts/build-web.mjs → dist/web/usnet.js):
 * the core's public API, TCP, the in-memory links and capture, and the
 * browser pieces: a real-time driver, the node:net-style API, the segment
 * log, ss rows, a minimal HTTP/1.1 and the demo. Nothing here needs Node.
 */
export * from '../index.js';
export { Loopback } from '../link/loopback.js';
export { type Impairments, MemoryWire, type MemoryWireOptions, type WireStats } from '../link/memory-wire.js';
export { PcapTap } from '../link/pcap-tap.js';
export { World } from '../sim/world.js';
export { POLLRDHUP, SHUT_RD, SHUT_RDWR, SHUT_WR, type SockName } from '../socket/poll.js';
export { TcpSocket } from '../socket/tcp-socket.js';
export { TcpLayer, type TcpListRow } from '../tcp/tcp.js';
export type { Clock } from '../time/clock.js';
export { VirtualClock } from '../time/virtual-clock.js';
export {
  bigBody,
  DATA_JSON,
  DEMO_CLIENT,
  DEMO_PORT,
  DEMO_SERVER,
  Demo,
  type DemoOptions,
  type DemoResponse,
  type DemoResult,
  fnv1a,
  HELLO_TEXT,
  INDEX_TEXT,
  startDemo,
} from './demo.js';
export { BrowserDriver, type BrowserDriverOptions } from './driver.js';
export { Emitter, type Listener } from './emitter.js';
export { type NetError, sysError } from './errors.js';
export {
  createHttpServer,
  HttpClient,
  type HttpClientResponse,
  type HttpRequest,
  type HttpResponse,
} from './http.js';
export {
  type AddressInfo,
  createNet,
  isIP,
  isIPv4,
  isIPv6,
  type Kicker,
  type Net,
  type NetContext,
  Server,
  type ServerOptions,
  Socket,
  type SocketConnectOptions,
  type SocketOptions,
} from './net.js';
export { dirMark, type SegmentLine, SegmentLog, tcpFlagString } from './segment-log.js';
export { type ConnHistory, type SsRow, StateRecorder, ssRow, ssRows } from './ss.js';
