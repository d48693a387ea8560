import { argsFd, gateFd } from './bwrap-args.ts';
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
  /** The POSIX shell that runs the launcher when bash is missing. */
  sh: string;
}

/**
 * The argv that starts bubblewrap: `shell -c 'wait at the gate; close fds; exec "$@"'
 * [setpriv --pdeathsig KILL] bwrap --args 5 -- command…`, each layer `exec`ing the next in the
 * same process (the direct child of the worker). bubblewrap's `--die-with-parent` makes the
 * kernel SIGKILL bubblewrap when the worker dies, even by `kill -9`, and its sandbox when it
 * dies; setpriv does the first half for an older bubblewrap.
 *
 * The shell waits until the driver writes a line on the gate (descriptor 4): the driver moves
 * the shell into the sandbox's cgroup first, so bubblewrap and everything it starts are born
 * inside the limits. Moving the shell costs ~0.1 ms; moving bubblewrap's sandbox init once it
 * has its own network namespace cost 4–11 ms in the memory controller (measured here, cgroup
 * v1), on every exec. A gate that closes empty (the driver could not place the shell) ends the
 * launcher with status 125 before bubblewrap runs.
 */
export function launchArgv(tools: HostTools, command: readonly string[]): string[] {
  // 0–5 are the child's stdio array: libuv puts our own pipes there, over whatever was
  // inherited. dash cannot name descriptors above 9.
  const leaked = inheritableFds().filter((fd) => fd > argsFd && (tools.bash !== null || fd <= 9));
  const closes = [gateFd, ...leaked].map((fd) => `${fd}>&-`).join(' ');
  const unplaced = `{ echo 'longrun: the launcher could not be placed in the sandbox cgroup' >&2; exit 125; }`;
  // Neither shell may export its own variables (bash's PWD, SHLVL; dash's PWD) into bubblewrap:
  // they would reach the sandbox's /proc/1/environ.
  const script = `read -r _ <&${gateFd} || ${unplaced}; exec ${closes}; `;
  const argv =
    tools.bash !== null
      ? [tools.bash, '-c', `${script}exec -c "$@"`, 'bash']
      : [tools.sh, '-c', `${script}unset PWD; exec "$@"`, 'sh'];
  if (tools.setpriv !== null) argv.push(tools.setpriv, '--pdeathsig', 'KILL', '--');
  argv.push(tools.bwrap, '--args', String(argsFd), '--', ...command);
  return argv;
}

/** What the driver writes on the gate to let the launcher go on. */
export const gateOpen = 'go\n';
