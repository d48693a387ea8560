import { existsSync } from 'node:fs';
import { defaultStore, parseFlags } from '../args.ts';
import { exitCodes } from '../exit-codes.ts';
import { usage } from '../usage.ts';
import { run as runWorker } from './worker.ts';

const bundledExample = 'examples/fix-failing-test';

/**
 * `longrun dev`: everything in one process on the embedded store (SQLite in ./.longrun/): the
 * worker, with the agents of `--agents` (default: the bundled example when run from the
 * repository) and the sample programs. Sessions are started with `longrun run` or the
 * `sessions` commands from another terminal, against the same store.
 */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { agents: { type: 'string', multiple: true } }, usage.dev);
  if (values.help) return (process.stdout.write(`${usage.dev}\n`), exitCodes.ok);
  const agents = values.agents ?? (existsSync(bundledExample) ? [bundledExample] : []);
  process.stderr.write(
    `longrun dev: SQLite store ${defaultStore}, one worker, agents: ${agents.join(', ') || 'none (give --agents)'}\n` +
      `  start a session from another terminal:  longrun sessions list · longrun run <agent> "<task>"\n` +
      `  stop with Ctrl-C; sessions are durable and resume on the next start\n`,
  );
  return runWorker(['--store', defaultStore, ...agents.flatMap((a) => ['--agents', a])]);
}
