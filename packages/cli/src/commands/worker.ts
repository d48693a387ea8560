import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { workerId, type WorkerId } from '@longrun/core';
import {
  LivePublisher,
  Worker,
  ledgerProgram,
  publishLive,
  writeWorkerLog,
} from '@longrun/runtime';
import { defaultStore, intFlag, parseFlags } from '../args.ts';
import { exitCodes } from '../exit-codes.ts';
import { openStore } from '../store-url.ts';
import { usage } from '../usage.ts';
import { startUnderStableId } from '../worker-ids.ts';
import { loadAgents } from '../load-agents.ts';
import { sandboxFlags, sandboxFromFlags } from '../sandbox-flags.ts';

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      store: { type: 'string' },
      'worker-id': { type: 'string' },
      concurrency: { type: 'string' },
      'lease-ms': { type: 'string' },
      'liveness-ms': { type: 'string' },
      dir: { type: 'string' },
      agents: { type: 'string', multiple: true },
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
  const log = (entry: Record<string, unknown>): void =>
    void process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
  // A worker started during an outage waits for the store; nothing exits on a dropped connection.
  const store = await openStore(values.store ?? defaultStore, {
    applicationName: 'longrun-worker',
    waitForServer: true,
    log: (msg) => log({ level: 'warn', msg }),
    ...(livenessMs === undefined ? {} : { workerLivenessMs: livenessMs }),
  });
  // The same on both stores: a stable id (`<host>-worker`), so a restarted worker reclaims its
  // sessions at once; a second worker on the host while the first runs gets `<host>-worker-<pid>`.
  const sandbox = await sandboxFromFlags(values, await loadAgents(values.agents ?? []));
  const { agents } = sandbox;
  // On Postgres, API nodes elsewhere get this worker's token deltas and commits at once.
  const channel = store.liveChannel?.();
  const live = channel === undefined ? null : new LivePublisher(channel);
  const build = (id: WorkerId): Worker => {
    const built = new Worker({
      store,
      agents,
      workerId: id,
      programs: [ledgerProgram({ dir: resolve(values.dir ?? '.longrun/work') })],
      concurrency,
      leaseMs,
    });
    if (live !== null) publishLive(built, live);
    writeWorkerLog(built, log, { sessionEnds: false });
    built.on('session.ended', ({ sessionId, outcome }) =>
      process.stdout.write(
        `${JSON.stringify({ time: new Date().toISOString(), msg: 'session ended', sessionId, outcome })}\n`,
      ),
    );
    return built;
  };
  const chosen = values['worker-id'];
  let worker: Worker;
  if (chosen === undefined) {
    worker = await startUnderStableId(`${hostname()}-worker`, build);
  } else {
    worker = build(workerId(chosen));
    await worker.start();
  }
  process.stdout.write(
    `${JSON.stringify({ time: new Date().toISOString(), msg: 'worker started', workerId: worker.id, store: store.kind, durability: store.durability() })}\n`,
  );
  await new Promise<void>((resolveStop) => {
    process.once('SIGINT', resolveStop);
    process.once('SIGTERM', resolveStop);
  });
  await worker.stop();
  await sandbox.close();
  // Sends what is pending; the store closes its channel after the notes already published.
  live?.flush();
  await store.close();
  return exitCodes.ok;
}
