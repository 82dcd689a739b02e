/**
 * The python3 program that watches what the kernel sends into the test's
 * TUN device, as packetdrill does (packet_socket_linux.c): an AF_PACKET
 * socket on the device, outgoing packets only, each with the kernel's own
 * transmit timestamp (SO_TIMESTAMPNS). The timestamp is taken when the
 * packet leaves the stack, so a busy machine that runs Node or this helper
 * late does not make the packet look late.
 *
 * Runs inside the namespace (`ip netns exec`). Output, binary on stdout: per
 * packet a u32 LE length, a u64 LE CLOCK_MONOTONIC time in ns, then the IP
 * packet; a first record of length 0 says the socket is bound. EOF on stdin
 * ends it.
 */
export const SNIFFER_PY = `
import os, socket, struct, sys, threading, time

SO_TIMESTAMPNS = 35
ETH_P_ALL = 3
try:
    os.setpriority(os.PRIO_PROCESS, 0, -10)
except OSError:
    pass
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
s.bind((sys.argv[1], 0))

def watch_stdin():
    while os.read(0, 4096):
        pass
    os._exit(0)
threading.Thread(target=watch_stdin, daemon=True).start()

os.write(1, struct.pack('<IQ', 0, time.monotonic_ns()))
while True:
    data, anc, flags, addr = s.recvmsg(65536, 256)
    if addr[2] != socket.PACKET_OUTGOING:
        continue
    mono = time.monotonic_ns()
    for level, kind, d in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(d) >= 16:
            sec, nsec = struct.unpack('qq', d[:16])
            # the stamp is CLOCK_REALTIME: carry it over to CLOCK_MONOTONIC
            mono -= time.time_ns() - (sec * 1000000000 + nsec)
    os.write(1, struct.pack('<IQ', len(data), mono) + data)
`;
