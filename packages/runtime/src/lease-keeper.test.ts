import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { LongrunError, ManualClock, workerId, type SessionStore } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { LeaseKeeper } from './lease-keeper.ts';
import { tempDir } from './testing.ts';

/** A real store whose renewals start failing on demand, as a partitioned database would. */
function withFailingRenewals(
  store: SessionStore,
  failure: () => LongrunError | null,
): SessionStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'renewLease') {
        return async (...args: Parameters<SessionStore['renewLease']>) => {
          const error = failure();
          if (error) throw error;
          return target.renewLease(...args);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value;
    },
  });
}

async function claimed(clock?: ManualClock, leaseMs = 300) {
  const store = await SqliteStore.open({
    path: join(tempDir('keeper'), 'db.sqlite'),
    ...(clock ? { clock } : {}),
  });
  const s = await store.createSession({ agent: 'a', input: null });
  const lease = await store.claim(s.id, workerId('keeper'), leaseMs);
  if (lease === null) throw new Error('claim failed');
  return { store, lease };
}

describe('the lease keeper', () => {
  it('renews every third of the TTL while the store answers', async () => {
    const { store, lease } = await claimed();
    const keeper = new LeaseKeeper({ store, lease, leaseMs: 300 });
    keeper.start();
    await new Promise((r) => setTimeout(r, 450));
    expect(keeper.signal.aborted).toBe(false);
    expect(keeper.lease.expiresAtMs).toBeGreaterThan(lease.expiresAtMs);
    await keeper.stop();
    await store.close();
  });

  it('fences itself at once when the epoch moved on', async () => {
    const clock = new ManualClock(Date.now());
    const { store, lease } = await claimed(clock);
    clock.advance(300);
    await store.claim(lease.sessionId, workerId('thief'), 60_000);
    const lost: string[] = [];
    const keeper = new LeaseKeeper({ store, lease, leaseMs: 300, onLost: (why) => lost.push(why) });
    keeper.start();
    await new Promise((r) => setTimeout(r, 200));
    expect(keeper.signal.aborted).toBe(true);
    expect(lost[0]).toMatch(/^lease lost: .*stale/);
    await keeper.stop();
    await store.close();
  });

  it('fences itself when renewals keep failing for two thirds of the TTL', async () => {
    const { store, lease } = await claimed(undefined, 600);
    let failing = false;
    const flaky = withFailingRenewals(store, () =>
      failing ? new LongrunError('STORE_UNAVAILABLE', 'connection refused') : null,
    );
    const lost: string[] = [];
    const keeper = new LeaseKeeper({
      store: flaky,
      lease,
      leaseMs: 300,
      onLost: (why) => lost.push(why),
    });
    keeper.start();
    await new Promise((r) => setTimeout(r, 250));
    failing = true;
    const failedAt = Date.now();
    for (let i = 0; i < 100 && !keeper.signal.aborted; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(keeper.signal.aborted).toBe(true);
    expect(Date.now() - failedAt).toBeLessThan(300); // before the lease could expire and be taken
    expect(lost[0]).toMatch(/not renewed for \d+ ms: connection refused/);
    await keeper.stop();
    await store.close();
  });
});
