import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { within } from '../faults/bounded-wait.ts';

const cliMain = fileURLToPath(new URL('../../../cli/src/main.ts', import.meta.url));
const agentModule = fileURLToPath(new URL('./fault-agent-module.ts', import.meta.url));
/** Node's compile cache, shared with the crash suites: a worker is up sooner. */
const compileCache = process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), 'longrun-e2e-compile-cache');

export interface CliWorkerOptions {
  storeUrl: string;
  /** A label for logs and reports (`w0`, `w1`, …); the worker id is longrun's own. */
  name: string;
  /** The run's directory: the agent's records go here, the process's stderr to logs/<name>.log. */
  dir: string;
  leaseMs: number;
  /** The agent's tool hold range, ms. */
  toolMs: [number, number];
  concurrency: number;
  /** `--liveness-ms`; the CLI's default (5000) when not given. */
  livenessMs?: number;
  /** More `longrun worker` flags. */
  extraArgs?: readonly string[];
  /** Added to NODE_OPTIONS (e.g. `--inspect=127.0.0.1:0`, for the resource soak's probe). */
  nodeOptions?: string;
}

/**
 * One `longrun worker --store <url> --agents fault-agent-module.ts` process, as an operator runs
 * it. Its stdout (JSON lines) is read for the worker id and session ends; its stderr (the
 * worker's JSON log) goes to a file, read back for failure messages. Every process it starts is
 * SIGKILLed by kill() or stop(); nothing else ends it.
 */
export class CliWorker {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logPath: string;
  workerId: string | null = null;
  readonly ended: { sessionId: string; outcome: string }[] = [];
  /** CLOCK_MONOTONIC ns when the test sent SIGKILL, and when it saw the exit. */
  killedAtNs: bigint | null = null;
  exitedAtNs: bigint | null = null;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  /** The test ended it (kill or stop): its exit is not a failure. */
  endedByTest = false;
  readonly exited: Promise<void>;
  #started: Promise<void>;

  constructor(options: CliWorkerOptions) {
    this.name = options.name;
    mkdirSync(join(options.dir, 'logs'), { recursive: true });
    this.logPath = join(options.dir, 'logs', `${options.name}.log`);
    const stderr = openSync(this.logPath, 'a');
    const args = [cliMain, 'worker', '--store', options.storeUrl, '--agents', agentModule];
    args.push('--lease-ms', String(options.leaseMs), '--concurrency', String(options.concurrency));
    if (options.livenessMs !== undefined) args.push('--liveness-ms', String(options.livenessMs));
    args.push(...(options.extraArgs ?? []));
    this.child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', stderr],
      env: {
        ...process.env,
        NODE_COMPILE_CACHE: compileCache,
        ...(options.nodeOptions === undefined
          ? {}
          : { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${options.nodeOptions}`.trim() }),
        LONGRUN_PGF_DIR: options.dir,
        LONGRUN_PGF_TOOL_MS: options.toolMs.join('-'),
      },
    });
    closeSync(stderr);
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => {
        this.exitedAtNs = process.hrtime.bigint();
        this.exit = { code, signal };
        resolve();
      }),
    );
    if (this.child.stdout === null) throw new Error('worker spawned without a stdout pipe');
    const lines = createInterface({ input: this.child.stdout });
    this.#started = new Promise((resolve) =>
      lines.on('line', (line) => {
        const entry = parse(line);
        if (entry?.msg === 'worker started') {
          this.workerId = String(entry.workerId);
          resolve();
        }
        if (entry?.msg === 'session ended') {
          this.ended.push({ sessionId: String(entry.sessionId), outcome: String(entry.outcome) });
        }
      }),
    );
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.exit === null;
  }

  /** Resolves once the worker said it started; throws if it exits first or takes too long. */
  async started(timeoutMs = 30_000): Promise<void> {
    const outcome = await within(
      Promise.race([this.#started.then(() => 'started'), this.exited.then(() => 'exited')]),
      timeoutMs,
    );
    if (outcome !== 'started') {
      throw new Error(
        `longrun worker ${this.name} ${outcome === 'exited' ? `exited (${JSON.stringify(this.exit)})` : `did not start in ${timeoutMs} ms`}:\n${this.logTail()}`,
      );
    }
  }

  /** SIGKILL now; resolves when the process is gone. */
  async kill(): Promise<void> {
    this.endedByTest = true;
    if (this.alive) {
      this.killedAtNs = process.hrtime.bigint();
      this.child.kill('SIGKILL');
    }
    await this.exited;
  }

  /** SIGTERM (the worker hands its leases back), SIGKILL if it takes over `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    this.endedByTest = true;
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    if ((await within(this.exited, graceMs)) === null) await this.kill();
  }

  /** Why this worker's end is a failure (it exited without the test ending it), or null. */
  unexpectedExit(): string | null {
    if (this.endedByTest || this.exit === null) return null;
    return `longrun worker ${this.name} (pid ${this.pid}) exited on its own: ${JSON.stringify(this.exit)}\n${this.logTail()}`;
  }

  /** The last lines of its log, for failure messages. */
  logTail(lines = 30): string {
    if (!existsSync(this.logPath)) return '';
    return readFileSync(this.logPath, 'utf8').split('\n').slice(-lines).join('\n');
  }

  /** Lines of its log whose message matches `pattern`. */
  logLines(pattern: RegExp): string[] {
    if (!existsSync(this.logPath)) return [];
    return readFileSync(this.logPath, 'utf8')
      .split('\n')
      .filter((l) => pattern.test(l));
  }
}

function parse(line: string): Record<string, unknown> | null {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
}
