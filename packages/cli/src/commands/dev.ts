import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { assembleProcess } from '../assemble-process.ts';
import { defaultPort, defaultStore, parseFlags, portFlag } from '../args.ts';
import { exitCodes } from '../exit-codes.ts';
import { jsonLog } from '../json-log.ts';
import { loadAgents } from '../load-agents.ts';
import { sandboxFlags, sandboxFromFlags } from '../sandbox-flags.ts';
import { stopSignals } from '../stop-signal.ts';
import { usage } from '../usage.ts';

const bundledExample = 'examples/fix-failing-test';

/**
 * `longrun dev`: everything in one process on the embedded store (SQLite in ./.longrun/): a
 * worker for the agents of `--agents` (default: the bundled example when run from the
 * repository), and the HTTP API with the dashboard on 127.0.0.1. The worker feeds the API's
 * streams through the in-process live channel: token deltas reach readers as they arrive, and
 * new events without waiting for the next poll.
 */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      agents: { type: 'string', multiple: true },
      port: { type: 'string' },
      keys: { type: 'boolean' },
      ...sandboxFlags,
    },
    usage.dev,
  );
  if (values.help) return (process.stdout.write(`${usage.dev}\n`), exitCodes.ok);
  const port = portFlag(values.port, defaultPort);
  const paths = values.agents ?? (existsSync(bundledExample) ? [bundledExample] : []);
  const sandbox = await sandboxFromFlags(values, await loadAgents(paths));
  const names = sandbox.agents.map((a) => a.name);
  const signals = stopSignals();
  const dev = await assembleProcess({
    store: { url: defaultStore, applicationName: 'longrun-dev' },
    log: jsonLog,
    // A stable id: a restarted `longrun dev` reclaims its sessions at once.
    worker: { sandbox, id: { stable: `${hostname()}-dev` } },
    api: {
      auth: values.keys ? 'keys' : 'none',
      host: '127.0.0.1',
      port,
      portGiven: values.port !== undefined,
      agents: names,
    },
  });
  const url = dev.served.url;
  jsonLog({ msg: 'worker started', workerId: dev.worker.id, store: dev.store.kind });
  process.stdout.write(
    `longrun dev: ${url}  (dashboard and API; SQLite store ${defaultStore}; agents: ${names.join(', ') || 'none (give --agents)'})\n` +
      (dev.api.auth === 'none'
        ? '  no API keys: the API answers only on 127.0.0.1, every request as tenant "default" (--keys to require them)\n'
        : '  API keys required: create one with `longrun keys create --tenant <tenant>`\n') +
      `  start a session: the dashboard, POST ${url}/v1/sessions, or \`longrun run <agent> "<task>"\`\n` +
      '  stop with Ctrl-C; sessions are durable and resume on the next start\n',
  );
  signals.started();
  await signals.stopped;
  await dev.close();
  return exitCodes.ok;
}
