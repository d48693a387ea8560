import { spawn, type ChildProcess } from 'node:child_process';
import { asPostgresUser, type PostgresInstall } from './postgres-install.ts';
import { PrivatePostgresError } from './private-postgres-error.ts';
import { within } from './bounded-wait.ts';

/** The line PostgreSQL logs when the postmaster starts accepting ordinary connections. */
const readyLine = 'database system is ready to accept connections';

/** The last lines a cluster's servers wrote to stderr, across restarts; bounded in count. */
export class LogTail {
  readonly #lines: string[] = [];
  readonly #maxLines: number;

  constructor(maxLines = 300) {
    this.#maxLines = maxLines;
  }

  /** Lines ever added, so a caller can read only what one server run wrote (`since`). */
  total = 0;

  add(line: string): void {
    this.total++;
    this.#lines.push(line);
    if (this.#lines.length > this.#maxLines)
      this.#lines.splice(0, this.#lines.length - this.#maxLines);
  }

  text(lastLines = this.#maxLines): string {
    return this.#lines.slice(-lastLines).join('\n');
  }

  /** The retained lines added after the moment `total` was `mark`. */
  since(mark: number): string {
    return this.#lines.slice(Math.max(0, this.#lines.length - (this.total - mark))).join('\n');
  }
}

export interface PostmasterExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * One run of `postgres -D dataDir` as a child of this process, from spawn to exit. It is spawned
 * directly rather than through `pg_ctl start`, which would setsid() it away: as a child in the
 * test's process group, its exit is an event to await (no polling of postmaster.pid), and a
 * test process that dies without stopping it leaves it where the test runner's leftover check
 * kills and reports it. Readiness is the server's own "ready to accept connections" log line.
 *
 * Invariant: stderr is always read (a full pipe would block the server's logging), into `log`.
 */
export class Postmaster {
  readonly pid: number;
  /** Settles when the postmaster has exited; its children exit before it does (or, if it was
   * SIGKILLed, soon after, when they notice it is gone). Never rejects. */
  readonly exited: Promise<PostmasterExit>;
  /** Resolves once the server accepts connections; rejects if it exits first. */
  readonly ready: Promise<void>;
  readonly #child: ChildProcess;
  #exit: PostmasterExit | null = null;

  constructor(
    install: PostgresInstall,
    dataDir: string,
    settings: Record<string, string>,
    log: LogTail,
  ) {
    const flags = Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
    const [command, args] = asPostgresUser(install, 'postgres', ['-D', dataDir, ...flags]);
    this.#child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    // A spawn failure (no setpriv) is reported below as start-failed, not as an uncaught 'error'.
    this.#child.on('error', () => undefined);
    if (this.#child.pid === undefined) {
      throw new PrivatePostgresError('start-failed', `could not spawn ${command}`);
    }
    this.pid = this.#child.pid;
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
    });
    this.ready = new Promise((resolve, reject) => {
      let partial = '';
      this.#child.stderr?.setEncoding('utf8');
      this.#child.stderr?.on('data', (text: string) => {
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          log.add(line);
          if (line.includes(readyLine)) resolve();
        }
      });
      void this.exited.then(({ code, signal }) => {
        if (partial !== '') log.add(partial);
        reject(
          new PrivatePostgresError(
            'start-failed',
            `postgres exited (code ${code}, signal ${signal}) before accepting connections:\n` +
              log.text(40),
          ),
        );
      });
    });
    // Rejection is observed by whoever awaits `ready`; this only keeps an unawaited one quiet.
    this.ready.catch(() => undefined);
  }

  get hasExited(): boolean {
    return this.#exit !== null;
  }

  /** Signals the postmaster (SIGQUIT immediate, SIGINT fast, SIGKILL crash); no-op once exited. */
  signal(signal: NodeJS.Signals): void {
    if (this.#exit === null) this.#child.kill(signal);
  }

  /**
   * Sends `signal` and waits for the exit, at most `withinMs`; then SIGKILLs and waits up to
   * another `withinMs`. Throws `stop-failed` if it is still alive after that.
   */
  async stop(signal: NodeJS.Signals, withinMs: number): Promise<PostmasterExit> {
    this.signal(signal);
    const first = await within(this.exited, withinMs);
    if (first !== null) return first;
    this.signal('SIGKILL');
    const second = await within(this.exited, withinMs);
    if (second !== null) return second;
    throw new PrivatePostgresError(
      'stop-failed',
      `postmaster ${this.pid} still alive ${2 * withinMs} ms after ${signal} and SIGKILL`,
    );
  }
}
