import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { asPostgresUser, type PostgresInstall } from './postgres-install.ts';
import { PrivatePostgresError } from './private-postgres-error.ts';

const run = promisify(execFile);

/**
 * Every directory this module makes is `<parent>/longrun-pg-<creator pid>-<random>`, so a
 * directory whose creator is dead is recognisably leaked (see sweepLeakedClusters).
 */
const dirPrefix = 'longrun-pg-';

/**
 * initdb costs 1.2–3.5 s here and copying its result 0.1–1.2 s (the spread is the load other
 * processes put on the disk; see measure-private-postgres.ts), so initdb runs once per machine,
 * user and binDir into a template under the temp dir, which every cluster copies. The template is
 * never started, so every copy begins identical and clean. It is published by an atomic rename
 * of a complete directory, so concurrent test processes may race to build it and each either wins
 * or uses the winner's; it is meant to stay (one directory of about 40 MB, not a leak).
 */
const templates = new Map<string, Promise<string>>();

/** Makes an empty cluster root (mode 0700) owned by the install's user, under `parent`. */
export function makeClusterRoot(install: PostgresInstall, parent = tmpdir()): string {
  const root = mkdtempSync(join(parent, `${dirPrefix}${process.pid}-`));
  if (install.runAs !== null) chownSync(root, install.runAs.uid, install.runAs.gid);
  return root;
}

/** Where the install's template lives: `<tmp>/longrun-pg-template-<uid>-<hash of binDir>`. */
export function templateDir(install: PostgresInstall): string {
  const binDirHash = createHash('sha256').update(install.binDir).digest('hex').slice(0, 12);
  return join(tmpdir(), `longrun-pg-template-${process.getuid?.() ?? 0}-${binDirHash}`);
}

/** Copies a fresh data directory into `<root>/data`, building the template first if needed. */
export async function copyTemplateInto(install: PostgresInstall, root: string): Promise<string> {
  let template = templates.get(install.binDir);
  if (template === undefined) {
    template = ensureTemplate(install);
    templates.set(install.binDir, template);
    template.catch(() => templates.delete(install.binDir));
  }
  const source = await template;
  const dataDir = join(root, 'data');
  try {
    // cp -a keeps owner and mode; postgres refuses a data directory that is not 0700/0750.
    await run('cp', ['-a', source, dataDir]);
  } catch (error) {
    throw new PrivatePostgresError('init-failed', `copying ${source} failed`, { cause: error });
  }
  return dataDir;
}

async function ensureTemplate(install: PostgresInstall): Promise<string> {
  sweepLeakedClusters();
  const published = templateDir(install);
  if (!existsSync(join(published, readyMarker))) await buildTemplate(install, published);
  checkOwnership(install, published);
  return join(published, 'data');
}

/** The file whose presence says a template directory is complete (it is written last). */
const readyMarker = 'initdb-complete';

async function buildTemplate(install: PostgresInstall, published: string): Promise<void> {
  // Built under a pid-named root, so a build whose process dies is swept like a leaked cluster.
  const staging = makeClusterRoot(install);
  const [command, args] = asPostgresUser(install, 'initdb', [
    ...['-D', join(staging, 'data'), '-U', 'postgres', '--auth=trust'],
    ...['--encoding=UTF8', '--locale=C.UTF-8', '--no-instructions'],
  ]);
  try {
    await run(command, args, { timeout: 120_000 });
    writeFileSync(join(staging, readyMarker), `${install.binDir}\n`);
    // A directory there without the marker was not published by this module (a rename moves a
    // complete one, marker included): clear it. A complete one is never removed; others copy it.
    if (existsSync(published) && !existsSync(join(published, readyMarker))) {
      rmSync(published, { recursive: true, force: true, maxRetries: 3 });
    }
    renameSync(staging, published);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    const code = (error as NodeJS.ErrnoException).code;
    // Another process published first: use theirs.
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && existsSync(join(published, readyMarker))) {
      return;
    }
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new PrivatePostgresError('init-failed', `building ${published} failed: ${stderr}`, {
      cause: error,
    });
  }
}

/**
 * The template sits at a predictable path in a world-writable directory: use it only if it is
 * owned by the user the server runs as and closed to everyone else, as this module made it.
 */
function checkOwnership(install: PostgresInstall, published: string): void {
  const owner = install.runAs?.uid ?? process.getuid?.() ?? 0;
  const { uid, mode } = statSync(published);
  if (uid !== owner || (mode & 0o077) !== 0) {
    throw new PrivatePostgresError(
      'init-failed',
      `${published} is not owned by uid ${owner} with mode 0700 (uid ${uid}, mode ` +
        `${(mode & 0o777).toString(8)}); remove it and run again`,
    );
  }
}

/**
 * Removes cluster directories under the temp dir whose creating process is dead and which no
 * server still uses. One that a server still runs from is left alone (it is not ours to stop)
 * and reported loudly with its postmaster pid, so a leak cannot go unnoticed.
 */
export function sweepLeakedClusters(parent = tmpdir()): void {
  for (const name of readdirSync(parent)) {
    const match = /^longrun-pg-(\d+)-/.exec(name);
    if (match === null || isAlive(Number(match[1]))) continue;
    const root = join(parent, name);
    const postmaster = runningPostmaster(join(root, 'data'));
    if (postmaster === null) {
      rmSync(root, { recursive: true, force: true });
      continue;
    }
    console.error(
      `\n${'!'.repeat(100)}\nLEAKED private PostgreSQL cluster ${root}: its creator (pid ` +
        `${match[1]}) is gone but postmaster ${postmaster} still runs. Stop it with ` +
        `kill -QUIT ${postmaster} && rm -rf ${root}\n${'!'.repeat(100)}\n`,
    );
  }
}

/** The pid of a live postgres serving `dataDir`, by its postmaster.pid and /proc; else null. */
function runningPostmaster(dataDir: string): number | null {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return null;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(dataDir) ? pid : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
