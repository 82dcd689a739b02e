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
  /** Bring every stack's clock to now (RealtimeDriver.sync); a no-op inside a step. */
  sync?(): void;
}

export class NetContext {
  private kicked = false;
  /** Sockets and servers that keep the process alive (Node front end: liveness.ts). */
  readonly held = new Set<{ set(on: boolean): void }>();

  constructor(
    readonly tcp: TcpLayer,
    readonly driver: Poker,
    readonly resolver: Resolver,
  ) {}

  /**
   * Call before any socket call made from outside a driver step (user code,
   * a timer, a microtask): stacks' clocks stand still between steps, and a
   * segment sent with a stale clock carries a stale TSval and arms its
   * retransmission timer in the past (docs/internals.md, "Clock contract
   * for real-time drivers").
   */
  sync(): void {
    this.driver.sync?.();
  }

  socket(family: 4 | 6): TcpSocket {
    return this.tcp.socket(family);
  }

  /** Stop every socket and server of this network from keeping the process alive (its driver stopped). */
  release(): void {
    for (const h of [...this.held]) h.set(false);
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
