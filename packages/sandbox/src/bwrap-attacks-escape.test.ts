import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, afterAll } from 'vitest';
import { bwrapDriver, type BwrapDriver } from './bwrap-driver.ts';
import { detectCgroups } from './cgroup-detect.ts';
import {
  newWorkspace,
  processesOfUid,
  python,
  sh,
  withSandbox,
  removeWorkspaces,
  runsHere,
} from './bwrap-test-support.ts';
import { pollUntil } from './poll.ts';

afterAll(removeWorkspaces);

/**
 * TESTING.md's sandbox rows, part 3: the preconditions of an escape (new namespaces, mounts,
 * ptrace, bpf, keyrings, io_uring, terminal injection, setuid, another syscall ABI), the syscalls
 * that only widen the kernel's attack surface, and a worker killed with SIGKILL while its
 * sandbox runs.
 */
let driver: BwrapDriver;
beforeAll(async () => {
  driver = await bwrapDriver();
});

// Each attempt prints the errno it got (0 would mean the call went through).
const syscalls = `
import ctypes, json
libc = ctypes.CDLL(None, use_errno=True)
def sc(*args):
    ctypes.set_errno(0)
    r = libc.syscall(*[ctypes.c_ulong(a & 0xffffffffffffffff) for a in args])
    return ctypes.get_errno() if r == -1 else 0
NEWUSER, SIGCHLD = 0x10000000, 17
print(json.dumps({
    "unshare(CLONE_NEWUSER)": sc(272, NEWUSER),
    "unshare(CLONE_NEWNS)": sc(272, 0x20000),
    "clone(CLONE_NEWUSER)": sc(56, NEWUSER | SIGCHLD, 0, 0, 0, 0),
    "setns": sc(308, 0, 0),
    "mount tmpfs": sc(165, 0, 0, 0, 0, 0),
    "fsopen": sc(430, 0, 0),
    "ptrace(TRACEME)": sc(101, 0, 0, 0, 0),
    "ptrace(ATTACH, 1)": sc(101, 16, 1, 0, 0),
    "process_vm_readv": sc(310, 1, 0, 0, 0, 0, 0),
    "bpf(PROG_LOAD)": sc(321, 5, 0, 0),
    "keyctl": sc(250, 0, -3, 0),
    "add_key": sc(248, 0, 0, 0, 0, -3),
    "io_uring_setup": sc(425, 8, 0),
    "perf_event_open": sc(298, 0, 0, -1, -1, 0),
    "userfaultfd": sc(323, 0),
    "ioctl(TIOCSTI)": sc(16, 0, 0x5412, 0),
    "ioctl(TIOCSTI | high bits)": sc(16, 0, 0xffffffff00005412, 0),
    "x32 ABI getpid": sc(0x40000000 | 39),
}))
`;

/**
 * Syscalls refused because they only widen the kernel's attack surface. Each is called the way
 * it would go through without the filter (on its own process, reading, turning off), so every
 * row can fail here. Those the kernel refuses anyway for a missing capability (syslog, acct,
 * swapon, reboot, vhangup, settimeofday, clock_settime…) prove nothing on a real kernel and are
 * left to seccomp-filter.test.ts. Without a filter, iopl, ioperm, uselib, lookup_dcookie and
 * quotactl_fd answer ENOSYS on kernels built without them, still not EPERM.
 */
const surfaceSyscalls = `
import ctypes, json, mmap, os
libc = ctypes.CDLL(None, use_errno=True)
def sc(*args):
    ctypes.set_errno(0)
    r = libc.syscall(*[ctypes.c_ulong(a & 0xffffffffffffffff) for a in args])
    return ctypes.get_errno() if r == -1 else 0
page = mmap.mmap(-1, 4096)
addr = ctypes.addressof(ctypes.c_char.from_buffer(page))
nowhere = ctypes.create_string_buffer(b"/nonexistent")
pidfd, me = os.pidfd_open(os.getpid()), os.getpid()
print(json.dumps({
    "pidfd_getfd(own pidfd, 0)": sc(438, pidfd, 0, 0),
    "kcmp(self, self, KCMP_FILE)": sc(312, me, me, 0, 0, 0),
    "process_madvise(own pidfd)": sc(440, pidfd, 0, 0, 20, 0),
    "fanotify_init(FAN_REPORT_FID)": sc(300, 0x200, 0),
    "quotactl(Q_SYNC, all)": sc(179, 0x800001, 0, 0, 0),
    "quotactl_fd": sc(443, 0, 0x800001, 0, 0),
    "lookup_dcookie": sc(212, 0, 0, 0),
    "adjtimex(read)": sc(159, addr),
    "clock_adjtime(CLOCK_REALTIME, read)": sc(305, 0, addr),
    "mbind(MPOL_DEFAULT)": sc(237, addr, 4096, 0, 0, 0, 0),
    "set_mempolicy(MPOL_DEFAULT)": sc(238, 0, 0, 0),
    "set_mempolicy_home_node": sc(450, addr, 4096, 0, 0),
    "migrate_pages(self)": sc(256, 0, 64, addr, addr),
    "move_pages(self, no pages)": sc(279, 0, 0, 0, 0, 0, 0),
    "iopl(0)": sc(172, 0),
    "ioperm(0x80, off)": sc(173, 0x80, 1, 0),
    "modify_ldt(read)": sc(154, 0, addr, 16),
    "uselib": sc(134, ctypes.addressof(nowhere)),
    "personality(READ_IMPLIES_EXEC)": sc(135, 0x0400000),
    "personality(MMAP_PAGE_ZERO)": sc(135, 0x0100000),
    "personality(PER_SVR4)": sc(135, 0x0001 | 0x4000000 | 0x0100000),
}))
`;

/** The raw syscalls below use x86_64 numbers. */
const onX64 = runsHere(process.arch === 'x64', `an x86_64 machine (this is ${process.arch})`);

describe('bwrap attacks: escape preconditions', () => {
  it.runIf(onX64)('every escape syscall answers EPERM', async () => {
    await withSandbox(driver, {}, async ({ sandbox }) => {
      const result = await python(sandbox, syscalls);
      const errnos = JSON.parse(result.stdout) as Record<string, number>;
      expect(Object.keys(errnos)).toHaveLength(18);
      expect(Object.entries(errnos).filter(([, errno]) => errno !== 1)).toEqual([]);
      // Controls: the filter lets ordinary work through (fork via clone, a harmless ioctl).
      const ordinary = await sh(
        sandbox,
        'echo ok | cat; python3 -c "import os; os.get_terminal_size(0)" 2>&1 | tail -1',
      );
      expect(ordinary.stdout).toContain('ok');
      expect(ordinary.stdout).toContain('Inappropriate ioctl'); // ENOTTY from the kernel, not EPERM
    });
  });

  it.runIf(onX64)(
    'syscalls that only widen the attack surface answer EPERM; setarch and ordinary personalities still work',
    async () => {
      await withSandbox(driver, {}, async ({ sandbox }) => {
        const result = await python(sandbox, surfaceSyscalls);
        const errnos = JSON.parse(result.stdout) as Record<string, number>;
        expect(Object.keys(errnos)).toHaveLength(21);
        expect(Object.entries(errnos).filter(([, errno]) => errno !== 1)).toEqual([]);
        // Controls: the personality query, `setarch -R` (ADDR_NO_RANDOMIZE), `setarch linux32`.
        const ordinary = await sh(
          sandbox,
          'setarch -R cat /proc/self/personality; setarch linux32 uname -m; python3 -c "import os; os.close(os.pidfd_open(os.getpid())); print(\'pidfd ok\')"',
        );
        expect(ordinary.stdout).toBe('00040000\ni686\npidfd ok\n');
      });
    },
  );

  it('nested user namespaces, mount and setuid binaries get nowhere', async () => {
    await withSandbox(driver, {}, async ({ sandbox, uid }) => {
      const result = await sh(
        sandbox,
        'unshare -U true; echo "unshare=$?"; unshare -r id; mount -t tmpfs none /tmp; echo "mount=$?"; ' +
          'su -c id root </dev/null; echo "su=$?"; grep NoNewPrivs /proc/self/status; ' +
          'grep " /usr " /proc/self/mountinfo; stat -c %A /usr/bin/mount; id -u',
      );
      expect(result.stdout).toMatch(/unshare=[1-9]/);
      expect(result.stdout).toMatch(/mount=[1-9]/);
      expect(result.stdout).toMatch(/su=[1-9]/);
      expect(result.stdout).toMatch(/NoNewPrivs:\s+1/);
      expect(result.stdout).toMatch(/ \/usr [^ ]*nosuid/);
      // The setuid bit is there (so the test means something), and does nothing.
      expect(result.stdout).toContain('-rwsr-xr-x');
      expect(result.stdout.trim().split('\n').at(-1)).toBe(String(uid));
    });
  });

  it.runIf(onX64)('a syscall through the i386 ABI (int 0x80) kills the process', async () => {
    await withSandbox(driver, {}, async ({ sandbox }) => {
      // mov eax, 20 (getpid on i386); int 0x80; ret — run from an executable page.
      const result = await python(
        sandbox,
        `
import ctypes, mmap
code = bytes([0xb8, 20, 0, 0, 0, 0xcd, 0x80, 0xc3])
page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
page.write(code)
fn = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(page)))
print("int 0x80 returned", fn(), flush=True)
`,
      );

      expect(result.stdout).not.toContain('returned');
      expect(result.exitCode).toBe(128 + 31); // SIGSYS from SECCOMP_RET_KILL_PROCESS
    });
  });

  it('kill -9 of the worker leaves no sandbox process behind within 1 s; the next driver sweeps the rest', async () => {
    const workspaceDir = newWorkspace();
    const fixture = join(import.meta.dirname, 'sandbox-worker.fixture.ts');
    const worker = spawn(process.execPath, [fixture, 'sleep', workspaceDir], { stdio: 'inherit' });
    const marker = join(workspaceDir, 'started');
    expect(await pollUntil(30_000, () => existsSync(marker))).toBe(true);
    const uid = statSync(marker).uid;
    expect(processesOfUid(uid).length).toBeGreaterThan(0);
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    const killedAtMs = performance.now();
    worker.kill('SIGKILL');
    await exited;
    const gone = await pollUntil(1_000, () => processesOfUid(uid).length === 0);
    const goneAfterMs = performance.now() - killedAtMs;
    process.stderr.write(
      `[sandbox] worker kill -9: sandbox processes gone after ${goneAfterMs.toFixed(1)} ms\n`,
    );
    expect(gone).toBe(true);
    expect(goneAfterMs).toBeLessThanOrEqual(1_000);
    // Its cgroup and workspace mount outlive it; a new driver removes them and writes the
    // workspace back to its directory.
    const cgroups = detectCgroups('longrun').system;
    const workerCgroups = (): string[] =>
      (cgroups?.list() ?? []).filter((n) => n.startsWith(`lr-${worker.pid}-`));
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).toContain(workspaceDir);
    expect(workerCgroups()).toHaveLength(1);
    const next = await bwrapDriver();
    expect(next.swept.cgroups).toBeGreaterThanOrEqual(1);
    expect(next.swept.mounts).toBeGreaterThanOrEqual(1);
    expect(workerCgroups()).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(workspaceDir);
    expect(readFileSync(marker, 'utf8').trim()).toMatch(/^\d+$/);
  });
});
