# Port choice and bind conflicts on the Linux kernel, run inside a private
# network namespace (198.18.0.1 and 198.18.0.2 on lo) by
# test/kernel/inet-ports.test.ts, which runs the same experiments on usnet's
# tables and compares. Prints one JSON object. Every loop is bounded.
import errno, json, socket, sys

SRV = ('198.18.0.2', 8000)
out = {}

def sysctl(name, val):
    open('/proc/sys/' + name.replace('.', '/'), 'w').write(str(val))

def err(f):
    try:
        f()
        return 'OK'
    except OSError as e:
        return errno.errorcode[e.errno]

keep = []
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); srv.bind(SRV); srv.listen(4096)
keep.append(srv)

# 1. connect() from unbound sockets to one destination.
ports = []
for i in range(12):
    c = socket.socket(); c.connect(SRV); ports.append(c.getsockname()[1]); keep.append(c)
out['connect'] = ports

# 2. bind(port 0), without and with SO_REUSEADDR.
b0 = []
for i in range(8):
    b = socket.socket(); b.bind(('198.18.0.1', 0)); b0.append(b.getsockname()[1]); keep.append(b)
out['bind0'] = b0
b1 = []
for i in range(8):
    b = socket.socket(); b.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); b.bind(('198.18.0.1', 0)); b1.append(b.getsockname()[1]); keep.append(b)
out['bind0reuse'] = b1

# 3. a 10-port range to another destination port: exhaustion.
sysctl('net.ipv4.ip_local_port_range', '40000 40009')
srv2 = socket.socket(); srv2.bind(('198.18.0.2', 8001)); srv2.listen(64); keep.append(srv2)
ex = []
res = None
for i in range(12):
    c = socket.socket()
    r = err(lambda: c.connect(('198.18.0.2', 8001)))
    if r != 'OK':
        res = r
        break
    ex.append(c.getsockname()[1]); keep.append(c)
out['exhaust'] = ex
out['exhaustNext'] = res
c = socket.socket(); c.setblocking(False)
out['exhaustOtherPort'] = err(lambda: c.connect(('198.18.0.2', 8002)))  # EINPROGRESS or refused: a port was found
sysctl('net.ipv4.ip_local_port_range', '32768 60999')

# 4. listen conflicts.
a = socket.socket(); a.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
seq = [err(lambda: a.bind(('0.0.0.0', 9000)))]
b = socket.socket(); b.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); seq.append(err(lambda: b.bind(('0.0.0.0', 9000))))
seq.append(err(lambda: a.listen(1))); seq.append(err(lambda: b.listen(1)))
c = socket.socket(); c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); seq.append(err(lambda: c.bind(('198.18.0.1', 9000))))
d = socket.socket(socket.AF_INET6); d.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); seq.append(err(lambda: d.bind(('::', 9000))))
e = socket.socket(socket.AF_INET6); e.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1); seq.append(err(lambda: e.bind(('::', 9000))))
f = socket.socket(); seq.append(err(lambda: f.bind(('198.19.0.99', 0))))
keep += [a, b, c, d, e, f]
out['listen'] = seq
print(json.dumps(out))
