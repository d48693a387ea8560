import {
  InProcessLiveDeltas,
  createApi,
  feedApiFromLiveChannel,
  serveApi,
  type Api,
  type ServedApi,
} from '@longrun/api';
import { serveDashboard } from '@longrun/dashboard';
import type { SessionStore } from '@longrun/core';
import { defaultStore, parseFlags, portFlag } from '../args.ts';
import { exitCodes } from '../exit-codes.ts';
import { loadAgents } from '../load-agents.ts';
import { openStore } from '../store-url.ts';
import { usage } from '../usage.ts';

export const defaultPort = 7070;

/** Serves on `port`; when it is the default and taken, on a free port instead (said on stderr). */
export async function listen(
  api: Api,
  host: string,
  port: number,
  portGiven: boolean,
): Promise<ServedApi> {
  try {
    return await serveApi(api, { host, port });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || portGiven) throw error;
    process.stderr.write(`port ${port} is in use; serving on a free port instead\n`);
    return serveApi(api, { host, port: 0 });
  }
}

export function jsonLog(entry: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
}

export function stopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}

/**
 * `longrun serve`: the HTTP API and the dashboard over a store, no worker (workers run apart, e.g.
 * `longrun worker`). With keys unless --no-auth, which only a loopback host may use. Streams
 * follow the log by polling it; on Postgres they also listen to the workers' live channel
 * (token deltas and commit wake-ups); on SQLite token deltas arrive as the durable, coalesced
 * `model.streamed` events, since no model runs in this process.
 */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      store: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'no-auth': { type: 'boolean' },
      agents: { type: 'string', multiple: true },
    },
    usage.serve,
  );
  if (values.help) return (process.stdout.write(`${usage.serve}\n`), exitCodes.ok);
  const port = portFlag(values.port, defaultPort);
  const host = values.host ?? '127.0.0.1';
  const agents = values.agents === undefined ? undefined : await loadAgents(values.agents);
  // An API node started during an outage waits for the store (and says so on stderr).
  const store: SessionStore = await openStore(values.store ?? defaultStore, {
    applicationName: 'longrun-api',
    waitForServer: true,
    log: (msg) => jsonLog({ level: 'warn', msg }),
  });
  let stopFeed: (() => void) | null = null;
  try {
    // On Postgres, workers publish deltas and commits on a channel (see `longrun worker`).
    const channel = store.liveChannel?.();
    const live = channel === undefined ? undefined : new InProcessLiveDeltas();
    const api = createApi({
      store,
      auth: values['no-auth'] ? 'none' : 'keys',
      dashboard: serveDashboard,
      log: jsonLog,
      ...(live === undefined ? {} : { live }),
      ...(agents === undefined ? {} : { agents: agents.map((a) => a.name) }),
    });
    if (channel !== undefined && live !== undefined)
      stopFeed = await feedApiFromLiveChannel(channel, {
        live,
        appended: (id) => api.appended(id),
      });
    const served = await listen(api, host, port, values.port !== undefined);
    process.stdout.write(`${served.url}\n`);
    jsonLog({
      msg: 'api started',
      url: served.url,
      auth: api.auth,
      store: store.kind,
      durability: store.durability(),
    });
    if (api.auth === 'none')
      process.stderr.write(
        'no API keys: every request is tenant "default" (allowed on a loopback address only)\n',
      );
    else if ((await store.apiKeys.list()).every((k) => k.revokedAtMs !== null))
      process.stderr.write(
        'no API key exists yet: every request gets 401 until you run `longrun keys create --tenant <tenant>`\n',
      );
    await stopSignal();
    await served.close();
    return exitCodes.ok;
  } finally {
    stopFeed?.();
    await store.close();
  }
}
