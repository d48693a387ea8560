#!/usr/bin/env node
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
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
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

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(`longrun: ${error.message}\n`);
    process.exitCode = exitCodes.usage;
  } else {
    const code = isLongrunError(error) ? ` [${error.code}]` : '';
    process.stderr.write(`longrun: ${(error as Error).message}${code}\n`);
    process.exitCode = exitCodeFor(error);
  }
}
