import type { Clock } from '../time/clock.js';
import { DIR_IN, DIR_OUT, type PacketSink } from '../wire/pcap.js';
import type { Link } from './link.js';

/**
 * A Link that records everything passing through another Link, in both
 * directions, into a pcap or pcapng writer, then passes it on unchanged. The
 * stack attaches to the tap exactly as it would to the link itself.
 *
 * Timestamps come from the clock the tap is given (the stack's virtual or
 * real time), so a capture of a simulation shows virtual time. Outbound
 * packets are stamped when the stack transmits them, inbound ones when the
 * link delivers them; pcapng records the direction in epb_flags.
 */
export class PcapTap implements Link {
  /** The receiver the stack set; the tap installs its own on the inner link. */
  onReceive: ((frame: Uint8Array) => void) | null = null;
  readonly iface: number;
  private readonly now: () => number;

  /**
   * @param inner the link being tapped (its onReceive is taken over)
   * @param sink  a PcapWriter or PcapngWriter
   * @param clock the time source for timestamps (ms): a Clock or a function
   * @param name  interface name recorded in pcapng (if_name)
   */
  constructor(
    readonly inner: Link,
    readonly sink: PacketSink,
    clock: Clock | (() => number),
    name?: string,
  ) {
    this.now = typeof clock === 'function' ? clock : () => clock.now();
    this.iface = sink.addInterface(name);
    inner.onReceive = (frame: Uint8Array): void => {
      this.sink.writePacket(this.now(), frame, this.iface, DIR_IN);
      const rx = this.onReceive;
      if (rx !== null) rx(frame);
    };
  }

  get mtu(): number {
    return this.inner.mtu;
  }

  transmit(frame: Uint8Array): void {
    this.sink.writePacket(this.now(), frame, this.iface, DIR_OUT);
    this.inner.transmit(frame);
  }
}
