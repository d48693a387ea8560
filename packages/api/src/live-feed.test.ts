import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { event } from '@longrun/core';
import { LivePublisher } from '@longrun/runtime';
import { PostgresStore } from '@longrun/store-postgres';
import { generateApiKey } from './api-keys.ts';
import { createApi, type Api } from './create-api.ts';
import { InProcessLiveDeltas, type LiveDelta } from './live-deltas.ts';
import { feedApiFromLiveChannel } from './live-feed.ts';
import { LogWriter, eventually, parseFrames, readStream } from './test-support.ts';
import { describeOnPostgres, dropSchema, pgUrl } from './test-stores.ts';

/**
 * Across processes on Postgres: a worker's publisher on one store's live channel (its own
 * connections) and an API fed from another store's. With the log poll set to a minute, only the
 * channel can deliver.
 */
describeOnPostgres('the API fed by the Postgres live channel', () => {
  const schema = `live_${randomBytes(5).toString('hex')}`;
  const live = new InProcessLiveDeltas();
  let store: PostgresStore;
  let workerStore: PostgresStore;
  let api: Api;
  let key: string;
  let publisher: LivePublisher;

  beforeAll(async () => {
    store = await PostgresStore.open({ url: pgUrl, schema });
    workerStore = await PostgresStore.open({ url: pgUrl, schema });
    api = createApi({ store, auth: 'keys', live, pollMs: 60_000 });
    await feedApiFromLiveChannel(store.liveChannel(), {
      live,
      appended: (id) => api.appended(id),
    });
    publisher = new LivePublisher(workerStore.liveChannel());
    key = (await generateApiKey(store.apiKeys, 'acme', 'live', 'admin')).key;
  });
  afterAll(async () => {
    api.close();
    publisher.flush();
    await workerStore.close();
    await store.close();
    await dropSchema(schema);
  });

  it('carries deltas with their offsets, and wakes readers on commits, across connections', async () => {
    const session = await store.createSession({ tenantId: 'acme', agent: 'a', input: 't' });
    const log = await LogWriter.claim(store, session.id);
    // Published before any reader: a reader that comes later gets the text so far.
    publisher.textDelta(session.id, 1, 1, 'Hello, ');
    await eventually(() => (live.attemptsInProgress === 1 ? true : undefined));
    const response = await api.fetch(
      new Request(`http://127.0.0.1/v1/sessions/${session.id}/stream`, {
        headers: { authorization: `Bearer ${key}` },
      }),
    );
    const reading = readStream(response, (t) => t.includes('id: 3\n'), 10_000);
    await eventually(() => (api.stats().subscribers === 1 ? true : undefined));
    publisher.textDelta(session.id, 1, 1, 'wor');
    publisher.textDelta(session.id, 1, 1, 'ld');
    await log.append([event('model.streamed', { step: 1, attempt: 1, text: 'Hello, world' })]);
    await log.append([
      event('model.responded', {
        step: 1,
        text: 'Hello, world',
        toolCalls: [],
        usage: { inputTokens: 1, outputTokens: 2 },
      }),
    ]);
    publisher.appended(await store.readEvents(session.id, 1, 10));
    const frames = parseFrames(await reading);
    const deltas = frames
      .filter((f) => f.event === 'model.delta')
      .map((f) => JSON.parse(f.data ?? '') as LiveDelta);
    expect(deltas).toEqual([
      { step: 1, attempt: 1, offset: 0, text: 'Hello, ' },
      { step: 1, attempt: 1, offset: 7, text: 'world' },
    ]);
    expect(frames.filter((f) => f.id !== undefined).map((f) => f.id)).toEqual(['1', '2', '3']);
    // The attempt ended in the log: the listener forgot its text.
    await eventually(() => (live.attemptsInProgress === 0 ? true : undefined));
  });
});
