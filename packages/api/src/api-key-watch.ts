import type { ApiKeyStore } from '@longrun/core';

/**
 * Whether API keys are still good (exist, not revoked), for requests that outlive their
 * authentication: an event stream stays open for hours, and a key revoked meanwhile must stop
 * it. One lookup per key per `checkMs` however many streams use the key (a monotonic clock:
 * this only paces lookups), and at once for a key revoked through this server. A failed lookup
 * is not remembered: it rejects for its callers.
 */
export class ApiKeyWatch {
  readonly #keys: ApiKeyStore;
  readonly #checkMs: number;
  readonly #checked = new Map<string, { atMs: number; good: Promise<boolean> }>();

  constructor(keys: ApiKeyStore, checkMs: number) {
    this.#keys = keys;
    this.#checkMs = checkMs;
  }

  /** True while the key exists and is not revoked; at most `checkMs` stale. */
  good(keyId: string): Promise<boolean> {
    const nowMs = performance.now();
    const seen = this.#checked.get(keyId);
    if (seen !== undefined && nowMs - seen.atMs < this.#checkMs) return seen.good;
    if (this.#checked.size >= 10_000) this.#forgetOlderThan(nowMs - this.#checkMs);
    const good = this.#keys.find(keyId).then((record) => record?.revokedAtMs === null);
    good.catch(() => this.#checked.delete(keyId));
    this.#checked.set(keyId, { atMs: nowMs, good });
    return good;
  }

  /** The key was revoked here: no stream waits for the next lookup to learn it. */
  revoked(keyId: string): void {
    this.#checked.set(keyId, { atMs: performance.now(), good: Promise.resolve(false) });
  }

  #forgetOlderThan(atMs: number): void {
    for (const [keyId, seen] of this.#checked) if (seen.atMs < atMs) this.#checked.delete(keyId);
  }
}
