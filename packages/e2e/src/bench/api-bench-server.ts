/**
 * The API server of the API bench, in its own process so that its memory is measured alone:
 * `node api-bench-server.ts <store-url> <auth>`. It reports `{ url }` on start, answers
 * `'memory'` with its memory use (after a full GC), and exits on `'stop'`.
 */
import { InProcessLiveDeltas, createApi, feedApiFromLiveChannel, serveApi } from '@longrun/api';
import { openStore } from '@longrun/cli';

const [url, auth] = process.argv.slice(2);
if (url === undefined || (auth !== 'keys' && auth !== 'none'))
  throw new Error('usage: api-bench-server.ts <store-url> keys|none');
const store = await openStore(url, { applicationName: 'longrun-api-bench' });
// As `longrun serve` does: on Postgres, also listen to the workers' live channel.
const channel = store.liveChannel?.();
const live = channel === undefined ? undefined : new InProcessLiveDeltas();
// One bench key reads up to 1,000 streams: past the default per-key and per-tenant caps.
const streamLimits = { maxPerKey: 1_536, maxPerTenant: 1_536 };
const api = createApi({
  store,
  auth,
  pollMs: 25,
  streamLimits,
  ...(live === undefined ? {} : { live }),
});
if (channel !== undefined && live !== undefined)
  await feedApiFromLiveChannel(channel, { live, appended: (id) => api.appended(id) });
const served = await serveApi(api, { port: 0 });
const gc = (globalThis as { gc?: () => void }).gc;

process.on('message', (message: unknown) => {
  if (message === 'memory') {
    gc?.();
    const m = process.memoryUsage();
    process.send?.({
      memory: {
        rss: m.rss,
        heapUsed: m.heapUsed,
        external: m.external,
        arrayBuffers: m.arrayBuffers,
      },
      cpuUs: process.cpuUsage().user + process.cpuUsage().system,
      atMs: performance.now(),
      stats: api.stats(),
    });
  } else if (message === 'stop') {
    void served
      .close()
      .then(() => store.close())
      .then(() => process.exit(0));
  }
});
process.send?.({ url: served.url });
