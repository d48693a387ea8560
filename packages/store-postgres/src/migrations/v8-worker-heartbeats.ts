/**
 * Worker liveness by heartbeat (DESIGN §3, one holder). A worker's dedicated connection still
 * holds its advisory lock (one live process per worker id), and now also renews
 * `alive_until_ms` by the store's clock. A session whose owner's liveness has lapsed is
 * claimable before its lease expires; the worker stopped its side effects before that moment,
 * by construction (see worker-liveness.ts). A lost lock alone no longer frees anything: a live
 * worker whose connection dropped still runs its tools until it notices.
 *
 * The process identity (host, pid, start ticks) lets another worker on the same host see that
 * the process is gone after a kill -9 and end its liveness at once, without waiting for it to
 * lapse.
 */
export function workerHeartbeats(s: string): string {
  return `
ALTER TABLE ${s}.workers
  ADD COLUMN alive_until_ms bigint NOT NULL DEFAULT 0,
  ADD COLUMN host_id text,
  ADD COLUMN pid integer,
  ADD COLUMN started_ticks text;
CREATE INDEX workers_by_host ON ${s}.workers (host_id, alive_until_ms);
`;
}
