/**
 * Liveness judged by observation, not by the server's clock (DESIGN §3, one holder). `beats`
 * counts every heartbeat and registration of a worker; `liveness_ms` is the L it runs with. A
 * claimer that sees a worker's `beats` unchanged for that worker's L by its own monotonic clock
 * declares it dead (`alive_until_ms = 0`, only if `beats` is still what it saw), and only then are
 * its sessions claimable. A step of the server's clock (NTP, a VM resumed) thus frees nothing
 * early: the rule needs only that clocks run at about the same rate. A declared-dead worker's
 * heartbeat finds no row and stops the worker at once.
 */
export function observedLiveness(s: string): string {
  return `
ALTER TABLE ${s}.workers
  ADD COLUMN beats bigint NOT NULL DEFAULT 0,
  ADD COLUMN liveness_ms bigint NOT NULL DEFAULT 0;
`;
}
