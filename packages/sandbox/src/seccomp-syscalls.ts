/**
 * The syscalls the seccomp filter (seccomp-filter.ts) names, and their numbers on each ABI it
 * can be built for. Names are the point of the tables (they are what a reader checks); numbers
 * come from the kernel's unistd tables (x86_64: arch/x86/entry/syscalls/syscall_64.tbl; aarch64:
 * include/uapi/asm-generic/unistd.h), checked against /usr/include on Debian 12.
 */

/**
 * Syscalls that fail with EPERM. None is needed by a build or test command (gcc, make, bash,
 * git, node, npm, python run without them); each either opens a way out of the namespaces or
 * only widens the kernel attack surface a command can reach. Many already need a capability the
 * sandbox does not hold: refusing them in the filter too keeps a kernel bug in their permission
 * checks out of reach.
 */
export const deniedNames = [
  // New namespaces, mounts and roots: a way out of the sandbox's view of the system.
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
  // Reaching into another process: its memory, its descriptors (pidfd_getfd), its kernel objects
  // (kcmp), its memory advice (process_madvise). ptrace-class access; debuggers are not run here.
  'ptrace',
  'process_vm_readv',
  'process_vm_writev',
  'pidfd_getfd',
  'kcmp',
  'process_madvise',
  // Kernel programs, keyrings, io_uring, perf and userfaultfd: large attack surfaces with a
  // history of privilege escalations. libuv and Python fall back from io_uring by themselves.
  'bpf',
  'keyctl',
  'add_key',
  'request_key',
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
  'perf_event_open',
  'userfaultfd',
  // Loading kernel code, and uselib (a.out libraries, x86 only).
  'kexec_load',
  'kexec_file_load',
  'init_module',
  'finit_module',
  'delete_module',
  'uselib',
  // Files by handle: opens any inode of a file system past the mount namespace ("shocker").
  'name_to_handle_at',
  'open_by_handle_at',
  // Administering the machine: none is a sandbox's to do. syslog reads the kernel log (kernel
  // addresses, the host's devices) wherever kernel.dmesg_restrict is 0; fanotify watches whole
  // file systems and has no use that inotify, which file watchers use, does not cover.
  'reboot',
  'swapon',
  'swapoff',
  'acct',
  'quotactl',
  'quotactl_fd',
  'vhangup',
  'syslog',
  'lookup_dcookie',
  'fanotify_init',
  // The clock every sandbox and the worker's leases share. adjtimex and clock_adjtime also serve
  // a read-only query (modes 0), but the mode is in memory, out of the filter's reach; only NTP
  // tools ask it.
  'settimeofday',
  'clock_settime',
  'clock_adjtime',
  'adjtimex',
  // NUMA placement. Docker's default profile allows these only with CAP_SYS_NICE, so libnuma,
  // OpenMP and the JVM already run without them (they fall back to the default policy);
  // migrate_pages and move_pages act on other processes' pages.
  'mbind',
  'set_mempolicy',
  'set_mempolicy_home_node',
  'migrate_pages',
  'move_pages',
  // x86 only: raw I/O ports (iopl, ioperm), and the local descriptor table (16-bit code, Wine;
  // a history of kernel bugs). 64-bit glibc does not use the LDT.
  'iopl',
  'ioperm',
  'modify_ldt',
] as const;

export type DeniedName = (typeof deniedNames)[number];

/** Syscalls with a rule of their own (on their arguments, or another errno); on every ABI. */
export type RuledName = 'clone' | 'clone3' | 'ioctl' | 'socket' | 'socketpair' | 'personality';

export interface AbiTable {
  /** AUDIT_ARCH_* of linux/audit.h. */
  auditArch: number;
  rejectsX32: boolean;
  /** null: the ABI has no such syscall (nothing to refuse). */
  numbers: Record<RuledName, number> & Record<DeniedName, number | null>;
}

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
  pidfd_getfd: 438,
  process_madvise: 440,
  mount_setattr: 442,
  quotactl_fd: 443,
  set_mempolicy_home_node: 450,
};

const x86_64: AbiTable = {
  auditArch: 0xc000003e,
  rejectsX32: true,
  // No socketcall: that multiplexer exists only in the i386 ABI, which the filter kills.
  numbers: {
    ioctl: 16,
    socket: 41,
    socketpair: 53,
    clone: 56,
    ptrace: 101,
    syslog: 103,
    uselib: 134,
    personality: 135,
    vhangup: 153,
    modify_ldt: 154,
    pivot_root: 155,
    adjtimex: 159,
    chroot: 161,
    acct: 163,
    settimeofday: 164,
    mount: 165,
    umount2: 166,
    swapon: 167,
    swapoff: 168,
    reboot: 169,
    iopl: 172,
    ioperm: 173,
    init_module: 175,
    delete_module: 176,
    quotactl: 179,
    lookup_dcookie: 212,
    clock_settime: 227,
    mbind: 237,
    set_mempolicy: 238,
    kexec_load: 246,
    add_key: 248,
    request_key: 249,
    keyctl: 250,
    migrate_pages: 256,
    unshare: 272,
    move_pages: 279,
    perf_event_open: 298,
    fanotify_init: 300,
    name_to_handle_at: 303,
    open_by_handle_at: 304,
    clock_adjtime: 305,
    setns: 308,
    process_vm_readv: 310,
    process_vm_writev: 311,
    kcmp: 312,
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
    lookup_dcookie: 18,
    ioctl: 29,
    umount2: 39,
    mount: 40,
    pivot_root: 41,
    chroot: 51,
    vhangup: 58,
    quotactl: 60,
    acct: 89,
    personality: 92,
    unshare: 97,
    kexec_load: 104,
    init_module: 105,
    delete_module: 106,
    clock_settime: 112,
    syslog: 116,
    ptrace: 117,
    reboot: 142,
    settimeofday: 170,
    adjtimex: 171,
    socket: 198,
    socketpair: 199,
    add_key: 217,
    request_key: 218,
    keyctl: 219,
    clone: 220,
    swapon: 224,
    swapoff: 225,
    mbind: 235,
    set_mempolicy: 237,
    migrate_pages: 238,
    move_pages: 239,
    perf_event_open: 241,
    fanotify_init: 262,
    name_to_handle_at: 264,
    open_by_handle_at: 265,
    clock_adjtime: 266,
    setns: 268,
    process_vm_readv: 270,
    process_vm_writev: 271,
    kcmp: 272,
    finit_module: 273,
    bpf: 280,
    userfaultfd: 282,
    kexec_file_load: 294,
    // x86 only.
    uselib: null,
    iopl: null,
    ioperm: null,
    modify_ldt: null,
    ...unifiedNumbers,
  },
};

/** By Node.js architecture name. */
export const abiTables: Record<string, AbiTable> = { x64: x86_64, arm64: aarch64 };
