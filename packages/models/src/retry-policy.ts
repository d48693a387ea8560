import {
  LongrunError,
  isLongrunError,
  type ModelClient,
  type ModelRequest,
  type ModelResponse,
} from '@longrun/core';

export interface RetryOptions {
  /** Attempts in all, the first included. Default 5. */
  maxAttempts?: number;
  /** Backoff before the second attempt (before jitter), doubling after each failure. Default 500. */
  baseMs?: number;
  /** Ceiling of the exponential backoff (before jitter). Default 30 000. */
  capMs?: number;
  /**
   * The longest `Retry-After` worth waiting for inside one call. A provider asking for more gets
   * no further attempt here: the error is thrown with its `details.retryAfterMs`, so the harness
   * can wait durably (a timer, holding no worker) instead of sleeping with a lease. Default 60 000.
   */
  maxRetryAfterMs?: number;
  /** Uniform in [0, 1); injected for deterministic tests. Default Math.random. */
  random?: () => number;
  /** Waits `ms`; rejects with the signal's reason when it aborts. Injected in tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * Called once per attempt when it ends: `error` is null for the attempt that succeeded;
   * `delayMs` is the wait before the next attempt, or null when there is none. Awaited before
   * anything else happens, so the harness can record the attempt (and mark its partial output
   * superseded) durably before the next one starts.
   */
  onAttempt?: (attempt: number, error: LongrunError | null, delayMs: number | null) => unknown;
  /** Text deltas, tagged with the attempt (1-based) they belong to. */
  onTextDelta?: (attempt: number, text: string) => void;
}

const defaults = {
  maxAttempts: 5,
  baseMs: 500,
  capMs: 30_000,
  maxRetryAfterMs: 60_000,
};

/**
 * The one owner of model retries: calls `client.stream` until it succeeds, fails for good, or
 * runs out of attempts. Backoff is exponential with full jitter (a uniform wait in
 * [0, min(cap, base·2^(n-1)))), so many sessions hit by the same outage do not retry in step; a
 * provider's `retryAfterMs` is a floor — never sooner than it asked. Throws the last error.
 */
export async function callWithRetries(
  client: ModelClient,
  request: ModelRequest,
  options: RetryOptions = {},
): Promise<ModelResponse> {
  const maxAttempts = Math.max(1, options.maxAttempts ?? defaults.maxAttempts);
  const sleep = options.sleep ?? abortableSleep;
  const random = options.random ?? Math.random;
  const signal = request.signal;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    let error: LongrunError;
    try {
      const response = await client.stream(request, (text) => options.onTextDelta?.(attempt, text));
      await options.onAttempt?.(attempt, null, null);
      return response;
    } catch (thrown) {
      // The caller aborted: its reason goes back untouched and nothing is retried.
      if (signal?.aborted === true && thrown === signal.reason) throw thrown;
      error = asLongrunError(thrown, client.id);
    }
    const delayMs = nextDelayMs(error, attempt, maxAttempts, options, random);
    await options.onAttempt?.(attempt, error, delayMs);
    if (delayMs === null) throw error;
    await sleep(delayMs, signal);
  }
}

/** The wait before attempt `attempt + 1`, or null when there should be none. */
function nextDelayMs(
  error: LongrunError,
  attempt: number,
  maxAttempts: number,
  options: RetryOptions,
  random: () => number,
): number | null {
  if (!error.retryable || attempt >= maxAttempts) return null;
  const baseMs = options.baseMs ?? defaults.baseMs;
  const capMs = options.capMs ?? defaults.capMs;
  const ceilingMs = Math.min(capMs, baseMs * 2 ** (attempt - 1));
  const jitteredMs = Math.floor(random() * ceilingMs);
  const retryAfterMs = error.details?.retryAfterMs;
  if (typeof retryAfterMs !== 'number') return jitteredMs;
  if (retryAfterMs > (options.maxRetryAfterMs ?? defaults.maxRetryAfterMs)) return null;
  return Math.max(jitteredMs, retryAfterMs);
}

/** A client that throws something else has broken the port's contract: never retry a bug. */
function asLongrunError(thrown: unknown, clientId: string): LongrunError {
  if (isLongrunError(thrown)) return thrown;
  const detail = thrown instanceof Error ? thrown.message : String(thrown);
  return new LongrunError(
    'INTERNAL',
    `model client ${clientId} threw a non-LongrunError: ${detail}`,
    {
      cause: thrown,
    },
  );
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
