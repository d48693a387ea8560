import { assembleProcess } from '../assemble-process.ts';
import { defaultPort, defaultStore, parseFlags, portFlag } from '../args.ts';
import { exitCodes } from '../exit-codes.ts';
import { jsonLog } from '../json-log.ts';
import { loadAgents } from '../load-agents.ts';
import { stopSignals } from '../stop-signal.ts';
import { usage } from '../usage.ts';

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
  const agents = values.agents === undefined ? undefined : await loadAgents(values.agents);
  const signals = stopSignals();
  const running = await assembleProcess({
    // An API node started during an outage listens at once, answers 503 (health 200, ready 503)
    // until its store opens, and says what it waits for on stderr.
    store: {
      url: values.store ?? defaultStore,
      applicationName: 'longrun-api',
      waitForServer: true,
    },
    log: jsonLog,
    api: {
      auth: values['no-auth'] ? 'none' : 'keys',
      host: values.host ?? '127.0.0.1',
      port,
      portGiven: values.port !== undefined,
      ...(agents === undefined ? {} : { agents: agents.map((a) => a.name) }),
    },
  });
  try {
    const { store, api, served } = running;
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
    signals.started();
    await signals.stopped;
  } finally {
    await running.close();
  }
  return exitCodes.ok;
}
