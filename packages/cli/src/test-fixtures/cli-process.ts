import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Test helpers that run `longrun` as a subprocess, with the scripted model. */

export const main = fileURLToPath(new URL('../main.ts', import.meta.url));
export const fixture = fileURLToPath(new URL('./approval-agent.ts', import.meta.url));
export const example = fileURLToPath(
  new URL('../../../../examples/fix-failing-test', import.meta.url),
);
const env = { ...process.env, LONGRUN_MODEL: 'scripted' };

/** Runs `longrun args` to its end; `extraEnv` is added to the environment it gets. */
export function longrun(
  args: string[],
  cwd: string,
  timeoutMs = 120_000,
  extraEnv: Record<string, string> = {},
) {
  return spawnSync(process.execPath, [main, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...env, ...extraEnv },
  });
}

/** Starts a long-running `longrun args`, collecting its stdout and stderr together. */
export function background(args: string[], cwd: string) {
  const child = spawn(process.execPath, [main, ...args], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  let signal: NodeJS.Signals | null = null;
  const exited = new Promise<number | null>((r) =>
    child.on('exit', (code, by) => {
      signal = by;
      r(code);
    }),
  );
  /** How it ended and the end of what it printed, for a failed assertion's message. */
  const ending = () =>
    `exit code null means a signal: ${signal ?? 'none'}; output ends:\n${output.slice(-2_000)}`;
  return { child, exited, output: () => output, ending };
}

/** Polls `probe` every 50 ms until it gives a value; throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} not reached in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
