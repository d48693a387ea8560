import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { createApi, InProcessLiveDeltas } from '@longrun/api';
import { serveDashboard } from '@longrun/dashboard';
import { Worker, ledgerProgram, publishLive, writeWorkerLog } from '@longrun/runtime';
import { defaultStore, parseFlags, portFlag } from '../args.ts';
import { exitCodes } from '../exit-codes.ts';
import { loadAgents } from '../load-agents.ts';
import { openStore } from '../store-url.ts';
import { usage } from '../usage.ts';
import { startUnderStableId } from '../worker-ids.ts';
import { sandboxFlags, sandboxFromFlags } from '../sandbox-flags.ts';
import { defaultPort, jsonLog, listen, stopSignal } from './serve.ts';

const bundledExample = 'examples/fix-failing-test';

/**
 * `longrun dev`: everything in one process on the embedded store (SQLite in ./.longrun/): a
 * worker for the agents of `--agents` (default: the bundled example when run from the
 * repository) and the sample programs, and the HTTP API with the dashboard on 127.0.0.1. The
 * worker feeds the API's streams directly: token deltas reach readers as they arrive, and new
 * events without waiting for the next poll.
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
  const { agents } = sandbox;
  const store = await openStore(defaultStore, { applicationName: 'longrun-dev' });
  const live = new InProcessLiveDeltas();
  let worker: Worker | null = null;
  const api = createApi({
    store,
    auth: values.keys ? 'keys' : 'none',
    agents: [...agents.map((a) => a.name), 'ledger'],
    live,
    dashboard: serveDashboard,
    log: jsonLog,
    figures: () => ({ sandboxPool: sandbox.poolStats() }),
    onSessionCreated: () => worker?.wake(),
    onSignalled: () => worker?.wake(),
  });
  // A stable id: a restarted `longrun dev` reclaims its sessions at once.
  worker = await startUnderStableId(`${hostname()}-dev`, (id) => {
    const built = new Worker({
      store,
      agents,
      workerId: id,
      programs: [ledgerProgram({ dir: resolve('.longrun/work') })],
    });
    publishLive(built, live);
    built.on('events.committed', ({ sessionId }) => api.appended(sessionId));
    writeWorkerLog(built, jsonLog);
    worker = built;
    return built;
  });
  const served = await listen(api, '127.0.0.1', port, values.port !== undefined);
  jsonLog({ msg: 'worker started', workerId: worker.id, store: store.kind });
  process.stdout.write(
    `longrun dev: ${served.url}  (dashboard and API; SQLite store ${defaultStore}; agents: ${agents.map((a) => a.name).join(', ') || 'none (give --agents)'})\n` +
      (api.auth === 'none'
        ? '  no API keys: the API answers only on 127.0.0.1, every request as tenant "default" (--keys to require them)\n'
        : '  API keys required: create one with `longrun keys create --tenant <tenant>`\n') +
      `  start a session: the dashboard, POST ${served.url}/v1/sessions, or \`longrun run <agent> "<task>"\`\n` +
      '  stop with Ctrl-C; sessions are durable and resume on the next start\n',
  );
  await stopSignal();
  await served.close();
  await worker.stop();
  await sandbox.close();
  await store.close();
  return exitCodes.ok;
}
