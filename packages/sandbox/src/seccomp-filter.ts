import { arch as hostArch } from 'node:process';
import { BpfProgram } from './bpf-program.ts';

/**
 * The seccomp filter every sandboxed command runs under (bubblewrap loads it with `--seccomp`
 * right before it executes the command). It is a deny list: the syscalls that open a way out of
 * the namespaces (new namespaces, mounts, ptrace, kernel keyrings and modules, bpf, io_uring,
 * perf, userfaultfd) or push keystrokes into a terminal fail with EPERM; everything else is
 * allowed. clone3 answers ENOSYS so that libc falls back to clone, whose flags a classic BPF
 * filter can inspect (clone3 passes them in memory, out of the filter's reach).
 *
 * A syscall from another ABI is the classic way round a filter: the x32 ABI (x86_64 numbers
 * with bit 30 set) is refused, and a foreign architecture (i386 via `int 0x80`) kills the process.
 */

// seccomp_data layout: int nr; u32 arch; u64 instruction_pointer; u64 args[6].
const offsetNr = 0;
const offsetArch = 4;
/** Low 32 bits of args[i] on a little-endian machine. */
const argLow = (index: number): number => 16 + index * 8;

const SECCOMP_RET_KILL_PROCESS = 0x80000000;
const SECCOMP_RET_ERRNO = 0x00050000;
const SECCOMP_RET_ALLOW = 0x7fff0000;
const EPERM = 1;
const ENOSYS = 38;

const X32_SYSCALL_BIT = 0x40000000;
/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET. */
const cloneNamespaceFlags = 0x7e020000;
const TIOCSTI = 0x5412;
const TIOCLINUX = 0x541c;

/** Names are the point of the table (they are what a reader checks); numbers per ABI. */
const deniedNames = [
  'unshare',
  'setns',
  'mount',
  'umount2',
  'pivot_root',
  'chroot',
  'open_tree',
  'move_mount',
  'fsopen',
  'fsconfig',
  'fsmount',
  'fspick',
  'mount_setattr',
  'ptrace',
  'process_vm_readv',
  'process_vm_writev',
  'bpf',
  'keyctl',
  'add_key',
  'request_key',
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
  'perf_event_open',
  'userfaultfd',
  'kexec_load',
  'kexec_file_load',
  'init_module',
  'finit_module',
  'delete_module',
  'name_to_handle_at',
  'open_by_handle_at',
] as const;

type SyscallName = (typeof deniedNames)[number] | 'clone' | 'clone3' | 'ioctl';

interface AbiTable {
  /** AUDIT_ARCH_* of linux/audit.h. */
  auditArch: number;
  rejectsX32: boolean;
  numbers: Record<SyscallName, number>;
}

// From the kernel's unistd tables (x86_64: arch/x86/entry/syscalls/syscall_64.tbl; aarch64:
// include/uapi/asm-generic/unistd.h); checked against /usr/include on Debian 12.
/** Syscalls added since Linux 5.1 have one number on every architecture. */
const unifiedNumbers = {
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  clone3: 435,
  mount_setattr: 442,
};

const x86_64: AbiTable = {
  auditArch: 0xc000003e,
  rejectsX32: true,
  numbers: {
    ioctl: 16,
    clone: 56,
    ptrace: 101,
    pivot_root: 155,
    chroot: 161,
    mount: 165,
    umount2: 166,
    init_module: 175,
    delete_module: 176,
    kexec_load: 246,
    add_key: 248,
    request_key: 249,
    keyctl: 250,
    unshare: 272,
    perf_event_open: 298,
    name_to_handle_at: 303,
    open_by_handle_at: 304,
    setns: 308,
    process_vm_readv: 310,
    process_vm_writev: 311,
    finit_module: 313,
    kexec_file_load: 320,
    bpf: 321,
    userfaultfd: 323,
    ...unifiedNumbers,
  },
};

const aarch64: AbiTable = {
  auditArch: 0xc00000b7,
  rejectsX32: false,
  numbers: {
    ioctl: 29,
    umount2: 39,
    mount: 40,
    pivot_root: 41,
    chroot: 51,
    unshare: 97,
    kexec_load: 104,
    init_module: 105,
    delete_module: 106,
    ptrace: 117,
    add_key: 217,
    request_key: 218,
    keyctl: 219,
    clone: 220,
    perf_event_open: 241,
    name_to_handle_at: 264,
    open_by_handle_at: 265,
    setns: 268,
    process_vm_readv: 270,
    process_vm_writev: 271,
    finit_module: 273,
    bpf: 280,
    userfaultfd: 282,
    kexec_file_load: 294,
    ...unifiedNumbers,
  },
};

const tables: Record<string, AbiTable> = { x64: x86_64, arm64: aarch64 };

/** The Node.js architectures a filter can be built for. */
export const seccompArchitectures = Object.keys(tables);

export function seccompSupported(arch: string = hostArch): boolean {
  return arch in tables;
}

/** The filter as `struct sock_filter[]` bytes, for bubblewrap's `--seccomp FD`. */
export function buildSeccompFilter(arch: string = hostArch): Uint8Array {
  const table = tables[arch];
  if (table === undefined) throw new Error(`no seccomp syscall table for ${arch}`);
  const deny = { label: 'deny' };
  const p = new BpfProgram();
  p.loadWord(offsetArch).jumpIfEqual(table.auditArch, 'next', { label: 'kill' });
  p.loadWord(offsetNr);
  if (table.rejectsX32) p.jumpIfAtLeast(X32_SYSCALL_BIT, deny);
  p.jumpIfEqual(table.numbers.clone3, { label: 'enosys' });
  p.jumpIfEqual(table.numbers.clone, { label: 'clone' });
  p.jumpIfEqual(table.numbers.ioctl, { label: 'ioctl' });
  for (const name of deniedNames) p.jumpIfEqual(table.numbers[name], deny);
  p.ret(SECCOMP_RET_ALLOW);
  // clone(flags, …): args[0] holds the flags on both ABIs; all namespace flags are in the low word.
  p.label('clone').loadWord(argLow(0)).jumpIfAnyBit(cloneNamespaceFlags, deny);
  p.ret(SECCOMP_RET_ALLOW);
  // The kernel reads an ioctl request as 32 bits: compare only the low word, or high bits would
  // smuggle TIOCSTI past the filter.
  p.label('ioctl').loadWord(argLow(1)).jumpIfEqual(TIOCSTI, deny).jumpIfEqual(TIOCLINUX, deny);
  p.ret(SECCOMP_RET_ALLOW);
  p.label('deny').ret(SECCOMP_RET_ERRNO | EPERM);
  p.label('enosys').ret(SECCOMP_RET_ERRNO | ENOSYS);
  p.label('kill').ret(SECCOMP_RET_KILL_PROCESS);
  return p.assemble();
}

/** What the filter refuses, for the protections report. */
export function seccompSummary(): string {
  return `EPERM for ${deniedNames.join(', ')}, clone with namespace flags, ioctl TIOCSTI/TIOCLINUX and the x32 ABI; ENOSYS for clone3; kill on a foreign ABI`;
}
