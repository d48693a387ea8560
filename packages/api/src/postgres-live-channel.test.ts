import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { event, type SessionStore } from '@longrun/core';
import { PostgresStore } from '@longrun/store-postgres';
import { generateApiKey } from './api-keys.ts';
import { createApi, type Api } from './create-api.ts';
import { InProcessLiveDeltas, type LiveDelta } from './live-deltas.ts';
import { PostgresLiveListener, PostgresLivePublisher } from './postgres-live-channel.ts';
import { LogWriter, eventually, parseFrames, readStream } from './test-support.ts';
import { describeOnPostgres, dropSchema, pgUrl } from './test-stores.ts';

/**
 * Across processes on Postgres: a publisher (a worker's hooks, on its own connection) and an API
 * listening on another. With the log poll set to a minute, only the channel can deliver.
 */
describeOnPostgres('the Postgres live channel', () => {
  const schema = `live_${randomBytes(5).toString('hex')}`;
  const storeUrl = `${pgUrl}?schema=${schema}`;
  const live = new InProcessLiveDeltas();
  let store: SessionStore;
  let api: Api;
  let key: string;
  let publisher: PostgresLivePublisher;
  let listener: PostgresLiveListener;

  beforeAll(async () => {
    store = await PostgresStore.open({ url: pgUrl, schema });
    api = createApi({ store, auth: 'keys', live, pollMs: 60_000 });
    listener = await PostgresLiveListener.open({
      storeUrl,
      live,
      appended: (id) => api.appended(id),
    });
    publisher = new PostgresLivePublisher({ storeUrl });
    key = (await generateApiKey(store.apiKeys, 'acme', 'live')).key;
  });
  afterAll(async () => {
    api.close();
    await publisher.close();
    await listener.close();
    await store.close();
    await dropSchema(schema);
  });

  it('carries deltas with their offsets, and wakes readers on commits, across connections', async () => {
    const hooks = publisher.hooks();
    const session = await store.createSession({ tenantId: 'acme', agent: 'a', input: 't' });
    const log = await LogWriter.claim(store, session.id);
    // Published before any reader: a reader that comes later gets the text so far.
    hooks.onTextDelta(session.id, 1, 1, 'Hello, ');
    await eventually(() => (live.attemptsInProgress === 1 ? true : undefined));
    const response = await api.fetch(
      new Request(`http://127.0.0.1/v1/sessions/${session.id}/stream`, {
        headers: { authorization: `Bearer ${key}` },
      }),
    );
    const reading = readStream(response, (t) => t.includes('id: 3\n'), 10_000);
    await eventually(() => (api.stats().subscribers === 1 ? true : undefined));
    hooks.onTextDelta(session.id, 1, 1, 'wor');
    hooks.onTextDelta(session.id, 1, 1, 'ld');
    await log.append([event('model.streamed', { step: 1, attempt: 1, text: 'Hello, world' })]);
    await log.append([
      event('model.responded', {
        step: 1,
        text: 'Hello, world',
        toolCalls: [],
        usage: { inputTokens: 1, outputTokens: 2 },
      }),
    ]);
    hooks.onAppended(await store.readEvents(session.id, 1, 10));
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
