import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

const longrunMain = fileURLToPath(new URL('../../../cli/src/main.ts', import.meta.url));

export interface Child {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  readonly exited: Promise<number | null>;
  /** Resolves with the first match of `pattern` in its output; rejects when it exits or times out. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** SIGKILL, if it is still running. */
  kill(): Promise<void>;
}

/** Runs `longrun <args>` (the CLI in this checkout) as a real child process in `cwd`. */
export function startLongrun(args: string[], cwd: string): Child {
  return startNode([longrunMain, ...args], cwd);
}

export function startNode(args: string[], cwd: string): Child {
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start node ${args.join(' ')}`);
  let output = '';
  const listeners = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let running = true;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      running = false;
      for (const listener of listeners) listener();
      resolve(code);
    }),
  );
  const pid = child.pid;
  return {
    child,
    pid,
    output: () => output,
    exited,
    waitForOutput: (pattern, timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => done(new Error(`no ${pattern} in ${timeoutMs} ms:\n${output}`)),
          timeoutMs,
        );
        const check = () => {
          const match = pattern.exec(output);
          if (match !== null) done(null, match);
          else if (!running) done(new Error(`exited before printing ${pattern}:\n${output}`));
        };
        const done = (error: Error | null, match?: RegExpMatchArray) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (error !== null) reject(error);
          else resolve(match as RegExpMatchArray);
        };
        listeners.add(check);
        check();
      }),
    kill: async () => {
      if (running) process.kill(pid, 'SIGKILL');
      await exited;
    },
  };
}

/** Polls `probe` until it returns a value, at most `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A TCP port that was free a moment ago, for a server that must come back on the same port. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
