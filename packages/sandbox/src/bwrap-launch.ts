import { argsFd } from './bwrap-args.ts';
import { inheritableFds } from './host-fds.ts';

export interface HostTools {
  bwrap: string;
  /**
   * util-linux setpriv, for a parent-death signal on bubblewrap; null when missing or not
   * needed (bubblewrap ≥ 0.8 sets that signal on itself under `--die-with-parent`).
   */
  setpriv: string | null;
  /**
   * bash ≥ 4.4, the launcher that waits for its command (see launchArgv) and closes inherited
   * descriptors numbered ≥ 10 (dash can do neither); null when missing or older.
   */
  bash: string | null;
}

/** The pipe on which a waiting launcher reads its command (NUL-terminated fields). */
export const commandFd = 5;
/** The field after the command: a command cut short (the worker died writing it) never runs. */
export const commandEnd = 'longrun-command-end';

/**
 * The argv that starts bubblewrap: `[bash -c '…'] [setpriv --pdeathsig KILL] bwrap --args 4 --
 * command…`, each layer `exec`ing the next in the same process (the direct child of the
 * worker). bubblewrap's `--die-with-parent` makes the kernel SIGKILL bubblewrap when the worker
 * dies, even by `kill -9`, and its sandbox when bubblewrap dies; setpriv does the first half for
 * an older bubblewrap.
 *
 * With `command` null (needs bash) the launcher is started ahead of its command: bash waits for
 * the command on `commandFd`, refuses one without `commandEnd` (the worker died while writing),
 * closes the descriptors it inherited and that pipe, and only then `exec`s bubblewrap with it.
 * Without a command it exits, having started nothing. With a command, bash runs only when there
 * are descriptors to close.
 */
export function launchArgv(tools: HostTools, command: readonly string[] | null): string[] {
  const argv: string[] = [];
  // 0–4 (0–5 for a waiting launcher) are the child's stdio array: libuv puts our own pipes
  // there, over whatever was inherited.
  const ours = command === null ? commandFd : argsFd;
  const closes = inheritableFds()
    .filter((fd) => fd > ours)
    .map((fd) => `exec ${fd}>&-; `)
    .join('');
  // `exec -c`: bash would otherwise export PWD and SHLVL into the sandbox's /proc/1/environ.
  if (command === null) {
    if (tools.bash === null) throw new Error('a launcher that waits for its command needs bash');
    const script =
      `mapfile -d '' -u ${commandFd} command; exec ${commandFd}<&-; ${closes}` +
      `[ "\${#command[@]}" -ge 2 ] && [ "\${command[-1]}" = ${commandEnd} ] || exit 126; ` +
      `unset 'command[-1]'; exec -c "$@" "\${command[@]}"`;
    argv.push(tools.bash, '--norc', '--noprofile', '-c', script, 'bash');
  } else if (closes !== '' && tools.bash !== null) {
    argv.push(tools.bash, '--norc', '--noprofile', '-c', `${closes}exec -c "$@"`, 'bash');
  }
  if (tools.setpriv !== null) argv.push(tools.setpriv, '--pdeathsig', 'KILL', '--');
  argv.push(tools.bwrap, '--args', String(argsFd), '--', ...(command ?? []));
  return argv;
}
