import { sessionId, workerId } from '@longrun/core';
import { PostgresStore } from './postgres-store.ts';

/**
 * A worker process for the liveness test: registers, claims one session with a lease far longer
 * than the test, reports the lease on stdout, then idles until the test kills it with SIGKILL.
 * Arguments: url schema sessionId workerId leaseMs.
 */
const [url = '', schema, session, worker, leaseMs] = process.argv.slice(2);
const store = await PostgresStore.open({ url, schema, applicationName: 'longrun-liveness-child' });
await store.registerWorker(workerId(worker), (error) => {
  console.error(`liveness lost: ${error.message}`);
  process.exit(3);
});
const lease = await store.claim(sessionId(session), workerId(worker), Number(leaseMs));
console.log(JSON.stringify({ lease }));
setInterval(() => {}, 60_000);
