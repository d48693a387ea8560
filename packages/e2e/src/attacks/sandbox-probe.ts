/** What every probe script starts with: `attempt` prints one JSON line per try. */
const attempt = `import ctypes, errno, json, os, socket, sys

def attempt(probe, action):
    try:
        detail = action()
        print(json.dumps({'probe': probe, 'ok': True, 'detail': detail}))
    except OSError as e:
        code = errno.errorcode.get(e.errno, str(e.errno))
        print(json.dumps({'probe': probe, 'ok': False, 'errno': code}))

def open_socket(family, kind, proto=0):
    socket.socket(family, kind, proto).close()
`;

const socketFamilies = `# Socket families outside the allow-list (AF_UNIX, AF_INET, AF_INET6, NETLINK_ROUTE).
allowed = {socket.AF_UNIX, socket.AF_INET, socket.AF_INET6, socket.AF_NETLINK}
for family in range(0, 46):
    if family in allowed:
        continue
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_SEQPACKET):
        attempt('family-%d-type-%d' % (family, kind), lambda: open_socket(family, kind))
attempt('vsock-socketpair', lambda: [s.close() for s in socket.socketpair(socket.AF_VSOCK, socket.SOCK_STREAM)] and None)
for proto in range(1, 23):
    attempt('netlink-proto-%d' % proto, lambda: open_socket(socket.AF_NETLINK, socket.SOCK_RAW, proto))
`;

/**
 * The same socket tries, run on the host (root, no filter): a family the host opens and the
 * sandbox refuses is refused by the sandbox's filter, not by a kernel that lacks the family.
 */
export const hostFamilyProbe = `${attempt}\n${socketFamilies}`;

/**
 * What a command in the default sandbox can see and reach, tried one thing at a time by a Python
 * script the attacker writes into its workspace. Each try prints one JSON line:
 * `{"probe": name, "ok": bool, "errno": "EAFNOSUPPORT" | …, "detail": …}`.
 *
 * Arguments: the worker's host pid, a TCP port of the host's loopback, an abstract unix socket
 * name the host listens on.
 */
export const sandboxProbe = `${attempt}
worker_pid, host_port, abstract = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def environ_of(path):
    with open(path, 'rb') as f:
        return f.read().decode('utf-8', 'replace')

# The environment, and every process this command can see.
attempt('environ-names', lambda: sorted(os.environ))
attempt('pid1-environ', lambda: environ_of('/proc/1/environ'))
attempt('pids', lambda: sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))
attempt('all-environs', lambda: [environ_of('/proc/%s/environ' % p) for p in os.listdir('/proc') if p.isdigit()])
attempt('worker-environ', lambda: environ_of('/proc/%s/environ' % worker_pid))
attempt('open-fds', lambda: sorted(int(fd) for fd in os.listdir('/proc/self/fd')))

${socketFamilies}attempt('netlink-route', lambda: open_socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))
attempt('inet-raw', lambda: open_socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
libc = ctypes.CDLL(None, use_errno=True)
def io_uring_setup():
    params = ctypes.create_string_buffer(120)
    if libc.syscall(425, 8, params) < 0:
        raise OSError(ctypes.get_errno(), 'io_uring_setup')
attempt('io-uring', io_uring_setup)

# The host's loopback and its abstract unix sockets.
attempt('host-loopback', lambda: socket.create_connection(('127.0.0.1', host_port), timeout=2).close())
def abstract_connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect('\\0' + abstract)
    s.close()
attempt('host-abstract-socket', abstract_connect)

# The read-only root; /tmp and the workspace are the writable places (the controls).
def create(path):
    with open(path, 'a') as f:
        f.write('x')
for path in ['/x', '/etc/x', '/etc/hosts', '/usr/x', '/usr/bin/x', '/lib/x', '/dev/x', '/tmp/x', '/workspace/x']:
    attempt('write-' + path, lambda: create(path))
attempt('mkdir-/newdir', lambda: os.mkdir('/newdir'))
`;

export interface ProbeResult {
  probe: string;
  ok: boolean;
  errno?: string;
  detail?: unknown;
}
