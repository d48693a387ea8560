import { spawnSync } from 'node:child_process';

/**
 * strace, which the real-fault suites use to make the store's own syscalls slow or fail
 * (`-e inject=`), in the process under test only. When it is missing those suites say so loudly;
 * under CI=true they fail instead of being skipped.
 */
export const straceFound = spawnSync('strace', ['-V']).status === 0;
if (!straceFound) {
  const message =
    'the strace fault suites (slow-fsync, fsync-eio) did NOT run: strace is not installed (apt-get install strace)';
  console.error(`\n!!! ${message}\n`);
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true requires it)`);
}

/**
 * strace's arguments to run a command with `inject` (e.g. `fsync:delay_enter=400000`) on its
 * fsync and fdatasync calls, in every thread and child (`-f`), stopping at no other syscall
 * (`--seccomp-bpf`), logging the faulted calls to `log` (or nowhere).
 */
export function straceArgs(inject: string, log = '/dev/null'): string[] {
  return [
    '-f',
    '--seccomp-bpf',
    '-qq',
    '-o',
    log,
    '-e',
    'trace=fsync,fdatasync',
    '-e',
    `inject=${inject}`,
  ];
}
