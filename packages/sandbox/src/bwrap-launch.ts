import { argsFd } from './bwrap-args.ts';
import { inheritableFds } from './host-fds.ts';

export interface HostTools {
  bwrap: string;
  /**
   * util-linux setpriv, for a parent-death signal on bubblewrap; null when missing or not
   * needed (bubblewrap ≥ 0.8 sets that signal on itself under `--die-with-parent`).
   */
  setpriv: string | null;
  /** bash, to close inherited descriptors numbered ≥ 10 (dash cannot); null when missing. */
  bash: string | null;
}

/**
 * The argv that starts bubblewrap: `[bash -c 'close fds; exec "$@"'] [setpriv --pdeathsig KILL]
 * bwrap --args 4 -- command…`, each layer `exec`ing the next in the same process (the direct
 * child of the worker). bubblewrap's `--die-with-parent` makes the kernel SIGKILL bubblewrap
 * when the worker dies, even by `kill -9`, and its sandbox when bubblewrap dies; setpriv does
 * the first half for an older bubblewrap. bash runs only when there are descriptors to close.
 */
export function launchArgv(tools: HostTools, command: readonly string[]): string[] {
  const argv: string[] = [];
  // 0–4 are the child's stdio array: libuv puts our own pipes there, over whatever was inherited.
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
