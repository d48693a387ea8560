import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { z } from 'zod';
import {
  fold,
  idempotencyKeyFor,
  isLongrunError,
  startedKeyOf,
  type StoredEvent,
} from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel } from '@longrun/models/testing';
import { MemoryLedger, allEvents, runUntil, tempDir } from './testing.ts';
import { defineAgent, defineTool } from './agent/define-agent.ts';
import { writeFileTool } from './tools/file-tools.ts';
import { forkSession } from './session-fork.ts';
import { Worker } from './worker.ts';
import { sendMessage } from './agent/session-commands.ts';

const add = defineTool({
  name: 'add',
  description: 'adds',
  input: z.object({ a: z.number(), b: z.number() }),
  effect: 'pure',
  run: async ({ a, b }) => a + b,
});

const plain = (events: StoredEvent[]) => events.map(({ type, data }) => ({ type, data }));

describe('forking a session', () => {
  it('copies the log up to a seq — same state and workspace manifest, no file copied — then goes its own way', async () => {
    const dir = tempDir('fork');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const agent = defineAgent({
      name: 'forky',
      model: scriptedModel((request) => {
        const step = request.messages.filter((m) => m.role === 'assistant').length + 1;
        if (step === 1)
          return { toolCalls: [{ name: 'write_file', args: { path: 'a.txt', content: 'A' } }] };
        if (step === 2) return { toolCalls: [{ name: 'add', args: { a: 1, b: 2 } }] };
        return { text: `finished after ${step - 1} tool turns` };
      }),
      instructions: 'x',
      tools: [writeFileTool, add],
      workspaceRoot: join(dir, 'ws'),
    });
    const source = await store.createSession({ agent: 'forky', input: 'go', tenantId: 't1' });
    await runUntil({ store, agents: [agent] }, source.id);
    const events = await allEvents(store, source.id);
    const snapshot = events.find((e) => e.type === 'workspace.snapshotted')!;
    const atSeq = snapshot.seq;
    const blobCount = () =>
      (
        new DatabaseSync(join(dir, 'db.sqlite'))
          .prepare('SELECT count(*) AS n FROM blobs')
          .get() as { n: number }
      ).n;
    const blobsBefore = blobCount();
    expect(blobsBefore).toBeGreaterThan(0);

    const fork = await forkSession(store, source.id, { atSeq });
    expect(fork).toMatchObject({
      tenantId: 't1',
      agent: 'forky',
      status: 'queued',
      headSeq: atSeq,
    });
    const copied = await allEvents(store, fork.id);
    expect(copied[0]).toMatchObject({
      type: 'session.created',
      data: { agent: 'forky', input: 'go', forkedFrom: { sessionId: source.id, seq: atSeq } },
    });
    // The same events, a call's derived idempotency key written out (the source's, not the fork's).
    const keyed = (e: StoredEvent): StoredEvent =>
      e.type === 'tool.started'
        ? { ...e, data: { ...e.data, idempotencyKey: startedKeyOf(e) } }
        : e;
    expect(plain(copied.slice(1))).toEqual(plain(events.slice(1, atSeq).map(keyed)));
    // The fork's own creation time (its wall clock budget counts from it) is the one difference.
    const { createdAtMs: _a, ...forkState } = fold(copied);
    const { createdAtMs: _b, ...sourceState } = fold(events.slice(0, atSeq));
    expect(forkState).toEqual(sourceState);
    expect(fold(copied).workspace?.manifestHash).toBe(
      (snapshot.data as { manifestHash: string }).manifestHash,
    );

    // The fork continues from there on its own, on a workspace restored from the same manifest.
    await runUntil(
      { store, agents: [{ ...agent, workspaceRoot: join(dir, 'other-root') }] },
      fork.id,
    );
    const after = await allEvents(store, fork.id);
    expect(after.at(-1)?.type).toBe('session.completed');
    expect(plain(after.slice(atSeq)).map((e) => e.type)).toEqual(
      plain(events.slice(atSeq)).map((e) => e.type),
    );
    expect((await store.getSession(source.id)).headSeq).toBe(events.length);
    expect(blobCount(), 'forking and restoring the fork wrote no blob').toBe(blobsBefore);
    expect(readFileSync(join(dir, 'other-root', fork.id, 'a.txt'), 'utf8')).toBe('A');

    // A finished source forks to a finished session.
    const whole = await forkSession(store, source.id);
    expect(whole.status).toBe('completed');

    for (const bad of [0, events.length + 1, 1.5]) {
      const error: unknown = await forkSession(store, source.id, { atSeq: bad }).catch(
        (e: unknown) => e,
      );
      expect(isLongrunError(error, 'INVALID_ARGUMENT')).toBe(true);
    }
    await store.close();
  });

  it('forks between workspace edits: the fork restores the stored manifest with the edits up to its seq', async () => {
    const dir = tempDir('fork-edits');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const write = (path: string, content: string) => ({
      toolCalls: [{ name: 'write_file', args: { path, content } }],
    });
    const agent = defineAgent({
      name: 'editor',
      model: scriptedModel((request) => {
        const step = request.messages.filter((m) => m.role === 'assistant').length + 1;
        if (step === 1) return write('a.txt', 'A');
        if (step === 2) return write('a.txt', 'AB');
        if (step === 3) return write('b.txt', 'from step 3');
        return { text: 'done' };
      }),
      instructions: 'x',
      tools: [writeFileTool],
      workspaceRoot: join(dir, 'ws'),
    });
    const source = await store.createSession({ agent: 'editor', input: 'go' });
    await runUntil({ store, agents: [agent] }, source.id);
    const events = await allEvents(store, source.id);
    // Step 1 stored a manifest; steps 2 and 3 are edits in their results.
    const edited = events.filter((e) => e.type === 'tool.completed' && e.data.workspaceEdits);
    expect(edited.map((e) => e.type === 'tool.completed' && e.data.workspaceEdits)).toEqual([
      [{ path: 'a.txt', at: 1, text: 'B' }],
      [{ path: 'b.txt', at: 0, text: 'from step 3' }],
    ]);
    const atSeq = edited[0]!.seq;
    const fork = await forkSession(store, source.id, { atSeq });
    expect(fold(await allEvents(store, fork.id)).workspace).toMatchObject({
      step: 2,
      edits: [{ path: 'a.txt', at: 1, text: 'B' }],
    });
    await runUntil(
      { store, agents: [{ ...agent, workspaceRoot: join(dir, 'fork-root') }] },
      fork.id,
    );
    expect(readFileSync(join(dir, 'fork-root', fork.id, 'a.txt'), 'utf8')).toBe('AB');
    expect(readFileSync(join(dir, 'fork-root', fork.id, 'b.txt'), 'utf8')).toBe('from step 3');
    await store.close();
  });

  it('never repeats a side effect of its source: a keyed call in flight at the fork point keeps its key', async () => {
    const dir = tempDir('fork-keyed');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const ledger = new MemoryLedger();
    const pay = defineTool({
      name: 'pay',
      description: 'applies a payment to an external ledger, once per idempotency key',
      input: z.object({ amount: z.number() }),
      effect: 'keyed',
      run: async ({ amount }, context) => ledger.apply(context.idempotencyKey, `pay ${amount}`),
    });
    const agent = defineAgent({
      name: 'payer',
      // Pays once per message from the user.
      model: scriptedModel((request) =>
        request.messages.at(-1)?.role === 'user'
          ? { toolCalls: [{ name: 'pay', args: { amount: 10 } }] }
          : { text: 'paid' },
      ),
      instructions: 'Pay.',
      tools: [pay],
      workspaceRoot: join(dir, 'ws'),
    });
    const source = await store.createSession({ agent: 'payer', input: 'pay 10' });
    await runUntil({ store, agents: [agent] }, source.id);
    const events = await allEvents(store, source.id);
    const started = events.find((e) => e.type === 'tool.started')!;
    // The source's call runs with the derived key, so its tool.started leaves it out.
    expect(started.data).not.toHaveProperty('idempotencyKey');
    const key = startedKeyOf(started);
    expect(key).toBe(idempotencyKeyFor(source.id, 1, 0));
    expect(ledger.applied()).toEqual([{ key, entry: 'pay 10' }]);

    // Forked with the call started and no result: the fork resumes it, with the source's key.
    const fork = await forkSession(store, source.id, { atSeq: started.seq });
    expect(fork.status).toBe('queued');
    expect(await store.listEffects(fork.id)).toMatchObject([
      { step: 1, callIndex: 0, tool: 'pay', idempotencyKey: key, status: 'started', attempts: 1 },
    ]);
    await runUntil({ store, agents: [agent] }, fork.id);
    const after = await allEvents(store, fork.id);
    expect(after[0]?.data).toMatchObject({
      forkedFrom: { sessionId: source.id, seq: started.seq },
    });
    expect(after.find((e) => e.type === 'tool.completed')?.data).toMatchObject({
      tool: 'pay',
      ok: true,
      output: false, // the ledger had applied this key already
      attempt: 2,
    });
    expect(after.at(-1)?.type).toBe('session.completed');
    expect(ledger.applied(), 'applied once across source and fork').toEqual([
      { key, entry: 'pay 10' },
    ]);
    expect(ledger.attempts().get(key)).toBe(2);
    expect(await store.listEffects(fork.id)).toMatchObject([
      { idempotencyKey: key, status: 'completed', attempts: 2 },
    ]);

    // Calls the fork makes after its fork point are its own, under its own keys.
    await sendMessage(store, fork.id, 'pay again');
    await runUntil({ store, agents: [agent] }, fork.id);
    const later = (await allEvents(store, fork.id)).filter((e) => e.type === 'tool.started');
    // The copied call's key is written out (derived in the fork it would name the fork); the
    // fork's own call leaves its derived key out.
    expect(later.map((e) => (e.data as { idempotencyKey?: string }).idempotencyKey)).toEqual([
      key,
      undefined,
    ]);
    expect(later.map((e) => startedKeyOf(e))).toEqual([
      key,
      expect.stringContaining(`${fork.id}:`) as string,
    ]);
    expect(ledger.applied()).toHaveLength(2);
    await store.close();
  });
});

describe('forking while workers run', () => {
  it('no worker claims a fork before its copy is done: none runs the task again from its first step', async () => {
    const dir = tempDir('fork-race');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    let calls = 0;
    const agent = defineAgent({
      name: 'counted',
      model: scriptedModel((request) => {
        const step = request.messages.filter((m) => m.role === 'assistant').length + 1;
        if (step <= 3) return { toolCalls: [{ name: 'add', args: { a: step, b: 1 } }] };
        return { text: 'done' };
      }),
      instructions: 'x',
      tools: [
        defineTool({
          name: 'add',
          description: 'adds, counted',
          input: z.object({ a: z.number(), b: z.number() }),
          effect: 'pure',
          run: async ({ a, b }) => {
            calls += 1;
            return a + b;
          },
        }),
      ],
      workspaceRoot: join(dir, 'ws'),
    });
    const source = await store.createSession({ agent: 'counted', input: 'go' });
    await runUntil({ store, agents: [agent] }, source.id);
    const sourceCalls = calls;
    const sourceLog = plain(await allEvents(store, source.id)).slice(1);
    // A worker polling every millisecond, as many as a busy fleet: it takes any claimable session.
    const workers = [1, 2, 3].map(
      () => new Worker({ store, agents: [agent], pollMs: 1, concurrency: 8 }),
    );
    for (const worker of workers) await worker.start();
    try {
      const forks = await Promise.all(
        Array.from({ length: 12 }, () => forkSession(store, source.id)),
      );
      for (const fork of forks) {
        expect(fork.status).toBe('completed');
        // The fork's log after its own session.created is the source's, event for event (its
        // tool.started events name the source's idempotency keys, written out).
        const copied = plain(await allEvents(store, fork.id))
          .slice(1)
          .map((e) => {
            if (e.type !== 'tool.started') return e;
            const { idempotencyKey, ...data } = e.data as { idempotencyKey?: string };
            expect(idempotencyKey).toMatch(new RegExp(`^${source.id}:`));
            return { ...e, data };
          });
        expect(copied).toEqual(sourceLog);
      }
      expect(calls, 'no tool ran again in a fork').toBe(sourceCalls);
    } finally {
      for (const worker of workers) await worker.stop();
      await store.close();
    }
  });
});
