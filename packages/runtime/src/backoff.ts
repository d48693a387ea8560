/** Exponential backoff with full jitter, in milliseconds, capped. */
export function backoffMs(
  attempt: number,
  baseMs = 50,
  capMs = 5_000,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.max(1, Math.floor(random() * ceiling));
}

/** Resolves after `ms`, or early (without throwing) when the signal aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
