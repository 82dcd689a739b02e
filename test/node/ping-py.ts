// Shared by the TUN tests: a ping run by the kernel inside a test namespace.

/** A kernel-side ping: raw ICMP socket, `count` echoes, prints one line per reply, exit 0 when all came back. */
export const PING_PY = String.raw`
import os, socket, struct, sys, time
dst, count = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(1.0)
def csum(b):
    if len(b) % 2: b += b'\0'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while t >> 16: t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff
got = 0
for seq in range(count):
    body = b'usnet-ping-%d' % seq
    h = struct.pack('!BBHHH', 8, 0, 0, 0x4242, seq)
    h = struct.pack('!BBHHH', 8, 0, csum(h + body), 0x4242, seq)
    s.sendto(h + body, (dst, 0))
    end = time.time() + 1.0
    while time.time() < end:
        try:
            pkt, addr = s.recvfrom(2048)
        except socket.timeout:
            break
        ihl = (pkt[0] & 15) * 4
        t, c, ck, ident, sq = struct.unpack('!BBHHH', pkt[ihl:ihl + 8])
        if t == 0 and ident == 0x4242 and sq == seq and pkt[ihl + 8:] == body:
            print('reply from %s seq=%d' % (addr[0], seq))
            got += 1
            break
sys.exit(0 if got == count else 1)
`;
