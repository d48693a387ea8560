import type { Api, PendingApi, ServedApi } from '@longrun/api';
import type { MetricsServer, ProcessMetrics } from '@longrun/telemetry';
import type { LiveChannel, SessionStore, WorkerId } from '@longrun/core';
import {
  InProcessLiveChannel,
  LivePublisher,
  Worker,
  countWorkerFigures,
  feedWorkerMetrics,
  openTraceExport,
  publishLive,
  saveCompileCache,
  writeWorkerLog,
  type WorkerFigures,
} from '@longrun/runtime';
import type { JsonLog } from './json-log.ts';
import type { CliSandbox } from './sandbox-flags.ts';
import { openStore, parseStoreUrl, type OpenStoreOptions } from './store-url.ts';
import { startUnderStableId } from './worker-ids.ts';
import { translateListenError, type ListenFlags } from './listen-error.ts';

const apiFlags: ListenFlags = { portFlag: '--port', hostFlag: '--host' };
const metricsFlags: ListenFlags = { portFlag: '--metrics-port', hostFlag: '--metrics-host' };

/** What one `longrun` process runs: a store, and a worker, the HTTP API, or both over it. */
export interface ProcessPlan {
  store: { url: string } & Pick<
    OpenStoreOptions,
    'applicationName' | 'waitForServer' | 'workerLivenessMs'
  >;
  /** Where the worker's, the API's and the store's structured log entries go. */
  log: JsonLog;
  worker?: WorkerPlan;
  api?: ApiPlan;
  /**
   * Serve `GET /metrics` on a port of its own (a process without the API: `longrun worker
   * --metrics-port`). A process with the API serves it on the API's port anyway.
   */
  metrics?: { host: string; port: number };
}

export interface WorkerPlan {
  /** The agents, with the sandbox their commands run in; closed with the process. */
  sandbox: CliSandbox;
  /** A stable id base (`<host>-dev`; `-<pid>` is added while another process holds it), or an id. */
  id: { stable: string } | { fixed: WorkerId };
  concurrency?: number;
  leaseMs?: number;
  pollMs?: number;
  /** Fire the due ticks of the agents' schedules (default: yes); `false`: another process does. */
  schedules?: false;
  /** Remove a finished session's workspace directory (WorkerOptions.removeFinishedWorkspaces). */
  removeFinishedWorkspaces?: boolean;
  /** Where the line each ended session run gives goes; by default the log. */
  sessionEnds?: (ended: { sessionId: string; outcome: string }) => void;
}

export interface ApiPlan {
  auth: 'none' | 'keys';
  host: string;
  port: number;
  /** The port was asked for: if it is taken, that is an error, not a free port instead. */
  portGiven: boolean;
  /** The agents sessions may be created for (default: any name). */
  agents?: readonly string[];
}

/** What `assembleProcess` built: a worker if the plan has one, the API if the plan has it. */
export interface AssembledProcess<P extends ProcessPlan = ProcessPlan> {
  store: SessionStore;
  worker: P extends { worker: WorkerPlan } ? Worker : null;
  api: P extends { api: ApiPlan } ? Api : null;
  served: P extends { api: ApiPlan } ? ServedApi : null;
  /** The `GET /metrics` server of its own, when the plan asked for one. */
  metricsServer: MetricsServer | null;
  /** Stops accepting requests, stops the worker, then closes the sandboxes, channel and store. */
  close(): Promise<void>;
}

/** The parts built so far, and what closes them. */
interface Assembly {
  plan: ProcessPlan;
  closers: Closers;
  store: SessionStore;
  worker: Worker | null;
  api: Api | null;
  served: ServedApi | null;
  /** The worker's figures (its figures subscriber), once a worker runs. */
  workerFigures: (() => WorkerFigures) | null;
  /** This process's metrics, when it serves them (with the API, or on a port of its own). */
  metrics: ProcessMetrics | null;
}

/**
 * The composition root of `longrun dev`, `worker` and `serve`: opens the store and builds what
 * the plan asks for over it. The live channel is the store's (Postgres LISTEN/NOTIFY, which API
 * nodes elsewhere hear too) or, when a worker and the API share this process on a store without
 * one, the in-process channel. The worker publishes its deltas, commits and ends on it, and has
 * its log and figures subscribers; the API reads the channel into its live deltas and stream
 * wake-ups, and wakes the worker when a session is created or signalled. On a failure, what was
 * built is closed again before the error is thrown.
 */
export async function assembleProcess<P extends ProcessPlan>(
  plan: P,
): Promise<AssembledProcess<P>> {
  const closers = new Closers();
  // An API node alone (`serve`) listens before its store opens: started during an outage, it
  // answers that it waits (503) instead of leaving its port refused.
  const early =
    plan.api !== undefined && plan.worker === undefined
      ? await listenWaiting(plan, plan.api)
      : null;
  let store: SessionStore;
  try {
    store = await openPlannedStore(plan, (msg) => early?.note(msg));
  } catch (error) {
    await early?.fail(error);
    throw error;
  }
  closers.add(() => store.close());
  const a: Assembly = {
    plan,
    closers,
    store,
    worker: null,
    api: null,
    served: null,
    workerFigures: null,
    metrics: null,
  };
  let metricsServer: MetricsServer | null = null;
  try {
    const channel = liveChannelFor(a);
    const sandbox = plan.worker?.sandbox;
    if (sandbox !== undefined) closers.add(() => sandbox.close());
    a.metrics = await buildMetrics(a);
    if (plan.api !== undefined) a.api = await buildApi(a, plan.api, channel);
    if (plan.worker !== undefined) a.worker = await startWorker(a, plan.worker, channel);
    if (plan.api !== undefined && a.api !== null)
      a.served = early === null ? await listen(a, plan.api, a.api) : early.ready(a, a.api);
    if (plan.metrics !== undefined && a.metrics !== null)
      metricsServer = await serveOwnMetrics(a, plan.metrics, a.metrics);
  } catch (error) {
    await early?.fail(error);
    await closers.closeAll().catch(() => undefined);
    throw error;
  }
  // Everything this process runs is loaded by now: its compiled code is kept for the next start.
  saveCompileCache();
  const { worker, api, served } = a;
  // Each part is built exactly when the plan has it, as the type says.
  return {
    store,
    worker,
    api,
    served,
    metricsServer,
    close: () => closers.closeAll(),
  } as AssembledProcess<P>;
}

/**
 * The process's metrics (@longrun/telemetry, loaded only here: a worker that serves none never
 * loads the OpenTelemetry SDK), when something serves them: the API, or a metrics port.
 */
async function buildMetrics(a: Assembly): Promise<ProcessMetrics | null> {
  if (a.plan.api === undefined && a.plan.metrics === undefined) return null;
  const { ProcessMetrics } = await import('@longrun/telemetry');
  const sandbox = a.plan.worker?.sandbox;
  const appendCommits = a.store.appendCommits?.bind(a.store);
  const metrics = new ProcessMetrics({
    countSessions: () => a.store.countSessions(),
    ...(appendCommits === undefined ? {} : { appendCommits }),
    ...(sandbox === undefined ? {} : { sandboxPool: () => sandbox.poolStats() }),
  });
  a.closers.add(() => metrics.shutdown());
  return metrics;
}

async function serveOwnMetrics(
  a: Assembly,
  plan: { host: string; port: number },
  metrics: ProcessMetrics,
): Promise<MetricsServer> {
  const { serveMetrics } = await import('@longrun/telemetry');
  const server = await serveMetrics(metrics, plan).catch((error: unknown) => {
    throw translateListenError(error, plan, metricsFlags);
  });
  a.closers.add(() => server.close());
  return server;
}

async function openPlannedStore(
  plan: ProcessPlan,
  note?: (msg: string) => void,
): Promise<SessionStore> {
  const { url, ...options } = plan.store;
  const log = (msg: string): void => {
    note?.(msg);
    plan.log({ level: 'warn', msg });
  };
  try {
    return await openStore(url, { ...options, log });
  } catch (error) {
    await plan.worker?.sandbox.close();
    throw error;
  }
}

/** The store's channel, or the in-process one when a worker and the API share this process. */
function liveChannelFor(a: Assembly): LiveChannel | null {
  // The store closes its own channel, after the notes already published.
  const own = a.store.liveChannel?.();
  if (own !== undefined) return own;
  if (a.plan.worker === undefined || a.plan.api === undefined) return null;
  const channel = new InProcessLiveChannel();
  a.closers.add(() => channel.close());
  return channel;
}

async function buildApi(a: Assembly, plan: ApiPlan, channel: LiveChannel | null): Promise<Api> {
  // Loaded here, not at the top: a worker process (`longrun worker`) never pays for Hono, the
  // OpenAPI schemas and the dashboard before its first claim.
  const [{ InProcessLiveDeltas, createApi, feedApiFromLiveChannel }, { serveDashboard }] =
    await Promise.all([import('@longrun/api'), import('@longrun/dashboard')]);
  const live = channel === null ? undefined : new InProcessLiveDeltas();
  const sandbox = a.plan.worker?.sandbox;
  const wake = (): void => a.worker?.wake();
  const api = createApi({
    store: a.store,
    auth: plan.auth,
    dashboard: serveDashboard,
    log: a.plan.log,
    ...(a.metrics === null ? {} : { metrics: a.metrics }),
    ...(live === undefined ? {} : { live }),
    ...(plan.agents === undefined ? {} : { agents: plan.agents }),
    ...(sandbox === undefined
      ? {}
      : {
          onSessionCreated: wake,
          onSignalled: wake,
          figures: () => ({
            sandboxPool: sandbox.poolStats(),
            ...(a.workerFigures === null ? {} : { worker: a.workerFigures() }),
          }),
        }),
  });
  if (channel !== null && live !== undefined) {
    const stopFeed = await feedApiFromLiveChannel(channel, {
      live,
      appended: (id) => api.appended(id),
    });
    a.closers.add(async () => stopFeed());
  }
  return api;
}

async function startWorker(
  a: Assembly,
  plan: WorkerPlan,
  channel: LiveChannel | null,
): Promise<Worker> {
  const { sandbox, id, sessionEnds, ...tuning } = plan;
  const publisher = channel === null ? null : new LivePublisher(channel);
  // What is pending is sent once the worker stopped, before the channel closes.
  if (publisher !== null) a.closers.add(async () => publisher.flush());
  // Traces, when the OTEL_* env names an endpoint: closed (its last spans sent) after the worker.
  const traces = await openTraceExport({ store: a.store, log: a.plan.log });
  if (traces !== null) a.closers.add(() => traces.close());
  const build = (workerId: WorkerId): Worker => {
    const worker = new Worker({ store: a.store, agents: sandbox.agents, workerId, ...tuning });
    if (publisher !== null) publishLive(worker, publisher);
    traces?.subscribe(worker);
    writeWorkerLog(worker, a.plan.log, { sessionEnds: sessionEnds === undefined });
    if (sessionEnds !== undefined)
      worker.on('session.ended', ({ sessionId, outcome }) => sessionEnds({ sessionId, outcome }));
    if (a.metrics !== null) feedWorkerMetrics(worker, a.metrics.derivation, a.store);
    const counted = countWorkerFigures(worker);
    a.workerFigures = () => counted.figures();
    return worker;
  };
  const worker =
    'stable' in id
      ? await startUnderStableId(id.stable, build)
      : await startWithId(build(id.fixed));
  a.closers.add(() => worker.stop());
  return worker;
}

async function startWithId(worker: Worker): Promise<Worker> {
  await worker.start();
  return worker;
}

/**
 * The API served before its store opened: until `ready` gives it the API, every request gets the
 * waiting answer, which names the store's last failure to open. `fail` closes it.
 */
async function listenWaiting(plan: ProcessPlan, apiPlan: ApiPlan) {
  const { waitingAnswer } = await import('@longrun/api');
  let lastNote: string | null = null;
  let resolve!: (api: Api) => void;
  let reject!: (error: unknown) => void;
  const api = new Promise<Api>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  api.catch(() => undefined);
  const storeKind = parseStoreUrl(plan.store.url).kind;
  const pending: PendingApi = {
    auth: apiPlan.auth,
    api,
    waiting: (request) =>
      waitingAnswer(request, {
        auth: apiPlan.auth,
        storeKind,
        waitingFor: () => lastNote ?? `opening the ${storeKind} store`,
      }),
  };
  const served = await serveOn(apiPlan, pending);
  return {
    note(msg: string): void {
      if (lastNote === null)
        plan.log({
          level: 'warn',
          msg: `the API listens at ${served.url} and answers 503 until its store opens`,
        });
      lastNote = msg;
    },
    ready(a: Assembly, ready: Api): ServedApi {
      resolve(ready);
      a.closers.add(() => served.close());
      return served;
    },
    async fail(error: unknown): Promise<void> {
      reject(error);
      await served.close().catch(() => undefined);
    },
  };
}

/** Serves on the planned port; when it is the default and taken, on a free port (said on stderr). */
async function listen(a: Assembly, plan: ApiPlan, api: Api): Promise<ServedApi> {
  const served = await serveOn(plan, api);
  a.closers.add(() => served.close());
  return served;
}

async function serveOn(plan: ApiPlan, api: Api | PendingApi): Promise<ServedApi> {
  const { host, port } = plan;
  const { serveApi } = await import('@longrun/api');
  let served: ServedApi;
  try {
    served = await serveApi(api, { host, port });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || plan.portGiven)
      throw translateListenError(error, plan, apiFlags);
    process.stderr.write(`port ${port} is in use; serving on a free port instead\n`);
    served = await serveApi(api, { host, port: 0 }).catch((again: unknown) => {
      throw translateListenError(again, { host, port: 0 }, apiFlags);
    });
  }
  return served;
}

/** What to close, in the reverse order of adding; each one runs, and the first error is thrown. */
class Closers {
  readonly #closers: (() => Promise<void>)[] = [];
  #closing: Promise<void> | null = null;

  add(close: () => Promise<void>): void {
    this.#closers.push(close);
  }

  closeAll(): Promise<void> {
    this.#closing ??= this.#run();
    return this.#closing;
  }

  async #run(): Promise<void> {
    let first: Error | undefined;
    for (const close of this.#closers.reverse()) {
      try {
        await close();
      } catch (error) {
        first ??= error instanceof Error ? error : new Error(String(error));
      }
    }
    if (first !== undefined) throw first;
  }
}
