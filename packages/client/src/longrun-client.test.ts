import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { isLongrunError, type SessionStore, type StoredEvent } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { createApi, serveApi, type ServedApi } from '@longrun/api';
import { scriptedModel } from '@longrun/models/testing';
import { Worker, defineAgent, defineTool } from '@longrun/runtime';
import { SessionEndedError, longrunClient, type LongrunClient } from './index.ts';

const deploy = defineTool({
  name: 'deploy',
  description: 'deploys a service',
  input: z.object({ service: z.string() }),
  effect: 'keyed',
  needsApproval: true,
  run: async ({ service }) => `deployed ${service}`,
});

/** Asks to deploy on the task; answers a follow-up message in words; reports what it deployed. */
const deployer = defineAgent({
  name: 'deployer',
  model: scriptedModel((request) => {
    const last = request.messages.at(-1);
    if (last?.role === 'user') {
      const text = JSON.stringify(last.content);
      return text.includes('thanks')
        ? { text: 'You are welcome.' }
        : { toolCalls: [{ name: 'deploy', args: { service: 'api' } }] };
    }
    return { text: 'Deployed api.' };
  }),
  instructions: 'Deploy what you are asked to.',
  tools: [deploy],
  workspaceRoot: mkdtempSync(join(tmpdir(), 'longrun-client-ws-')),
});

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
}

async function collect(events: AsyncIterable<StoredEvent>): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

let store: SessionStore;
let worker: Worker;
let served: ServedApi;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'longrun-client-'));
  store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
  worker = new Worker({ store, agents: [deployer], pollMs: 10 });
  await worker.start();
  const api = createApi({ store, auth: 'none', onSessionCreated: () => worker.wake() });
  served = await serveApi(api, { host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await served?.close();
  await worker?.stop();
  await store?.close();
});

/** The same test body for both clients: over the store, and over HTTP on loopback. */
const clients: [string, () => LongrunClient][] = [
  ['a store', () => longrunClient({ store, pollMs: 10 })],
  ['a longrun server over HTTP', () => longrunClient({ url: served.url })],
];

describe.each(clients)('the client, against %s', (_name, makeClient) => {
  it('starts a session, follows its events, approves, and gets its result', async () => {
    const client = makeClient();
    const key = `key-${Math.random()}`;
    const handle = await client.start('deployer', 'deploy api', { idempotencyKey: key });
    const again = await client.start('deployer', 'deploy api', { idempotencyKey: key });
    expect(again.id).toBe(handle.id);

    // Follow until the approval is asked for, then approve the one pending approval.
    const seen: StoredEvent[] = [];
    for await (const e of handle.events({ untilEnd: false })) {
      seen.push(e);
      if (e.type === 'approval.requested') break;
    }
    expect(seen.map((e) => e.seq)).toEqual(seen.map((_, i) => i + 1));
    expect((await handle.describe()).status).toMatch(/running|waiting/);
    await handle.approve({ reason: 'go', scope: 'arguments' });
    expect(await handle.result()).toBe('Deployed api.');

    // The whole log, resumed after a seq, ends at the session's end.
    const rest = await collect(handle.events({ after: 2 }));
    expect(rest[0]?.seq).toBe(3);
    expect(rest.at(-1)?.type).toBe('session.completed');
    expect(rest.map((e) => e.seq)).toEqual(rest.map((_, i) => i + 3));
    expect(rest.find((e) => e.type === 'approval.granted')?.data).toMatchObject({
      reason: 'go',
      scope: 'arguments',
    });

    // A follow-up message reopens it; result() gives the latest output.
    await handle.sendMessage('thanks');
    await expect
      .poll(async () => (await handle.describe()).headSeq)
      .toBeGreaterThan(rest.at(-1)!.seq);
    expect(await handle.result()).toBe('You are welcome.');
    const got = await client.get(handle.id);
    expect(await got.describe()).toMatchObject({
      id: handle.id,
      status: 'completed',
      agent: 'deployer',
    });
  });

  it('rejects result() with SessionEndedError when the session is cancelled', async () => {
    const client = makeClient();
    const handle = await client.start('deployer', { task: 'deploy api', input: { env: 'prod' } });
    for await (const e of handle.events({ untilEnd: false }))
      if (e.type === 'approval.requested') break;
    await handle.cancel({ reason: 'not today' });
    const error = await errorOf(handle.result());
    expect(error).toBeInstanceOf(SessionEndedError);
    expect(error).toMatchObject({
      status: 'cancelled',
      sessionId: handle.id,
      code: 'INVALID_STATE',
    });
    expect((error as Error).message).toMatch(/cancelled by .*: not today/);
    const [created] = await collect(handle.events({ untilEnd: true }));
    expect(created?.data).toMatchObject({ input: { task: 'deploy api', input: { env: 'prod' } } });
  });

  it('starts a session with a budget; raising it resumes the session paused for it', async () => {
    const client = makeClient();
    const handle = await client.start('deployer', 'deploy api', { budget: { steps: 1 } });
    for await (const e of handle.events({ untilEnd: false }))
      if (e.type === 'approval.requested') break;
    await handle.approve();
    await expect
      .poll(async () => (await handle.describe()).status, { timeout: 10_000 })
      .toBe('paused');
    expect((await handle.describe()).statusReason).toMatch(
      /^BUDGET_EXCEEDED: the steps budget of 1/,
    );
    await handle.changeBudget({ steps: 5 }, { reason: 'one more step' });
    expect(await handle.result()).toBe('Deployed api.');
    const set = (await collect(handle.events({ untilEnd: true }))).filter(
      (e) => e.type === 'budget.set',
    );
    expect(set.at(-1)?.data).toMatchObject({ budget: { steps: 5 }, reason: 'one more step' });
  });

  it("delivers signals of its own, refuses the runtime's names, and answers typed errors", async () => {
    const client = makeClient();
    const handle = await client.start('deployer', 'deploy api');
    await handle.signal('build.finished', { ok: true });
    expect((await store.pendingSignals(handle.id, 'build.finished'))[0]?.payload).toEqual({
      ok: true,
    });
    expect(isLongrunError(await errorOf(handle.signal('cancel')), 'INVALID_ARGUMENT')).toBe(true);
    expect(
      isLongrunError(await errorOf(handle.approve({ approvalId: 'apr_none' })), 'NOT_FOUND'),
    ).toBe(true);
    expect(isLongrunError(await errorOf(client.get('ses_nothere')), 'NOT_FOUND')).toBe(true);
    await handle.cancel();
    await expect(handle.result()).rejects.toBeInstanceOf(SessionEndedError);
    expect(isLongrunError(await errorOf(handle.cancel()), 'INVALID_STATE')).toBe(true);
  });
});

describe('the HTTP client', () => {
  it("refuses a tenant other than its API key's, saying why, and creates nothing", async () => {
    const client = longrunClient({ url: served.url });
    const before = (await store.listSessions({ tenantId: 'default' })).length;
    const error = await errorOf(client.start('deployer', 'x', { tenant: 'acme' }));
    expect(isLongrunError(error, 'INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toMatch(/tenant is the API key's \(default\)/);
    expect((error as Error).message).toMatch(/nothing was created/);
    expect(await store.listSessions({ tenantId: 'default' })).toHaveLength(before);
    // Its own tenant, named, is accepted.
    const handle = await client.start('deployer', 'x', { tenant: 'default' });
    expect((await handle.describe()).tenantId).toBe('default');
    await handle.cancel();
  });

  it('picks the stream up after the last seq seen (Last-Event-ID): no gap, no repeat', async () => {
    const client = longrunClient({ url: served.url, maxReconnects: 3 });
    const handle = await client.start('deployer', 'deploy api');
    const abort = new AbortController();
    const seen: number[] = [];
    for await (const e of handle.events({ untilEnd: false, signal: abort.signal })) {
      seen.push(e.seq);
      if (e.type === 'approval.requested') abort.abort();
    }
    // A new iteration from the last seq seen: exactly the events after it.
    await handle.approve();
    const rest = await collect(handle.events({ after: seen.at(-1)! }));
    expect(rest[0]?.seq).toBe(seen.at(-1)! + 1);
    expect([...seen, ...rest.map((e) => e.seq)]).toEqual(
      [...seen, ...rest.map((e) => e.seq)].map((_, i) => i + 1),
    );
  });
});

describe.each(clients)('schedules through the client, against %s', (_name, makeClient) => {
  it('creates, lists, pauses, resumes and deletes a schedule; a bad cron says what is wrong', async () => {
    const client = makeClient();
    // Once a year: it never fires while the test runs.
    const made = await client.schedules.create('deployer', 'deploy api', {
      cron: '0 0 1 1 *',
      timezone: 'Europe/Paris',
      catchUp: 'once',
    });
    expect(made).toMatchObject({
      agent: 'deployer',
      cron: '0 0 1 1 *',
      catchUp: 'once',
      overlap: 'skip',
      paused: false,
      input: { task: 'deploy api' },
    });
    expect((await client.schedules.list()).schedules.map((s) => s.id)).toContain(made.id);
    expect((await client.schedules.pause(made.id)).paused).toBe(true);
    expect((await client.schedules.resume(made.id)).paused).toBe(false);
    expect((await client.schedules.get(made.id)).id).toBe(made.id);
    await client.schedules.delete(made.id);
    expect(isLongrunError(await errorOf(client.schedules.get(made.id)), 'NOT_FOUND')).toBe(true);
    const bad = await errorOf(client.schedules.create('deployer', 'x', { cron: '* * * *' }));
    expect(isLongrunError(bad, 'INVALID_ARGUMENT')).toBe(true);
    expect((bad as Error).message).toMatch(/cron/);
  });
});
