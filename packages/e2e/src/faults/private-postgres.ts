import { chownSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { copyTemplateInto, makeClusterRoot } from './cluster-template.ts';
import { within } from './bounded-wait.ts';
import { LogTail, Postmaster } from './postmaster.ts';
import { requirePostgresInstall, type PostgresInstall } from './postgres-install.ts';
import { PrivatePostgresError } from './private-postgres-error.ts';
import { isRunning } from './process-tree.ts';

export interface PrivatePostgresOptions {
  /** A fixed port. Default: a free one, found by binding port 0; if postgres loses the race for
   * it to another process, start retries with a new one (at most `portAttempts` times). */
  port?: number;
  /** Parent of the cluster's own temp directory (default os.tmpdir()); the postgres OS user must
   * be able to traverse it. On a real disk fsync costs what it costs in production; on a tmpfs
   * such as /dev/shm start and crash recovery are 3–8× faster but fsync is free. */
  dir?: string;
  /** More server settings, passed as `-c name=value`. fsync, synchronous_commit and
   * full_page_writes are fixed at `on`: asking for anything else throws `unsafe-setting`. */
  settings?: Record<string, string>;
  /** Bound on a start or restart reaching "ready", in ms (default 30 000). */
  readyTimeoutMs?: number;
}

export type RestartMode = 'immediate' | 'fast';

export interface RestartReport {
  mode: RestartMode;
  /** From signalling the old postmaster to its exit (all its backends gone), in ms. */
  stopMs: number;
  /** From the signal until the new server accepted connections: how long it was down, in ms. */
  downMs: number;
  /** Epoch ms at which the new server logged that it accepts connections. */
  acceptedAtMs: number;
}

/**
 * A PostgreSQL cluster this process owns: its own data directory under a fresh temp dir, its own
 * port on 127.0.0.1, trust auth, fsync=on and synchronous_commit=on. Invariants: the cluster
 * accepts connections whenever no restart() or stop() is in progress (or the server died);
 * restart() and stop() run one at a time; after stop() no process of it runs and its directory is
 * gone. A cluster not stopped by its test is stopped (SIGQUIT) and deleted when the process
 * exits, with a loud line on stderr.
 */
export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:PORT/postgres; the same across restarts. */
  readonly url: string;
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The temp directory holding `data/` and `socket/`; removed by stop(). */
  readonly root: string;
  readonly dataDir: string;
  /** The current postmaster's pid (a new one after each restart). */
  readonly pid: number;
  /** How long startPrivatePostgres took, in ms (with initdb when the template had to be built). */
  readonly startMs: number;
  /**
   * Restarts as `pg_ctl restart -m <mode>` does, by sending the postmaster the same signal
   * (SIGQUIT for immediate: a crash, with WAL recovery on start; SIGINT for fast: a clean
   * shutdown checkpoint), waiting for it to exit, and starting it again on the same port.
   * Resolves once the new server accepts connections. While it is down, connecting fails with
   * ECONNREFUSED, and during recovery with 57P03 "the database system is starting up".
   */
  restart(options?: { mode?: RestartMode }): Promise<RestartReport>;
  /** Fast shutdown (SIGKILL after the bound), then removes the directory. Idempotent. */
  stop(): Promise<void>;
  /** The servers' recent log lines (across restarts), for failure messages. */
  log(lastLines?: number): string;
}

const enforcedSettings = ['fsync', 'synchronous_commit', 'full_page_writes'];
const portAttempts = 5;
const stopBoundMs = 10_000;

/** Clusters started and not yet stopped; the exit hook stops whatever is left here. */
const live = new Set<Cluster>();

/** The clusters of this process that are started and not stopped (for leak checks). */
export function runningClusters(): PrivatePostgres[] {
  return [...live];
}

/** Starts a private cluster (see PrivatePostgres); throws PrivatePostgresError. */
export async function startPrivatePostgres(
  options: PrivatePostgresOptions = {},
): Promise<PrivatePostgres> {
  const startedAt = performance.now();
  const install = requirePostgresInstall();
  const extra = checkedSettings(options.settings ?? {});
  const root = makeClusterRoot(install, options.dir);
  const cluster = new Cluster(install, root, extra, options.readyTimeoutMs ?? 30_000);
  registerExitHook();
  live.add(cluster);
  try {
    await cluster.start(options.port, startedAt);
    return cluster;
  } catch (error) {
    await cluster.stop().catch(() => undefined);
    throw error;
  }
}

class Cluster implements PrivatePostgres {
  readonly host = '127.0.0.1';
  readonly root: string;
  readonly dataDir: string;
  port = 0;
  startMs = 0;
  readonly #install: PostgresInstall;
  readonly #extra: Record<string, string>;
  readonly #readyTimeoutMs: number;
  readonly #log = new LogTail();
  #postmaster: Postmaster | null = null;
  #stopped = false;
  /** The restart or stop in progress; the next one waits for it. */
  #busy: Promise<unknown> = Promise.resolve();

  constructor(
    install: PostgresInstall,
    root: string,
    extra: Record<string, string>,
    readyMs: number,
  ) {
    this.#install = install;
    this.root = root;
    this.dataDir = join(root, 'data');
    this.#extra = extra;
    this.#readyTimeoutMs = readyMs;
  }

  get url(): string {
    return `postgres://postgres@${this.host}:${this.port}/postgres`;
  }

  get pid(): number {
    return this.#postmaster?.pid ?? 0;
  }

  log(lastLines?: number): string {
    return this.#log.text(lastLines);
  }

  async start(port: number | undefined, startedAt: number): Promise<void> {
    await copyTemplateInto(this.#install, this.root);
    const socketDir = join(this.root, 'socket');
    mkdirSync(socketDir, { mode: 0o700 });
    const runAs = this.#install.runAs;
    if (runAs !== null) chownSync(socketDir, runAs.uid, runAs.gid);
    for (let attempt = 1; ; attempt++) {
      this.port = port ?? (await freePort());
      const mark = this.#log.total;
      try {
        await this.#spawnUntilReady();
        break;
      } catch (error) {
        const lostRace = this.#log.since(mark).includes('Address already in use');
        if (port !== undefined || !lostRace || attempt >= portAttempts) throw error;
      }
    }
    this.startMs = performance.now() - startedAt;
  }

  restart(options: { mode?: RestartMode } = {}): Promise<RestartReport> {
    return this.#serially(async () => {
      if (this.#stopped) {
        throw new PrivatePostgresError('stopped', `cluster ${this.root} is stopped`);
      }
      const mode = options.mode ?? 'immediate';
      const signalledAt = performance.now();
      await this.#postmaster?.stop(mode === 'immediate' ? 'SIGQUIT' : 'SIGINT', stopBoundMs);
      const stopMs = performance.now() - signalledAt;
      await this.#spawnUntilReady();
      return { mode, stopMs, downMs: performance.now() - signalledAt, acceptedAtMs: Date.now() };
    });
  }

  stop(): Promise<void> {
    return this.#serially(async () => {
      if (this.#stopped) return;
      this.#stopped = true;
      try {
        await this.#postmaster?.stop('SIGINT', stopBoundMs);
      } finally {
        live.delete(this);
        rmSync(this.root, { recursive: true, force: true, maxRetries: 3 });
      }
    });
  }

  /**
   * The exit hook's stop. An exit hook cannot await, so this signals, then blocks (at most
   * `stopBoundMs`) until the postmaster has exited, which it does only after all its backends
   * have: deleting the directory before that races their last writes.
   */
  abandon(): void {
    const postmaster = this.#postmaster;
    if (postmaster !== null) {
      postmaster.signal('SIGQUIT');
      const pause = new Int32Array(new SharedArrayBuffer(4));
      const deadline = performance.now() + stopBoundMs;
      while (isRunning(postmaster.pid) && performance.now() < deadline) {
        Atomics.wait(pause, 0, 0, 10);
      }
    }
    rmSync(this.root, { recursive: true, force: true, maxRetries: 3 });
  }

  async #spawnUntilReady(): Promise<void> {
    const settings = {
      ...this.#extra,
      listen_addresses: this.host,
      port: String(this.port),
      unix_socket_directories: join(this.root, 'socket'),
      fsync: 'on',
      synchronous_commit: 'on',
      full_page_writes: 'on',
    };
    const postmaster = new Postmaster(this.#install, this.dataDir, settings, this.#log);
    this.#postmaster = postmaster;
    const ready = await within(
      postmaster.ready.then(() => true),
      this.#readyTimeoutMs,
    );
    if (ready !== null) return;
    await postmaster.stop('SIGQUIT', stopBoundMs);
    throw new PrivatePostgresError(
      'start-failed',
      `postgres was not ready within ${this.#readyTimeoutMs} ms:\n${this.#log.text(40)}`,
    );
  }

  #serially<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#busy.then(work, work);
    this.#busy = next.catch(() => undefined);
    return next;
  }
}

/** The defaults, overlaid with the caller's; the enforced settings may only be restated as on. */
function checkedSettings(settings: Record<string, string>): Record<string, string> {
  for (const [name, value] of Object.entries(settings)) {
    if (enforcedSettings.includes(name.toLowerCase()) && value.toLowerCase() !== 'on') {
      throw new PrivatePostgresError(
        'unsafe-setting',
        `${name}=${value} is weaker than longrun's durability (${enforcedSettings.join(', ')} stay on)`,
      );
    }
  }
  return {
    shared_buffers: '16MB',
    max_connections: '200',
    lc_messages: 'C',
    logging_collector: 'off',
    ...settings,
  };
}

/** A port nobody listens on at this instant (another process may still take it first). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

let exitHookRegistered = false;

function registerExitHook(): void {
  if (exitHookRegistered) return;
  exitHookRegistered = true;
  process.once('exit', () => {
    for (const cluster of live) {
      console.error(
        `\n${'!'.repeat(100)}\nprivate PostgreSQL cluster ${cluster.root} (port ${cluster.port}, ` +
          `postmaster ${cluster.pid}) was never stopped by its test; stopping it at exit\n` +
          `${'!'.repeat(100)}\n`,
      );
      cluster.abandon();
    }
  });
}
