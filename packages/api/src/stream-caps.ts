import { LongrunError } from '@longrun/core';

export interface StreamLimits {
  /**
   * Event streams open at once, server-wide. Default 1,536: three quarters of the connection
   * gate's default `maxOpen` (2,048), so streams alone cannot take every connection and API
   * calls (and health checks) still get through.
   */
  maxOpen: number;
  /** Streams one API key may hold open at once. Default 64. Not applied without keys. */
  maxPerKey: number;
  /** Streams the keys of one tenant may hold open at once. Default 256. Not applied without keys. */
  maxPerTenant: number;
}

export const defaultStreamLimits: StreamLimits = {
  maxOpen: 1_536,
  maxPerKey: 64,
  maxPerTenant: 256,
};

/** Who opens a stream: the API key and its tenant; a null key on a server without keys. */
export interface StreamHolder {
  keyId: string | null;
  tenantId: string;
}

const advice = 'close streams you no longer read, and read each session through one stream';

/**
 * Counts the open event streams, server-wide, per API key and per tenant, and refuses one over a
 * cap. Before, one viewer key could open 2,060 streams from loopback in 3 s: they held every
 * connection the server allows, and every other tenant, and the health checks, got 503.
 * A stream over its key's or tenant's cap is refused 429 TOO_MANY_STREAMS (the caller's own doing);
 * over the server-wide cap, 503 SERVER_BUSY. Both carry `Retry-After` and close their connection
 * (a caller over a cap holds too many already). A server without keys
 * serves one local user: only the server-wide cap applies there.
 */
export class StreamCaps {
  readonly #limits: StreamLimits;
  readonly #byKey = new Map<string, number>();
  readonly #byTenant = new Map<string, number>();
  #open = 0;
  #refused = 0;

  constructor(limits: Partial<StreamLimits> = {}) {
    this.#limits = { ...defaultStreamLimits, ...limits };
  }

  /** Counts a new stream of `holder`; returns its release (idempotent), or throws over a cap. */
  acquire(holder: StreamHolder): () => void {
    const refusal = this.#refusal(holder);
    if (refusal !== null) {
      this.#refused++;
      throw refusal;
    }
    this.#open++;
    const { keyId, tenantId } = holder;
    if (keyId !== null) {
      bump(this.#byKey, keyId, 1);
      bump(this.#byTenant, tenantId, 1);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#open--;
      if (keyId !== null) {
        bump(this.#byKey, keyId, -1);
        bump(this.#byTenant, tenantId, -1);
      }
    };
  }

  get figures(): { open: number; refused: number } & StreamLimits {
    return { open: this.#open, refused: this.#refused, ...this.#limits };
  }

  #refusal({ keyId, tenantId }: StreamHolder): LongrunError | null {
    const { maxOpen, maxPerKey, maxPerTenant } = this.#limits;
    if (keyId !== null && (this.#byKey.get(keyId) ?? 0) >= maxPerKey)
      return new LongrunError(
        'TOO_MANY_STREAMS',
        `this API key has ${maxPerKey} event streams open, as many as one key may; ${advice}, then try again`,
        { details: { cap: 'key', limit: maxPerKey, closeConnection: true } },
      );
    if (keyId !== null && (this.#byTenant.get(tenantId) ?? 0) >= maxPerTenant)
      return new LongrunError(
        'TOO_MANY_STREAMS',
        `the keys of tenant ${tenantId} have ${maxPerTenant} event streams open, as many as one tenant may; ${advice}, then try again`,
        { details: { cap: 'tenant', limit: maxPerTenant, closeConnection: true } },
      );
    if (this.#open >= maxOpen)
      return new LongrunError(
        'SERVER_BUSY',
        `the server has ${maxOpen} event streams open, as many as it allows; ${advice}, and try again shortly`,
        { details: { cap: 'server', limit: maxOpen, closeConnection: true } },
      );
    return null;
  }
}

function bump(counts: Map<string, number>, name: string, by: number): void {
  const next = (counts.get(name) ?? 0) + by;
  if (next <= 0) counts.delete(name);
  else counts.set(name, next);
}
