/**
 * A link carries raw IP packets (no Ethernet header), like a TUN device;
 * pcap link type RAW (101). The stack owns the receive side through
 * `onReceive`; the link owns the transmit side.
 */
export interface Link {
  /** Largest IP packet the link carries, in bytes. */
  readonly mtu: number;
  /** The stack sends one IP packet. The frame is valid only during the call:
   *  a link that queues it must copy it. */
  transmit(frame: Uint8Array): void;
  /** Set by the stack when the link is attached to an interface. The link
   *  hands the frame over: the stack owns it afterwards. Never called from
   *  inside transmit() (no re-entrancy): links deliver in their advance(). */
  onReceive: ((frame: Uint8Array) => void) | null;
}
