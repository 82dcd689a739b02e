/**
 * What the net-compatible objects share: the stack's TCP layer, the driver
 * to poke after socket calls (they may arm timers the driver does not know
 * about yet), and the resolver. Browser-clean.
 */
import type { TcpSocket } from '../../socket/tcp-socket.js';
import type { TcpLayer } from '../../tcp/tcp.js';
import type { Resolver } from './address.js';

export interface Poker {
  poke(): void;
}

export class NetContext {
  private kicked = false;

  constructor(
    readonly tcp: TcpLayer,
    readonly driver: Poker,
    readonly resolver: Resolver,
  ) {}

  socket(family: 4 | 6): TcpSocket {
    return this.tcp.socket(family);
  }

  /**
   * Socket calls made outside the stack's callbacks may arm timers or queue
   * segments: let the driver run once the current synchronous work is done
   * (one poke per batch of calls, not one per call).
   */
  kick(): void {
    if (this.kicked) return;
    this.kicked = true;
    queueMicrotask(() => {
      this.kicked = false;
      this.driver.poke();
    });
  }
}
