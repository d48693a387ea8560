import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { PrivatePostgresError } from './private-postgres-error.ts';

/** Debian's PostgreSQL 15 server binaries; LONGRUN_PG_BINDIR points elsewhere (another version). */
export const defaultPostgresBinDir = '/usr/lib/postgresql/15/bin';

/**
 * The server binaries and the OS user to run them as. initdb and postgres refuse to run as root,
 * so under root every command runs as `postgres` through `setpriv` (which execs: the spawned
 * pid is the program's own pid, so the postmaster's pid is the child's pid). As any other user
 * they run as that user.
 */
export interface PostgresInstall {
  binDir: string;
  /** uid/gid that owns data directories; null when not root (files stay the caller's). */
  runAs: { user: string; uid: number; gid: number } | null;
}

/** Found installs by binDir; a failed look-up is not remembered, so it is retried next time. */
const found = new Map<string, PostgresInstall>();

/**
 * The install, or a PrivatePostgresError coded `binaries-missing` / `no-postgres-user`. Reads
 * LONGRUN_PG_BINDIR on every call.
 */
export function requirePostgresInstall(): PostgresInstall {
  const binDir = process.env.LONGRUN_PG_BINDIR ?? defaultPostgresBinDir;
  const known = found.get(binDir);
  if (known !== undefined) return known;
  for (const program of ['initdb', 'postgres']) {
    try {
      accessSync(join(binDir, program), constants.X_OK);
    } catch (error) {
      throw new PrivatePostgresError(
        'binaries-missing',
        `${join(binDir, program)} is not an executable (install postgresql-15, or set ` +
          `LONGRUN_PG_BINDIR to a directory holding initdb and postgres)`,
        { cause: error },
      );
    }
  }
  const install = { binDir, runAs: process.getuid?.() === 0 ? postgresUser() : null };
  found.set(binDir, install);
  return install;
}

/** Null when a private cluster can be started here, else why not (for "did NOT run" lines). */
export function privatePostgresProblem(): string | null {
  try {
    requirePostgresInstall();
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/** `[command, args]` that runs `program` of the install as the install's user. */
export function asPostgresUser(
  install: PostgresInstall,
  program: string,
  args: string[],
): [string, string[]] {
  const path = join(install.binDir, program);
  if (install.runAs === null) return [path, args];
  const user = install.runAs.user;
  return ['setpriv', [`--reuid=${user}`, `--regid=${user}`, '--init-groups', path, ...args]];
}

function postgresUser(): { user: string; uid: number; gid: number } {
  const user = 'postgres';
  try {
    const id = (flag: string) =>
      Number(execFileSync('id', [flag, user], { encoding: 'utf8', stdio: 'pipe' }).trim());
    return { user, uid: id('-u'), gid: id('-g') };
  } catch (error) {
    throw new PrivatePostgresError(
      'no-postgres-user',
      'running as root and there is no `postgres` OS user to run initdb and postgres as ' +
        '(initdb refuses root); install postgresql-15 or run the tests as a normal user',
      { cause: error },
    );
  }
}
