import { sessionId, workerId } from '@longrun/core';
import { PostgresStore } from './postgres-store.ts';

/**
 * A worker process for the liveness test: registers, claims one session with a lease far longer
 * than the test, reports the lease on stdout, then idles until the test kills or stops it.
 * Arguments: url schema sessionId workerId leaseMs livenessMs.
 */
const [url = '', schema, session, worker, leaseMs, livenessMs] = process.argv.slice(2);
const store = await PostgresStore.open({
  url,
  schema,
  applicationName: 'longrun-liveness-child',
  workerLivenessMs: Number(livenessMs),
});
await store.registerWorker(workerId(worker), {
  onDoubt: (error) => console.error(`liveness in doubt: ${error.message}`),
});
const lease = await store.claim(sessionId(session), workerId(worker), Number(leaseMs));
console.log(JSON.stringify({ lease }));
setInterval(() => {}, 60_000);
