import { describe, expect, it } from 'vitest';
import { BpfProgram } from './bpf-program.ts';
import { buildSeccompFilter } from './seccomp-filter.ts';
import { abiTables, deniedNames } from './seccomp-syscalls.ts';

/**
 * Runs the generated filter in a small classic-BPF interpreter (only the opcodes the generator
 * emits), so that both ABIs' tables are checked here, aarch64 included, which this machine
 * cannot run. The attack suite checks the x86_64 filter in the real kernel.
 */
function run(filter: Uint8Array, data: { nr: number; arch: number; args?: bigint[] }): number {
  const view = new DataView(filter.buffer, filter.byteOffset, filter.byteLength);
  const seccompData = new DataView(new ArrayBuffer(64));
  seccompData.setInt32(0, data.nr, true);
  seccompData.setUint32(4, data.arch, true);
  (data.args ?? []).forEach((arg, i) => seccompData.setBigUint64(16 + i * 8, arg, true));
  let a = 0;
  for (let pc = 0, steps = 0; steps < 1_000; steps += 1) {
    const code = view.getUint16(pc * 8, true);
    const jt = view.getUint8(pc * 8 + 2);
    const jf = view.getUint8(pc * 8 + 3);
    const k = view.getUint32(pc * 8 + 4, true);
    pc += 1;
    if (code === 0x20) a = seccompData.getUint32(k, true);
    else if (code === 0x54) a = (a & k) >>> 0;
    else if (code === 0x15) pc += a === k ? jt : jf;
    else if (code === 0x35) pc += a >= k ? jt : jf;
    else if (code === 0x45) pc += (a & k) !== 0 ? jt : jf;
    else if (code === 0x06) return k;
    else throw new Error(`opcode ${code.toString(16)} not emitted by the generator`);
  }
  throw new Error('filter did not return');
}

const ALLOW = 0x7fff0000;
const EPERM = 0x00050001;
const ENOSYS = 0x00050026;
const EAFNOSUPPORT = 0x00050061;
const KILL = 0x80000000;
const CLONE_NEWUSER = 0x10000000n;
const SIGCHLD = 17n;
const [AF_UNSPEC, AF_UNIX, AF_INET, AF_INET6, AF_NETLINK] = [0n, 1n, 2n, 10n, 16n];
const [AF_PACKET, AF_BLUETOOTH, AF_ALG, AF_VSOCK] = [17n, 31n, 38n, 40n];
const SOCK_STREAM_NONBLOCK_CLOEXEC = 1n | 0x800n | 0x80000n;
const SOCK_RAW = 3n;
const [NETLINK_ROUTE, NETLINK_AUDIT, NETLINK_KOBJECT_UEVENT] = [0n, 9n, 15n];
const high = 0xffffffff00000000n;

// Numbers written out independently of seccomp-syscalls.ts (from the kernel's unistd tables).
const abis = [
  {
    arch: 'x64',
    audit: 0xc000003e,
    nr: {
      read: 0,
      ioctl: 16,
      socket: 41,
      socketpair: 53,
      clone: 56,
      syslog: 103,
      personality: 135,
      iopl: 172,
      mbind: 237,
      unshare: 272,
      kcmp: 312,
      bpf: 321,
      io_uring_setup: 425,
      clone3: 435,
      pidfd_getfd: 438,
      adjtimex: 159,
    },
  },
  {
    arch: 'arm64',
    audit: 0xc00000b7,
    nr: {
      read: 63,
      ioctl: 29,
      socket: 198,
      socketpair: 199,
      clone: 220,
      syslog: 116,
      personality: 92,
      iopl: null,
      mbind: 235,
      unshare: 97,
      kcmp: 272,
      bpf: 280,
      io_uring_setup: 425,
      clone3: 435,
      pidfd_getfd: 438,
      adjtimex: 171,
    },
  },
] as const;

describe.each(abis)('seccomp filter for $arch', ({ arch, audit, nr }) => {
  const filter = buildSeccompFilter(arch);
  const call = (n: number, args: bigint[] = []): number =>
    run(filter, { nr: n, arch: audit, args });

  it.each([
    ['read', nr.read, [], ALLOW],
    ['plain fork via clone', nr.clone, [SIGCHLD], ALLOW],
    ['clone with CLONE_NEWUSER', nr.clone, [CLONE_NEWUSER | SIGCHLD], EPERM],
    ['clone with CLONE_NEWNET', nr.clone, [0x40000000n], EPERM],
    ['clone3 (flags out of reach)', nr.clone3, [], ENOSYS],
    ['unshare', nr.unshare, [CLONE_NEWUSER], EPERM],
    ['bpf', nr.bpf, [], EPERM],
    ['io_uring_setup', nr.io_uring_setup, [], EPERM],
    ['ioctl TIOCSTI', nr.ioctl, [0n, 0x5412n], EPERM],
    ['ioctl TIOCSTI with high bits set', nr.ioctl, [0n, 0xffffffff00005412n], EPERM],
    ['ioctl TIOCLINUX', nr.ioctl, [0n, 0x541cn], EPERM],
    ['ioctl FIONREAD', nr.ioctl, [0n, 0x541bn], ALLOW],
    ['pidfd_getfd', nr.pidfd_getfd, [3n, 0n, 0n], EPERM],
    ['kcmp', nr.kcmp, [1n, 2n, 0n], EPERM],
    ['syslog', nr.syslog, [3n, 0n, 0n], EPERM],
    ['mbind', nr.mbind, [], EPERM],
    ['adjtimex', nr.adjtimex, [0n], EPERM],
  ] as const)('%s', (_name, number, args, expected) => {
    expect(call(number, [...args])).toBe(expected);
  });

  it.each([
    ['AF_UNIX', [AF_UNIX, SOCK_STREAM_NONBLOCK_CLOEXEC, 0n], ALLOW],
    ['AF_INET', [AF_INET, SOCK_STREAM_NONBLOCK_CLOEXEC, 0n], ALLOW],
    ['AF_INET6 datagram', [AF_INET6, 2n, 0n], ALLOW],
    ['AF_NETLINK NETLINK_ROUTE', [AF_NETLINK, SOCK_RAW, NETLINK_ROUTE], ALLOW],
    ['AF_NETLINK NETLINK_AUDIT', [AF_NETLINK, SOCK_RAW, NETLINK_AUDIT], EAFNOSUPPORT],
    ['AF_NETLINK NETLINK_KOBJECT_UEVENT', [AF_NETLINK, 2n, NETLINK_KOBJECT_UEVENT], EAFNOSUPPORT],
    ['AF_NETLINK uevent, route in the high word', [AF_NETLINK, 2n, high | 15n], EAFNOSUPPORT],
    ['AF_PACKET', [AF_PACKET, SOCK_RAW, 0x300n], EAFNOSUPPORT],
    ['AF_ALG', [AF_ALG, 5n, 0n], EAFNOSUPPORT],
    ['AF_VSOCK', [AF_VSOCK, 1n, 0n], EAFNOSUPPORT],
    ['AF_VSOCK with SOCK_CLOEXEC', [AF_VSOCK, 1n | 0x80000n, 0n], EAFNOSUPPORT],
    ['AF_VSOCK, junk in the high word', [high | AF_VSOCK, 1n, 0n], EAFNOSUPPORT],
    // The kernel reads the family as an int: this one is AF_UNIX to it, so to the filter too.
    ['AF_UNIX, junk in the high word', [high | AF_UNIX, 1n, 0n], ALLOW],
    ['AF_BLUETOOTH', [AF_BLUETOOTH, 1n, 0n], EAFNOSUPPORT],
    ['AF_UNSPEC', [AF_UNSPEC, 1n, 0n], EAFNOSUPPORT],
  ] as const)('socket(%s)', (_name, args, expected) => {
    expect(call(nr.socket, [...args])).toBe(expected);
  });

  it.each([
    ['AF_UNIX', [AF_UNIX, 1n, 0n, 0n], ALLOW],
    ['AF_VSOCK', [AF_VSOCK, 1n, 0n, 0n], EAFNOSUPPORT],
    ['AF_NETLINK uevent', [AF_NETLINK, 2n, NETLINK_KOBJECT_UEVENT, 0n], EAFNOSUPPORT],
  ] as const)('socketpair(%s)', (_name, args, expected) => {
    expect(call(nr.socketpair, [...args])).toBe(expected);
  });

  it.each([
    ['query (0xffffffff)', 0xffffffffn, ALLOW],
    ['PER_LINUX', 0n, ALLOW],
    ['PER_LINUX32 (setarch linux32)', 0x8n, ALLOW],
    ['ADDR_NO_RANDOMIZE (setarch -R)', 0x40000n, ALLOW],
    ['PER_LINUX32 | UNAME26 | ADDR_NO_RANDOMIZE', 0x60008n, ALLOW],
    ['READ_IMPLIES_EXEC', 0x400000n, EPERM],
    ['MMAP_PAGE_ZERO', 0x100000n, EPERM],
    ['PER_SVR4', 0x1n | 0x4000000n | 0x100000n, EPERM],
    ['MMAP_PAGE_ZERO, the query in the high word', high | 0x100000n, EPERM],
  ] as const)('personality(%s)', (_name, persona, expected) => {
    expect(call(nr.personality, [persona])).toBe(expected);
  });

  it('kills a syscall made through a foreign ABI (i386 int 0x80, socketcall included)', () => {
    expect(run(filter, { nr: 20, arch: 0x40000003 })).toBe(KILL);
    // socketcall(SYS_SOCKET, args): the family would be in memory, out of the filter's reach.
    expect(run(filter, { nr: 102, arch: 0x40000003, args: [1n, 0n] })).toBe(KILL);
  });

  if (arch === 'x64') {
    it('refuses the x32 ABI (its socket call included) and the x86-only syscalls', () => {
      expect(call(0x40000000 | 39)).toBe(EPERM);
      expect(call(0x40000000 | 41, [AF_VSOCK, 1n, 0n])).toBe(EPERM);
      expect(call(nr.iopl ?? -1, [3n])).toBe(EPERM);
    });
  }
});

describe('seccomp syscall tables', () => {
  it.each(Object.entries(abiTables))('%s: no two names share a number', (_arch, table) => {
    const numbers = Object.values(table.numbers).filter((n) => n !== null);
    expect(new Set(numbers).size).toBe(numbers.length);
  });

  it.each(Object.entries(abiTables))(
    '%s: every denied syscall it has answers EPERM',
    (arch, table) => {
      const filter = buildSeccompFilter(arch);
      const answers = deniedNames
        .filter((name) => table.numbers[name] !== null)
        .map((name) => [
          name,
          run(filter, { nr: table.numbers[name] ?? -1, arch: table.auditArch }),
        ]);
      expect(answers.filter(([, answer]) => answer !== EPERM)).toEqual([]);
      expect(answers.length).toBeGreaterThan(50);
    },
  );
});

describe('bpf program assembly', () => {
  it('resolves forward labels to offsets and refuses unknown ones', () => {
    const bytes = new BpfProgram()
      .jumpIfEqual(1, { label: 'x' })
      .ret(0)
      .label('x')
      .ret(1)
      .assemble();
    expect([...bytes.subarray(0, 4)]).toEqual([0x15, 0, 1, 0]);
    expect(() => new BpfProgram().jumpIfEqual(1, { label: 'nowhere' }).assemble()).toThrow(
      /unknown label/,
    );
  });
});
