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
  subAgentSignal,
  type StoredEvent,
} from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel, type ScriptedTurn } from '@longrun/models/testing';
import { MemoryLedger, allEvents, matching, runUntil, tempDir } from './testing.ts';
import { defineAgent, defineTool } from './agent/define-agent.ts';
import { writeFileTool } from './tools/file-tools.ts';
import { forkSession } from './session-fork.ts';
import { Worker } from './worker.ts';
import { decideApproval, pendingApprovals, sendMessage } from './agent/session-commands.ts';

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
    // The fork's own creation time (its wall clock budget counts from it) differs.
    const { createdAtMs: _a, ...forkState } = fold(copied);
    const { createdAtMs: _b, ...sourceState } = fold(events.slice(0, atSeq));
    // The same state, but that it knows it is a fork (so it inherits no person's decisions).
    expect(forkState).toEqual({ ...sourceState, forkedAtSeq: atSeq });
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

describe('a fork and what a person decided in its source', () => {
  const deployed: string[] = [];
  const deploy = defineTool({
    name: 'deploy',
    description: 'deploys a service',
    input: z.object({ service: z.string() }),
    effect: 'keyed',
    needsApproval: true,
    run: async ({ service }) => {
      deployed.push(service);
      return `deployed ${service}`;
    },
  });
  const deployer = (dir: string, turns: ScriptedTurn[]) =>
    defineAgent({
      name: 'deployer',
      model: scriptedModel(turns),
      instructions: 'Deploy.',
      tools: [deploy],
      workspaceSnapshots: false,
      workspaceRoot: join(dir, 'ws'),
    });
  const deployCall = (service: string): ScriptedTurn => ({
    toolCalls: [{ name: 'deploy', args: { service } }],
  });

  it('one approval runs its call once: a fork taken after the grant, before the call, asks again', async () => {
    deployed.length = 0;
    const dir = tempDir('fork-approval');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const source = await store.createSession({ agent: 'deployer', input: 'deploy prod' });
    const sourceAgent = deployer(dir, [deployCall('prod'), { text: 'Done.' }]);
    await runUntil({ store, agents: [sourceAgent] }, source.id, ['waiting']);
    const [asked] = pendingApprovals(await allEvents(store, source.id));
    await decideApproval(store, source.id, {
      approvalId: asked!.approvalId,
      decision: 'granted',
      by: 'alice',
      reason: null,
    });
    await runUntil({ store, agents: [sourceAgent] }, source.id);
    expect(deployed).toEqual(['prod']);
    const granted = (await allEvents(store, source.id)).find((e) => e.type === 'approval.granted')!;

    // Three forks at the grant, as the probe made them: none deploys on the source's approval.
    for (let i = 0; i < 3; i++) {
      const fork = await forkSession(store, source.id, { atSeq: granted.seq });
      await runUntil({ store, agents: [deployer(dir, [{ text: 'Done.' }])] }, fork.id, ['waiting']);
      const events = await allEvents(store, fork.id);
      const pending = pendingApprovals(events);
      expect(pending).toEqual([
        expect.objectContaining({ tool: 'deploy', args: { service: 'prod' } }),
      ]);
      expect(pending[0]?.approvalId).not.toBe(asked!.approvalId);
      expect(events.filter((e) => e.type === 'tool.started')).toEqual([]);
      // Deciding the source's approval again in the fork is refused: only the fork's own counts.
      await expect(
        decideApproval(store, fork.id, {
          approvalId: asked!.approvalId,
          decision: 'granted',
          by: 'mallory',
          reason: null,
        }),
      ).rejects.toThrow();
    }
    expect(deployed, 'one deploy for one approval').toEqual(['prod']);

    // A person who approves the fork's own request runs the fork's call.
    const fork = await forkSession(store, source.id, { atSeq: granted.seq });
    const agent = deployer(dir, [{ text: 'Done.' }]);
    await runUntil({ store, agents: [agent] }, fork.id, ['waiting']);
    await decideApproval(store, fork.id, { decision: 'granted', by: 'alice', reason: null });
    await runUntil({ store, agents: [agent] }, fork.id);
    expect(deployed).toEqual(['prod', 'prod']);
    await store.close();
  });

  it("a fork taken at the source's request lists only its own: the source's is not pending in it", async () => {
    deployed.length = 0;
    const dir = tempDir('fork-request');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const source = await store.createSession({ agent: 'deployer', input: 'deploy' });
    const agent = deployer(dir, [deployCall('api'), { text: 'Done.' }]);
    await runUntil({ store, agents: [agent] }, source.id, ['waiting']);
    const events = await allEvents(store, source.id);
    const requested = events.find((e) => e.type === 'approval.requested')!;
    const fork = await forkSession(store, source.id, { atSeq: requested.seq });
    await runUntil({ store, agents: [deployer(dir, [{ text: 'Done.' }])] }, fork.id, ['waiting']);
    const pending = pendingApprovals(await allEvents(store, fork.id));
    expect(pending).toHaveLength(1);
    const [own] = pending;
    expect(own?.approvalId).not.toBe((requested.data as { approvalId: string }).approvalId);
    await expect(
      decideApproval(store, fork.id, {
        approvalId: (requested.data as { approvalId: string }).approvalId,
        decision: 'granted',
        by: 'alice',
        reason: null,
      }),
    ).rejects.toThrow(/no longer pending/);
    expect(deployed).toEqual([]);
    await store.close();
  });

  it('a grant for the rest of the session does not reach into a fork', async () => {
    deployed.length = 0;
    const dir = tempDir('fork-grant');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const source = await store.createSession({ agent: 'deployer', input: 'deploy' });
    const sourceAgent = deployer(dir, [deployCall('api'), deployCall('web'), { text: 'Done.' }]);
    await runUntil({ store, agents: [sourceAgent] }, source.id, ['waiting']);
    await decideApproval(store, source.id, {
      decision: 'granted',
      by: 'alice',
      reason: null,
      scope: 'tool',
    });
    await runUntil({ store, agents: [sourceAgent] }, source.id);
    expect(deployed).toEqual(['api', 'web']);
    const events = await allEvents(store, source.id);
    expect(fold(events).grants).toHaveLength(1);
    const firstDone = events.find((e) => e.type === 'tool.completed')!;

    const fork = await forkSession(store, source.id, { atSeq: firstDone.seq });
    expect(fold(await allEvents(store, fork.id)).grants).toBeUndefined();
    await runUntil(
      { store, agents: [deployer(dir, [deployCall('web'), { text: 'Done.' }])] },
      fork.id,
      ['waiting'],
    );
    expect(pendingApprovals(await allEvents(store, fork.id))).toEqual([
      expect.objectContaining({ tool: 'deploy', args: { service: 'web' } }),
    ]);
    expect(deployed).toEqual(['api', 'web']);
    await store.close();
  });

  it("a sub-agent's fork runs under its parent's policies, and is no child its parent waits for", async () => {
    const dir = tempDir('fork-child');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const parent = await store.createSession({ agent: 'planner', input: 'plan' });
    const child = await store.createSession({
      agent: 'adder',
      input: 'add',
      parent: {
        sessionId: parent.id,
        rootSessionId: parent.id,
        step: 1,
        callIndex: 0,
        policies: [{ name: 'parent', policy: { tools: [{ tool: 'add', action: 'deny' }] } }],
      },
    });
    const adder = defineAgent({
      name: 'adder',
      model: scriptedModel((request) =>
        request.messages.at(-1)?.role === 'user'
          ? { toolCalls: [{ name: 'add', args: { a: 1, b: 2 } }] }
          : { text: 'done' },
      ),
      instructions: 'Add.',
      tools: [add],
      workspaceSnapshots: false,
      workspaceRoot: join(dir, 'ws'),
    });
    await runUntil({ store, agents: [adder] }, child.id);
    const signal = subAgentSignal(1, 0);
    expect(await store.pendingSignals(parent.id, signal)).toHaveLength(1);
    const refused = (events: StoredEvent[]) =>
      events.find((e) => e.type === 'tool.completed')?.data;

    const fork = await forkSession(store, child.id, { atSeq: 1 });
    await runUntil({ store, agents: [adder] }, fork.id);
    const events = await allEvents(store, fork.id);
    expect(events[0]?.data).toMatchObject({ parent: { sessionId: parent.id } });
    expect(refused(events)).toMatchObject({ ok: false, output: matching(/^refused by policy/) });
    expect(refused(await allEvents(store, child.id))).toMatchObject({ ok: false });
    // Only the sub-agent itself told its parent it ended.
    expect(await store.pendingSignals(parent.id, signal)).toHaveLength(1);
    await store.close();
  });
});
