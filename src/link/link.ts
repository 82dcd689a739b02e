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
  /**
   * Optional zero-copy transmit: `len` bytes of the link's own memory for
   * the next frame, or null (build it elsewhere). Passing that very array
   * to transmit() hands it over without a copy; the sender must not touch
   * it afterwards. It is valid until the next transmit() or txBuffer() call
   * on this link (an unused one is simply taken back).
   */
  txBuffer?(len: number): Uint8Array | null;
  /** Set by the stack when the link is attached to an interface. The link
   *  hands the frame over: the stack owns it afterwards. Never called from
   *  inside transmit() (no re-entrancy): links deliver in their advance(). */
  onReceive: ((frame: Uint8Array) => void) | null;
  /**
   * Set to true by a receiver that keeps nothing of a frame past its
   * onReceive call (it copies whatever it keeps, as usnet's IP layer does):
   * the link may then reuse the frame's memory once onReceive returns
   * instead of handing it over (MemoryWire does: no allocation per frame,
   * and the frame sits in WebAssembly memory the checksum reads in place).
   * Absent or false: the receiver owns every frame it is given.
   */
  rxBorrow?: boolean;
}
