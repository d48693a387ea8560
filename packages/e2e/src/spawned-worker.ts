import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * A worker process a kill -9 test spawns (`node <script> ...args`, one that starts a
 * startReportingWorker) and the lines it has printed, which a test waits for.
 */
export class SpawnedWorker {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  readonly #waiters: (() => void)[] = [];

  constructor(script: string, args: string[]) {
    this.child = spawn(process.execPath, [script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-20_000);
    });
    if (this.child.stdout === null) throw new Error('worker spawned without a stdout pipe');
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.lines.push(line);
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** Resolves once a line matches `line`; rejects after `timeoutMs` or when the process exits. */
  async until(line: RegExp, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.lines.some((l) => line.test(l))) {
      if (Date.now() > deadline || this.child.exitCode !== null) {
        throw new Error(`worker never printed ${line}; stderr:\n${this.stderr.slice(-3_000)}`);
      }
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill(signal);
    await exited;
  }
}
