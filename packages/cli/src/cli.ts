import { readFileSync } from 'node:fs';
import { isLongrunError } from '@longrun/core';
import { exitCodeFor, exitCodes } from './exit-codes.ts';
import { usage } from './usage.ts';
import { UsageError } from './args.ts';

const commands: Record<string, () => Promise<{ run(argv: string[]): Promise<number> }>> = {
  demo: () => import('./commands/demo.ts'),
  dev: () => import('./commands/dev.ts'),
  run: () => import('./commands/run.ts'),
  worker: () => import('./commands/worker.ts'),
  sessions: () => import('./commands/sessions.ts'),
  doctor: () => import('./commands/doctor.ts'),
  serve: () => import('./commands/serve.ts'),
  keys: () => import('./commands/keys.ts'),
  schedules: () => import('./commands/schedules.ts'),
  replay: () => import('./commands/replay.ts'),
};

/** The version of this package, read from its package.json (one level above src/ or dist/). */
function version(): string {
  const manifest = new URL('../package.json', import.meta.url);
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    process.stdout.write(`longrun ${version()}\n`);
    return exitCodes.ok;
  }
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(`${usage.main}\n`);
    return name === undefined ? exitCodes.usage : exitCodes.ok;
  }
  const load = commands[name];
  if (load === undefined) {
    process.stderr.write(
      `longrun: unknown command ${JSON.stringify(name)}; run longrun --help for the list\n`,
    );
    return exitCodes.usage;
  }
  return (await load()).run(rest);
}

/** Runs the command `argv` names (`longrun <command> …`) and sets the process's exit code. */
export async function runCli(argv: string[]): Promise<void> {
  // A reader that went away (`longrun sessions list | head`) is not an error: stop quietly, exit 0.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(exitCodes.ok);
      throw error;
    });
  }
  try {
    process.exitCode = await main(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`longrun: ${error.message}\n`);
      process.exitCode = exitCodes.usage;
    } else {
      const code = isLongrunError(error) ? ` [${error.code}]` : '';
      process.stderr.write(`longrun: ${(error as Error).message}${code}\n`);
      process.exitCode = exitCodeFor(error);
    }
    // A command that failed half-way may have left something open (a pool, a sandbox, a timer):
    // the error is said, so the process ends soon even if that keeps the event loop alive.
    setTimeout(() => process.exit(), 2_000).unref();
  }
}
