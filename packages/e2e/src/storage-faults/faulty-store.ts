import { LongrunError, type SessionStore } from '@longrun/core';

/** What a faulty store does to one call. */
export type StorageFault = 'fail-before' | 'lost-ack' | 'late-commit';

export interface FaultyStoreOptions {
  /** Uniform in [0, 1): seeded, so a failing run reproduces. */
  random: () => number;
  /** Share of calls that fail, 0..1. */
  rate: number;
  /** Calls of these methods are faulted; others pass through. */
  methods: readonly (keyof SessionStore)[];
  /** How long a `late-commit` call waits before it reaches the store, milliseconds. */
  lateMs?: number;
}

export interface FaultCounts {
  calls: number;
  faults: Record<StorageFault, number>;
}

/**
 * A SessionStore whose calls fail the way storage fails in production, at a seeded rate:
 * `fail-before` (nothing reached the store), `lost-ack` (the call committed and its answer was
 * lost), `late-commit` (the answer says it failed, and the call reaches the store afterwards,
 * racing whatever the caller does next). Every fault is a retryable STORE_UNAVAILABLE, as a
 * dropped connection is. Writes other than appends only get `fail-before` and `lost-ack`.
 */
export function faultyStore(
  store: SessionStore,
  options: FaultyStoreOptions,
): { store: SessionStore; counts: FaultCounts } {
  const counts: FaultCounts = {
    calls: 0,
    faults: { 'fail-before': 0, 'lost-ack': 0, 'late-commit': 0 },
  };
  const faulted = new Set<PropertyKey>(options.methods);
  const lateMs = options.lateMs ?? 40;
  const unavailable = (fault: StorageFault, method: string) =>
    new LongrunError('STORE_UNAVAILABLE', `injected ${fault} in ${method}`, { retryable: true });
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (!faulted.has(property)) return (value as (...a: unknown[]) => unknown).bind(target);
      const method = String(property);
      return async (...args: unknown[]) => {
        counts.calls += 1;
        const call = () => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (options.random() >= options.rate) return call();
        const kinds: StorageFault[] =
          method === 'append'
            ? ['fail-before', 'lost-ack', 'late-commit']
            : ['fail-before', 'lost-ack'];
        const fault = kinds[Math.floor(options.random() * kinds.length)] as StorageFault;
        counts.faults[fault] += 1;
        if (fault === 'lost-ack') await call().catch(() => undefined);
        if (fault === 'late-commit') {
          setTimeout(() => void call().catch(() => undefined), lateMs);
        }
        throw unavailable(fault, method);
      };
    },
  });
  return { store: proxy, counts };
}
