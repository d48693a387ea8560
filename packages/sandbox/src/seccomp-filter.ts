import { arch as hostArch } from 'node:process';
import { BpfProgram, type Target } from './bpf-program.ts';
import { abiTables, deniedNames, type AbiTable } from './seccomp-syscalls.ts';

/**
 * The seccomp filter every sandboxed command runs under (bubblewrap loads it with `--seccomp`
 * right before it executes the command). It is a deny list (seccomp-syscalls.ts says why each
 * entry is there): the syscalls that open a way out of the namespaces (new namespaces, mounts,
 * ptrace and its kin, kernel keyrings and modules, bpf, io_uring, perf, userfaultfd), administer
 * the machine, or only widen the kernel's attack surface fail with EPERM, as do pushing keystrokes
 * into a terminal and the personality flags that weaken memory protection. clone3 answers ENOSYS
 * so that libc falls back to clone, whose flags a classic BPF filter can inspect (clone3 passes
 * them in memory, out of the filter's reach).
 *
 * Sockets are the one allow-list: the namespaces scope only some address families (inet and
 * route netlink by the network namespace; unix by the mount namespace for paths and the network
 * namespace for abstract names; nothing scopes AF_VSOCK, a path to the hypervisor's services), so
 * every other family fails with EAFNOSUPPORT, the errno of a kernel built without it, which
 * programs already handle. io_uring, which can open sockets past the filter, is denied outright.
 *
 * A syscall from another ABI is the classic way round a filter: the x32 ABI (x86_64 numbers
 * with bit 30 set) is refused, and a foreign architecture (i386 via `int 0x80`, whose socketcall
 * multiplexer would hide the socket family in memory; AArch32 on arm64) kills the process.
 */

// seccomp_data layout: int nr; u32 arch; u64 instruction_pointer; u64 args[6].
const offsetNr = 0;
const offsetArch = 4;
/**
 * Low 32 bits of args[i] on a little-endian machine. Every argument a rule reads is an `int` or
 * `unsigned int` to the kernel, which ignores the high word: so must the filter, or high bits
 * would smuggle a value past it.
 */
const argLow = (index: number): number => 16 + index * 8;

const SECCOMP_RET_KILL_PROCESS = 0x80000000;
const SECCOMP_RET_ERRNO = 0x00050000;
const SECCOMP_RET_ALLOW = 0x7fff0000;
// Same numbers on x86_64 and aarch64 (asm-generic/errno*.h).
const EPERM = 1;
const ENOSYS = 38;
const EAFNOSUPPORT = 97;

const X32_SYSCALL_BIT = 0x40000000;
/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET. */
const cloneNamespaceFlags = 0x7e020000;
const TIOCSTI = 0x5412;
const TIOCLINUX = 0x541c;

/**
 * socket(domain, type, protocol) and socketpair(domain, type, protocol, sv) may use these
 * families. `type` is not looked at: SOCK_NONBLOCK and SOCK_CLOEXEC ride in it, and it decides
 * nothing here. Raw inet sockets need CAP_NET_RAW, which the sandbox does not hold.
 */
const allowedFamilies = { AF_UNIX: 1, AF_INET: 2, AF_INET6: 10 };
/**
 * AF_NETLINK only with NETLINK_ROUTE: getifaddrs (Node's os.networkInterfaces, getaddrinfo's
 * AI_ADDRCONFIG, `ip`) needs it, and route netlink answers from the caller's network namespace:
 * the sandbox's own with network 'none', the host's (read-only without CAP_NET_ADMIN, which the
 * sandbox does not hold) with 'allowed'. Every other netlink protocol (audit, kobject uevents,
 * sock_diag, generic netlink…) reaches kernel-wide state and is refused.
 */
const AF_NETLINK = 16;
const NETLINK_ROUTE = 0;

/**
 * personality(persona) may query (0xffffffff) or set PER_LINUX / PER_LINUX32 with UNAME26 and
 * ADDR_NO_RANDOMIZE (`setarch linux32`, `setarch -R`: reproducible addresses for the sandbox's own
 * processes, which it controls anyway, and cleared on a setuid exec). Any other bit fails with
 * EPERM: READ_IMPLIES_EXEC makes all readable memory executable, MMAP_PAGE_ZERO maps page zero
 * (the classic help for a kernel NULL-dereference exploit), and the other personalities carry
 * one of those or obsolete behaviour no tool here needs.
 */
const PERSONALITY_QUERY = 0xffffffff;
const allowedPersonaBits = 0x0008 | 0x0020000 | 0x0040000;

/** The Node.js architectures a filter can be built for. */
export const seccompArchitectures = Object.keys(abiTables);

export function seccompSupported(arch: string = hostArch): boolean {
  return arch in abiTables;
}

/** What a syscall ends in: each return sits at the end of the program under its own label. */
const verdicts = {
  allow: SECCOMP_RET_ALLOW,
  deny: SECCOMP_RET_ERRNO | EPERM,
  eafnosupport: SECCOMP_RET_ERRNO | EAFNOSUPPORT,
  enosys: SECCOMP_RET_ERRNO | ENOSYS,
  kill: SECCOMP_RET_KILL_PROCESS,
};
const to = (verdict: keyof typeof verdicts): Target => ({ label: verdict });

/** The filter as `struct sock_filter[]` bytes, for bubblewrap's `--seccomp FD`. */
export function buildSeccompFilter(arch: string = hostArch): Uint8Array {
  const table = abiTables[arch];
  if (table === undefined) throw new Error(`no seccomp syscall table for ${arch}`);
  const p = new BpfProgram();
  p.loadWord(offsetArch).jumpIfEqual(table.auditArch, 'next', to('kill'));
  p.loadWord(offsetNr);
  dispatch(p, table);
  argumentRules(p);
  for (const [verdict, value] of Object.entries(verdicts)) p.label(verdict).ret(value);
  return p.assemble();
}

/** With the syscall number in A: jump to its rule or verdict; allow anything not named. */
function dispatch(p: BpfProgram, table: AbiTable): void {
  const n = table.numbers;
  if (table.rejectsX32) p.jumpIfAtLeast(X32_SYSCALL_BIT, to('deny'));
  p.jumpIfEqual(n.clone3, to('enosys'));
  p.jumpIfEqual(n.clone, { label: 'clone' });
  p.jumpIfEqual(n.ioctl, { label: 'ioctl' });
  p.jumpIfEqual(n.socket, { label: 'socket' });
  p.jumpIfEqual(n.socketpair, { label: 'socket' });
  p.jumpIfEqual(n.personality, { label: 'personality' });
  for (const name of deniedNames) {
    const number = n[name];
    if (number !== null) p.jumpIfEqual(number, to('deny'));
  }
  p.ret(SECCOMP_RET_ALLOW);
}

/** The rules that read arguments. Argument positions are the same on both ABIs. */
function argumentRules(p: BpfProgram): void {
  // clone(flags, …): all namespace flags are in the low word.
  p.label('clone').loadWord(argLow(0)).jumpIfAnyBit(cloneNamespaceFlags, to('deny'));
  p.ret(SECCOMP_RET_ALLOW);
  // ioctl(fd, request, …): TIOCSTI and TIOCLINUX push keystrokes into a terminal.
  p.label('ioctl').loadWord(argLow(1));
  p.jumpIfEqual(TIOCSTI, to('deny')).jumpIfEqual(TIOCLINUX, to('deny'));
  p.ret(SECCOMP_RET_ALLOW);
  p.label('socket').loadWord(argLow(0));
  for (const family of Object.values(allowedFamilies)) p.jumpIfEqual(family, to('allow'));
  p.jumpIfEqual(AF_NETLINK, 'next', to('eafnosupport'));
  p.loadWord(argLow(2)).jumpIfEqual(NETLINK_ROUTE, to('allow'), to('eafnosupport'));
  p.label('personality').loadWord(argLow(0)).jumpIfEqual(PERSONALITY_QUERY, to('allow'));
  p.jumpIfAnyBit(~allowedPersonaBits >>> 0, to('deny'));
  p.ret(SECCOMP_RET_ALLOW);
}

/** The names the filter refuses with EPERM on `arch`. */
function deniedOn(arch: string): string[] {
  const table = abiTables[arch];
  return table === undefined ? [] : deniedNames.filter((name) => table.numbers[name] !== null);
}

/** What the filter refuses, for the protections report. */
export function seccompSummary(arch: string = hostArch): string {
  const x32 = abiTables[arch]?.rejectsX32 === true ? ', the x32 ABI' : '';
  return `EPERM for ${deniedOn(arch).join(', ')}, clone with namespace flags, ioctl TIOCSTI/TIOCLINUX, personality flags other than PER_LINUX32/UNAME26/ADDR_NO_RANDOMIZE${x32}; EAFNOSUPPORT for socket families outside the allow-list; ENOSYS for clone3; kill on a foreign ABI`;
}

/** The socket allow-list, for the protections report. */
export function socketFamiliesSummary(): string {
  return `seccomp allows socket and socketpair only for ${Object.keys(allowedFamilies).join(', ')}, and AF_NETLINK with NETLINK_ROUTE (interface lists, scoped by the network namespace); every other family (AF_VSOCK, AF_PACKET, AF_ALG, other netlink protocols…) fails with EAFNOSUPPORT`;
}
