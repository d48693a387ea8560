import { hostname } from 'node:os';
import { workerId } from '@longrun/core';
import { assembleProcess } from '../assemble-process.ts';
import { UsageError, defaultStore, intFlag, parseFlags } from '../args.ts';
import { exitCodes } from '../exit-codes.ts';
import { jsonLine, jsonLog } from '../json-log.ts';
import { loadAgents } from '../load-agents.ts';
import { sandboxFlags, sandboxFromFlags } from '../sandbox-flags.ts';
import { stopSignals } from '../stop-signal.ts';
import { usage } from '../usage.ts';

/**
 * `longrun worker`: claims and runs sessions of the agents of `--agents` until stopped. On
 * Postgres it publishes its token deltas and commits on the store's live channel, for API nodes
 * elsewhere. Stdout is one JSON line at the start and one per ended session run; the log goes
 * to stderr.
 */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      store: { type: 'string' },
      'worker-id': { type: 'string' },
      concurrency: { type: 'string' },
      'lease-ms': { type: 'string' },
      'liveness-ms': { type: 'string' },
      agents: { type: 'string', multiple: true },
      'no-schedules': { type: 'boolean' },
      'remove-finished-workspaces': { type: 'boolean' },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      ...sandboxFlags,
    },
    usage.worker,
  );
  if (values.help) return (process.stdout.write(`${usage.worker}\n`), exitCodes.ok);
  // Every flag is checked before anything starts: a bad value exits 2, it never hangs later.
  const concurrency = intFlag(values.concurrency, 'concurrency', 32, { min: 1, max: 10_000 });
  const leaseMs = intFlag(values['lease-ms'], 'lease-ms', 15_000, { min: 100, max: 86_400_000 });
  const livenessMs =
    values['liveness-ms'] === undefined
      ? undefined
      : intFlag(values['liveness-ms'], 'liveness-ms', 5_000, { min: 500 });
  const metricsPort =
    values['metrics-port'] === undefined
      ? undefined
      : intFlag(values['metrics-port'], 'metrics-port', 0, { max: 65_535 });
  if (metricsPort === undefined && values['metrics-host'] !== undefined)
    throw new UsageError('--metrics-host needs --metrics-port');
  const sandbox = await sandboxFromFlags(values, await loadAgents(values.agents ?? []));
  const chosen = values['worker-id'];
  const signals = stopSignals();
  const running = await assembleProcess({
    // A worker started during an outage waits for the store; nothing exits on a dropped connection.
    store: {
      url: values.store ?? defaultStore,
      applicationName: 'longrun-worker',
      waitForServer: true,
      ...(livenessMs === undefined ? {} : { workerLivenessMs: livenessMs }),
    },
    log: jsonLog,
    worker: {
      sandbox,
      // The same on both stores: a stable id (`<host>-worker`), so a restarted worker reclaims
      // its sessions at once; a second one on the host while the first runs gets `-<pid>` added.
      id: chosen === undefined ? { stable: `${hostname()}-worker` } : { fixed: workerId(chosen) },
      concurrency,
      leaseMs,
      ...(values['no-schedules'] === true ? { schedules: false as const } : {}),
      removeFinishedWorkspaces: values['remove-finished-workspaces'] === true,
      sessionEnds: (ended) => process.stdout.write(jsonLine({ msg: 'session ended', ...ended })),
    },
    ...(metricsPort === undefined
      ? {}
      : { metrics: { host: values['metrics-host'] ?? '127.0.0.1', port: metricsPort } }),
  });
  const { store, worker, metricsServer } = running;
  const agentNames = sandbox.agents.map((a) => a.name);
  // A worker without agents says so itself, in its log, at start.
  process.stdout.write(
    jsonLine({
      msg: 'worker started',
      workerId: worker.id,
      agents: agentNames,
      store: store.kind,
      durability: store.durability(),
      ...(metricsServer === null
        ? {}
        : { metrics: `http://${urlHost(metricsServer.host)}:${metricsServer.port}/metrics` }),
    }),
  );
  signals.started();
  await signals.stopped;
  await running.close();
  return exitCodes.ok;
}

/** A host as it goes in a URL (an IPv6 address in brackets). */
function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
