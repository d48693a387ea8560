import { argsFd } from './bwrap-args.ts';
import { inheritableFds } from './host-fds.ts';

export interface HostTools {
  bwrap: string;
  /** util-linux setpriv, for a parent-death signal; null when missing. */
  setpriv: string | null;
  /** bash, to close inherited descriptors numbered ≥ 10 (dash cannot); null when missing. */
  bash: string | null;
}

/**
 * The argv that starts bubblewrap: `[bash -c 'close fds; exec "$@"'] [setpriv --pdeathsig KILL]
 * bwrap --args 6 -- command…`, each layer `exec`ing the next in the same process (the direct child of the
 * worker). setpriv makes the kernel SIGKILL bubblewrap when the worker dies, even by `kill -9`;
 * bubblewrap's own `--die-with-parent` then takes the sandbox down with it.
 */
export function launchArgv(tools: HostTools, command: readonly string[]): string[] {
  const argv: string[] = [];
  // 0–6 are the child's stdio array: libuv puts our own pipes there, over whatever was inherited.
  const leaked = inheritableFds().filter((fd) => fd > argsFd);
  if (leaked.length > 0 && tools.bash !== null) {
    const closes = leaked.map((fd) => `${fd}>&-`).join(' ');
    // `exec -c`: bash would otherwise export PWD and SHLVL into the sandbox's /proc/1/environ.
    argv.push(tools.bash, '-c', `exec ${closes}; exec -c "$@"`, 'bash');
  }
  if (tools.setpriv !== null) argv.push(tools.setpriv, '--pdeathsig', 'KILL', '--');
  argv.push(tools.bwrap, '--args', String(argsFd), '--', ...command);
  return argv;
}
