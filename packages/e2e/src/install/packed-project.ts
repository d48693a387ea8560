// Builds and packs longrun's public packages, installs the tarballs into a fresh project outside
// the repository, and brings the lowest Node.js longrun supports — what a user who adopts longrun
// from npm does, with the packages of this checkout.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..', '..', '..');
const userProjectSource = join(import.meta.dirname, 'user-project');

interface Manifest {
  name: string;
  private?: boolean;
  engines?: { node?: string };
  exports?: unknown;
  bin?: Record<string, string>;
}

function manifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(repoRoot, dir, 'package.json'), 'utf8')) as Manifest;
}

/** The workspaces that are published: every one whose package.json is not private. */
export function publicWorkspaces(): { dir: string; manifest: Manifest }[] {
  const root = manifest('.') as Manifest & { workspaces: string[] };
  return root.workspaces
    .map((dir) => ({ dir, manifest: manifest(dir) }))
    .filter((workspace) => workspace.manifest.private !== true);
}

/**
 * The lowest Node.js longrun supports: the one version every public package's `engines.node`
 * names as its floor (`>=X.Y.Z`). Throws when they disagree, so the floor and this test can
 * not drift apart.
 */
export function lowestSupportedNode(): string {
  const floors = new Set(
    publicWorkspaces().map(({ dir, manifest: m }) => {
      const floor = /^>=(\d+\.\d+\.\d+)$/.exec(m.engines?.node ?? '')?.[1];
      if (floor === undefined) throw new Error(`${dir}: engines.node must be ">=X.Y.Z"`);
      return floor;
    }),
  );
  const [floor, ...others] = floors;
  if (floor === undefined || others.length > 0)
    throw new Error(`public packages disagree on engines.node: ${[...floors].join(', ')}`);
  return floor;
}

/** PATH with `nodeBinDir` first, so `node`, `npx` and every `#!/usr/bin/env node` run that Node. */
export function pathWith(nodeBinDir: string): string {
  return [nodeBinDir, process.env.PATH ?? ''].join(delimiter);
}

export interface CommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, bounded by `timeoutMs`; throws with its output when it fails. */
export function runCommand(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number; allowFailure?: boolean },
): CommandResult {
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    encoding: 'utf8',
    timeout: options.timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
  });
  const outcome = {
    status: result.status,
    stdout: result.stdout ?? '',
    stderr: result.stderr ?? '',
  };
  if (!options.allowFailure && (result.error !== undefined || result.status !== 0)) {
    throw new Error(
      `${command} ${args.join(' ')} (in ${options.cwd}) failed: ${result.error?.message ?? `exit ${result.status}`}\n` +
        `stdout:\n${outcome.stdout.slice(-4000)}\nstderr:\n${outcome.stderr.slice(-4000)}`,
    );
  }
  return outcome;
}

/** The environment of npm commands run from this test: this process's Node first. */
function npmEnv(): NodeJS.ProcessEnv {
  // The repository's source condition must not reach npm or the packed packages.
  const { NODE_OPTIONS: _dropped, ...env } = process.env;
  return { ...env, PATH: pathWith(dirname(process.execPath)) };
}

/** `npm run build` (tsc -b, incremental), then `npm pack` of every public package into `destination`. */
export function buildAndPack(destination: string): string[] {
  runCommand('npm', ['run', 'build'], { cwd: repoRoot, env: npmEnv(), timeoutMs: 300_000 });
  const workspaces = publicWorkspaces();
  const packed = runCommand(
    'npm',
    [
      'pack',
      '--json',
      '--pack-destination',
      destination,
      ...workspaces.flatMap(({ dir }) => ['--workspace', dir]),
    ],
    { cwd: repoRoot, env: npmEnv(), timeoutMs: 120_000 },
  );
  const files = (JSON.parse(packed.stdout) as { filename: string }[]).map((p) =>
    join(destination, p.filename),
  );
  if (files.length !== workspaces.length || !files.every((file) => existsSync(file))) {
    throw new Error(`npm pack made ${files.join(', ')} for ${workspaces.length} packages`);
  }
  return files;
}

/**
 * The bin directory of Node.js `version`, installed once per checkout from the npm registry's
 * `node` package into .tooling/ (as scripts/use-node.sh installs Node 24).
 */
export function installNode(version: string): string {
  const prefix = join(repoRoot, '.tooling', `node-${version}`);
  const binDir = join(prefix, 'node_modules', 'node', 'bin');
  if (!existsSync(join(binDir, 'node'))) {
    runCommand(
      'npm',
      ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', prefix, `node@${version}`],
      { cwd: repoRoot, env: npmEnv(), timeoutMs: 300_000 },
    );
  }
  const reported = runCommand(join(binDir, 'node'), ['--version'], {
    cwd: repoRoot,
    timeoutMs: 30_000,
  }).stdout.trim();
  if (reported !== `v${version}`) throw new Error(`${binDir}/node is ${reported}, not v${version}`);
  return binDir;
}

/**
 * A new project under the system's temporary directory, outside the repository: the agents of
 * user-project/ copied in, and the tarballs installed with zod (the agents' schemas), typescript
 * and @types/node (to type-check the TypeScript agent as a user's editor would).
 */
export function createUserProject(tarballs: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'longrun-user-project-'));
  if (dir.startsWith(repoRoot)) throw new Error(`${dir} is inside the repository`);
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'my-agents', private: true, type: 'module' }, null, 2),
  );
  for (const file of ['my-agent.ts', 'my-agent.mjs', 'my-agent.spec.ts', 'typed-imports.ts']) {
    copyFileSync(join(userProjectSource, file), join(dir, file));
  }
  copyFileSync(join(userProjectSource, 'user-tsconfig.json'), join(dir, 'tsconfig.json'));
  runCommand(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      ...tarballs,
      'zod@^4',
      'typescript@~6.0.3',
      '@types/node@^24',
    ],
    { cwd: dir, env: npmEnv(), timeoutMs: 300_000 },
  );
  return dir;
}

/** `npx <args>` in the user's project, on the Node of `nodeBinDir`. */
export function npx(project: string, nodeBinDir: string, args: string[]): CommandResult {
  return runCommand('npx', ['--no', '--', ...args], {
    cwd: project,
    env: { ...npmEnv(), PATH: pathWith(nodeBinDir) },
    timeoutMs: 120_000,
    allowFailure: true,
  });
}

export interface BackgroundCommand {
  readonly child: ChildProcess;
  output(): string;
  /** The first match of `pattern` in the output; rejects when the command exits or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** SIGTERM to its whole process group (npx and the longrun it started), SIGKILL after 5 s. */
  stop(): Promise<void>;
}

/** `npx <args>` in the user's project as a long-running process group. */
export function npxInBackground(
  project: string,
  nodeBinDir: string,
  args: string[],
): BackgroundCommand {
  const child = spawn('npx', ['--no', '--', ...args], {
    cwd: project,
    env: { ...npmEnv(), PATH: pathWith(nodeBinDir) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pgid = child.pid;
  if (pgid === undefined) throw new Error(`could not start npx ${args.join(' ')}`);
  let output = '';
  let exited = false;
  const listeners = new Set<() => void>();
  const collect = (chunk: Buffer): void => {
    output += chunk.toString();
    listeners.forEach((listener) => listener());
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      listeners.forEach((listener) => listener());
      resolve();
    }),
  );
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-pgid, signal);
    } catch {
      // ESRCH: the group is gone.
    }
  };
  return {
    child,
    output: () => output,
    waitFor: (pattern, timeoutMs) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(output);
          if (match !== null) done(() => resolve(match));
          else if (exited) done(() => reject(new Error(`exited before ${pattern}:\n${output}`)));
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${output}`))),
          timeoutMs,
        );
        const done = (settle: () => void): void => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      }),
    stop: async () => {
      signalGroup('SIGTERM');
      const killer = setTimeout(() => signalGroup('SIGKILL'), 5_000);
      await exit;
      clearTimeout(killer);
      signalGroup('SIGKILL');
    },
  };
}
