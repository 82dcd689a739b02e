/**
 * The python3 program a TunLink starts beside itself (see tun.ts for why a
 * helper process and not a native addon). It inherits the already opened
 * /dev/net/tun descriptor as fd 3 and:
 *
 * 1. attaches it to a TUN interface with TUNSETIFF (IFF_TUN | IFF_NO_PI;
 *    with offloads on, also IFF_VNET_HDR and TUNSETOFFLOAD for TSO).
 *    The attachment lives in the open file description, which Node shares,
 *    so Node's own fd now reads and writes that interface;
 * 2. prints one JSON line `{"name": "<ifname>"}` (or `{"errno": n, ...}`);
 * 3. serves as a readiness notifier: each byte Node writes to its stdin
 *    "arms" it; once armed it poll()s the TUN fd and writes one byte `r` to
 *    stdout when a packet is waiting, then disarms until Node has drained
 *    the queue and arms again. Node never blocks and never busy-polls; the
 *    packets themselves never pass through this process.
 *
 * EOF on stdin (Node closed the link or died) ends it; since it holds a
 * reference to the TUN file, the interface disappears only once both Node
 * and this helper have let go, which TunLink.close() waits for.
 */
export const TUN_HELPER_PY = String.raw`
import fcntl, json, os, select, struct, sys, time

TUNSETIFF = 0x400454ca
TUNSETOFFLOAD = 0x400454d0
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6 = 0x01, 0x02, 0x04
fd = 3
offload = len(sys.argv) > 3 and sys.argv[3] == '1'
name = sys.argv[1].encode()
if len(sys.argv) > 2 and sys.argv[2] != '0':
    # A real-time user (the drill runner's kernel target) asks to be woken
    # promptly on a busy machine.
    try:
        os.setpriority(os.PRIO_PROCESS, 0, int(sys.argv[2]))
    except OSError:
        pass
try:
    flags = IFF_TUN | IFF_NO_PI | (IFF_VNET_HDR if offload else 0)
    ifr = fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH22x', name, flags))
    if offload:
        # As packetdrill's netdev.c: a device that takes TSO super-segments
        # (each read starts with a 10-byte virtio_net_hdr).
        fcntl.ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)
except OSError as e:
    sys.stdout.write(json.dumps({'errno': e.errno, 'message': e.strerror}) + '\n')
    sys.stdout.flush()
    sys.exit(1)
sys.stdout.write(json.dumps({'name': ifr[:16].rstrip(b'\0').decode()}) + '\n')
sys.stdout.flush()

p = select.poll()
p.register(0, select.POLLIN)
armed = False
while True:
    for f, ev in p.poll():
        if f == 0:
            b = os.read(0, 256)
            if not b:
                sys.exit(0)
            if not armed:
                armed = True
                p.register(fd, select.POLLIN)
        elif f == fd:
            if ev & (select.POLLERR | select.POLLNVAL):
                sys.exit(0)
            if armed and ev & select.POLLIN:
                armed = False
                p.unregister(fd)
                # when the packet was seen: Node may run later than that
                os.write(1, b'r' + struct.pack('<Q', time.monotonic_ns()))
`;
