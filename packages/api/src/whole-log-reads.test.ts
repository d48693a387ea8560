import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionStore } from '@longrun/core';
import { generateApiKey } from './api-keys.ts';
import { createApi, type Api } from './create-api.ts';
import { call, sqliteStore } from './test-support.ts';
import { WholeLogReads } from './whole-log-reads.ts';

describe('turns for whole-log reads', () => {
  it('runs at most `concurrent` at once, the rest in order, and refuses past the queue', async () => {
    const reads = new WholeLogReads({ concurrent: 2, queued: 2 });
    const order: string[] = [];
    let running = 0;
    let most = 0;
    const read = (name: string) =>
      reads.run(async () => {
        running++;
        most = Math.max(most, running);
        order.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, 20));
        running--;
      });
    const all = ['a', 'b', 'c', 'd', 'e'].map((name) =>
      read(name).then(
        () => 'ok',
        (error: Error & { code?: string }) => error.code,
      ),
    );
    expect(await Promise.all(all)).toEqual(['ok', 'ok', 'ok', 'ok', 'SERVER_BUSY']);
    expect(most).toBe(2);
    expect(order).toEqual(['start a', 'start b', 'start c', 'start d']);
    // A released turn is given back: a later read runs at once.
    await read('f');
    expect(order.at(-1)).toBe('start f');
  });
});

/**
 * A session's tree reads its whole log: on a slow store, requests past the turns and the queue
 * are refused with 503 at once instead of all reading together.
 */
describe('GET /v1/sessions/{id}/tree under many requests at once', () => {
  let store: SessionStore;
  let drop: () => Promise<void>;
  let api: Api;
  let key: string;
  beforeAll(async () => {
    ({ store, drop } = await sqliteStore());
    const slow = new Proxy(store, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (property === 'readEvents')
          return async (...args: Parameters<SessionStore['readEvents']>) => {
            await new Promise((r) => setTimeout(r, 50));
            return target.readEvents(...args);
          };
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
    api = createApi({ store: slow, auth: 'keys', wholeLogReads: { concurrent: 1, queued: 2 } });
    key = (await generateApiKey(store.apiKeys, 'acme', 'tree', 'viewer')).key;
  });
  afterAll(async () => {
    api.close();
    await drop();
  });

  it('answers those within the turns and the queue, and 503 SERVER_BUSY to the rest', async () => {
    const session = await store.createSession({ tenantId: 'acme', agent: 'lead', input: null });
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        call<{ error?: { code: string } }>(api, 'GET', `/v1/sessions/${session.id}/tree`, { key }),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([200, 200, 200, 503, 503]);
    const busy = answers.find((a) => a.status === 503);
    expect(busy?.body.error?.code).toBe('SERVER_BUSY');
    expect(busy?.headers.get('retry-after')).toBe('1');
  });
});
