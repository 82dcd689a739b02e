/**
 * The python3 program that performs a script's system calls on real kernel
 * sockets for `usnet drill --target kernel`. It runs inside the test's network
 * namespace (`ip netns exec`) and speaks JSON lines on stdin/stdout (see
 * syscall-helper.ts for the TypeScript side):
 *
 *   request   {"id": 7, "op": "connect", "fd": 3, "addr": {"family": 2, "host": "192.0.2.1", "port": 8080}}
 *   response  {"id": 7, "ret": -1, "errno": "EINPROGRESS", "t0": <ns>, "t1": <ns>}
 *
 * A call that may sleep in the kernel (accept/read on an empty blocking
 * socket, blocking connect, poll with a timeout, a lingering close) runs on
 * its own thread, so it does not hold up the next script line, as in
 * packetdrill; everything else runs inline, for speed. `t0`/`t1` are CLOCK_MONOTONIC nanoseconds when the call
 * started/returned, the same clock as Node's process.hrtime, so the runner
 * can check "0.1...0.2 accept(...)" timing. Python's socket module is used
 * without its timeout machinery (fds stay as the script made them), so a
 * non-blocking socket returns EAGAIN/EINPROGRESS exactly like C.
 *
 * Values that are C structs in the script arrive already shaped:
 *   setsockopt value: {"int": n} | {"linger": [onoff, secs]} | {"hex": "..."} | {"str": "reno"}
 *   getsockopt: returns {"ret": 0, "hex": "...", "int": n (when 4 bytes)}
 *   read/write/send/recv... with "null": true: the buffer is NULL (through ctypes: EFAULT)
 *   sendmsg: {"iov": [len, ...], "flags": n, "addr"?: {...}} (zero bytes, no control data)
 *   recvmsg: {"len": n, "flags": n} -> {"ret", "hex", "mflags", "cmsgs": [[level, type, hex], ...]}
 */
export const SYSCALL_HELPER_PY = String.raw`
import errno, fcntl, json, os, select, socket, struct, sys, threading, time

# Scripts are timed to milliseconds: be scheduled promptly on a busy machine
# (packetdrill itself runs SCHED_RR). Only root may do this; fine if refused.
try:
    os.setpriority(os.PRIO_PROCESS, 0, -10)
except OSError:
    pass

out_lock = threading.Lock()
socks = {}

def reply(obj):
    line = (json.dumps(obj) + '\n').encode()
    with out_lock:
        os.write(1, line)

def sock_of(fd):
    s = socks.get(fd)
    if s is None:
        raise OSError(errno.EBADF, 'Bad file descriptor')
    return s

def to_addr(a):
    if a['family'] == socket.AF_INET6:
        return (a['host'], a['port'], a.get('flowinfo', 0), a.get('scope_id', 0))
    return (a['host'], a['port'])

def from_addr(fam, a):
    if fam == socket.AF_INET6:
        return {'family': socket.AF_INET6, 'host': a[0], 'port': a[1]}
    if fam == socket.AF_INET:
        return {'family': socket.AF_INET, 'host': a[0], 'port': a[1]}
    return None

def pack_int(n):
    # The script's integer as the 4 bytes C would pass: values above
    # INT_MAX (IP_LOCAL_PORT_RANGE [0xdeaddead], a u32) as unsigned.
    return struct.pack('I' if n > 0x7fffffff else 'i', n)

def optval(v):
    if 'int' in v:
        return pack_int(v['int'])
    if 'linger' in v:
        return struct.pack('ii', v['linger'][0], v['linger'][1])
    if 'hex' in v:
        return bytes.fromhex(v['hex'])
    if 'str' in v:
        return v['str'].encode()
    raise OSError(errno.EINVAL, 'bad option value')

def do(req):
    op = req['op']
    if op == 'socket':
        s = socket.socket(req['domain'], req['type'], req.get('proto', 0))
        socks[s.fileno()] = s
        return {'ret': s.fileno()}
    if op == 'close':
        s = socks.pop(req['fd'], None)
        if s is None:
            os.close(req['fd'])
        else:
            s.close()
        return {'ret': 0}
    if op == 'poll':
        p = select.poll()
        for f in req['fds']:
            p.register(f['fd'], f['events'])
        got = dict(p.poll(req['timeout']))
        return {'ret': len(got), 'revents': [got.get(f['fd'], 0) for f in req['fds']]}
    if op == 'fcntl':
        return {'ret': fcntl.fcntl(req['fd'], req['cmd'], req.get('arg', 0))}
    s = sock_of(req['fd'])
    if op == 'bind':
        s.bind(to_addr(req['addr']))
        return {'ret': 0}
    if op == 'listen':
        s.listen(req['backlog'])
        return {'ret': 0}
    if op == 'connect':
        s.connect(to_addr(req['addr']))
        return {'ret': 0}
    if op == 'accept':
        fd, addr = s._accept()
        ns = socket.socket(s.family, s.type, s.proto, fileno=fd)
        socks[fd] = ns
        return {'ret': fd, 'addr': from_addr(s.family, addr)}
    if op == 'shutdown':
        s.shutdown(req['how'])
        return {'ret': 0}
    if req.get('null'):
        # A NULL buffer (write(4, NULL, 1000)): only C can pass one, and the
        # kernel answers EFAULT for it itself.
        return null_buffer_call(op, req)
    if op in ('read', 'recv', 'recvfrom'):
        if op == 'recvfrom':
            data, addr = s.recvfrom(req['len'], req.get('flags', 0))
            return {'ret': len(data), 'hex': data.hex(), 'addr': from_addr(s.family, addr)}
        data = s.recv(req['len'], req.get('flags', 0))
        return {'ret': len(data), 'hex': data.hex()}
    if op in ('write', 'send', 'sendto'):
        data = bytes.fromhex(req['hex']) if 'hex' in req else bytes(req['len'])
        if op == 'sendto' and req.get('addr'):
            n = s.sendto(data, req.get('flags', 0), to_addr(req['addr']))
        else:
            n = s.send(data, req.get('flags', 0))
        return {'ret': n}
    if op == 'recvmsg':
        data, anc, mflags, _ = s.recvmsg(req['len'], 1024, req.get('flags', 0))
        return {'ret': len(data), 'hex': data.hex(), 'mflags': mflags,
                'cmsgs': [[lv, ty, d.hex()] for (lv, ty, d) in anc]}
    if op == 'sendmsg':
        # iovecs of zeros (packetdrill's contents), no control data
        iov = [bytes(n) for n in req['iov']]
        addr = req.get('addr')
        if addr:
            n = s.sendmsg(iov, [], req.get('flags', 0), to_addr(addr))
        else:
            n = s.sendmsg(iov, [], req.get('flags', 0))
        return {'ret': n}
    if op == 'setsockopt':
        s.setsockopt(req['level'], req['name'], optval(req['value']))
        return {'ret': 0}
    if op == 'getsockopt':
        b = s.getsockopt(req['level'], req['name'], req.get('len', 4))
        r = {'ret': 0, 'hex': b.hex()}
        if len(b) == 4:
            r['int'] = struct.unpack('i', b)[0]
        return r
    if op == 'ioctl':
        b = fcntl.ioctl(req['fd'], req['req'], bytes(4))
        return {'ret': 0, 'int': struct.unpack('i', b)[0]}
    if op == 'getsockname':
        return {'ret': 0, 'addr': from_addr(s.family, s.getsockname())}
    if op == 'getpeername':
        return {'ret': 0, 'addr': from_addr(s.family, s.getpeername())}
    raise OSError(errno.ENOSYS, 'unsupported op ' + op)

libc = None

def null_buffer_call(op, req):
    global libc
    if libc is None:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
    fd, n, flags = req['fd'], req['len'], req.get('flags', 0)
    if op == 'read':
        r = libc.read(fd, None, n)
    elif op == 'write':
        r = libc.write(fd, None, n)
    elif op in ('recv', 'recvfrom'):
        r = libc.recvfrom(fd, None, n, flags, None, None)
    elif op in ('send', 'sendto'):
        r = libc.sendto(fd, None, n, flags, None, 0)
    else:
        raise OSError(errno.EINVAL, 'NULL buffer for ' + op)
    if r < 0:
        import ctypes
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return {'ret': r}

O_NONBLOCK = os.O_NONBLOCK

def nonblocking(fd):
    try:
        return fcntl.fcntl(fd, fcntl.F_GETFL) & O_NONBLOCK != 0
    except OSError:
        return True

def ready(fd, events):
    p = select.poll()
    p.register(fd, events)
    return len(p.poll(0)) > 0

def may_block(req):
    # Calls that cannot wait run inline (about 100 us round trip, which keeps
    # scripts within packetdrill's 4 ms tolerance); only a call that can
    # sleep in the kernel gets a thread of its own.
    op = req['op']
    fd = req.get('fd')
    if op == 'poll':
        return req['timeout'] != 0
    if fd is None or fd not in socks or nonblocking(fd):
        return False
    if op == 'connect':
        return True
    if op in ('accept', 'read', 'recv', 'recvfrom', 'recvmsg'):
        return not ready(fd, select.POLLIN)
    if op in ('write', 'send', 'sendto'):
        return req.get('len', len(req.get('hex', '')) // 2) > 16384 or not ready(fd, select.POLLOUT)
    if op == 'recvmsg':
        data, anc, mflags, _ = s.recvmsg(req['len'], 1024, req.get('flags', 0))
        return {'ret': len(data), 'hex': data.hex(), 'mflags': mflags,
                'cmsgs': [[lv, ty, d.hex()] for (lv, ty, d) in anc]}
    if op == 'sendmsg':
        return sum(req['iov']) > 16384 or not ready(fd, select.POLLOUT)
    if op == 'close':
        lg = socks[fd].getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8)
        return struct.unpack('ii', lg)[0] != 0
    return False

def run(req, threaded):
    if threaded:
        # The thread id lets Node tell a call that is blocked in the kernel
        # (/proc/<pid>/task/<tid>/stat and syscall) from one still running.
        reply({'id': req['id'], 'started': True, 'tid': threading.get_native_id()})
    t0 = time.monotonic_ns()
    try:
        r = do(req)
    except OSError as e:
        code = errno.errorcode.get(e.errno, 'EIO') if e.errno else 'EIO'
        r = {'ret': -1, 'errno': code, 'message': e.strerror or str(e)}
    except Exception as e:
        r = {'ret': -1, 'errno': 'EINVAL', 'message': repr(e)}
    r['id'] = req['id']
    r['t0'] = t0
    r['t1'] = time.monotonic_ns()
    reply(r)

reply({'id': 0, 'ready': True, 'pid': os.getpid()})
stdin = sys.stdin.buffer
while True:
    line = stdin.readline()
    if not line:
        break
    line = line.strip()
    if not line:
        continue
    req = json.loads(line)
    if req.get('op') == 'exit':
        break
    try:
        blocking = may_block(req)
    except OSError:
        blocking = False
    if blocking:
        threading.Thread(target=run, args=(req, True), daemon=True).start()
    else:
        run(req, False)
os._exit(0)
`;
