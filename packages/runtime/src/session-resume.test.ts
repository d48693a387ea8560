import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import { isLongrunError, workerId, type SessionId, type StoredEvent } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel } from '@longrun/models/testing';
import { allEvents, matching, runUntil, tempDir } from './testing.ts';
import { defineAgent, defineTool } from './agent/define-agent.ts';
import { decideApproval, resumeSession } from './agent/session-commands.ts';
import { resumeSignal } from './session-resume.ts';
import { Worker } from './worker.ts';

const deploy = defineTool({
  name: 'deploy',
  description: 'deploys a service',
  input: z.object({ service: z.string() }),
  effect: 'keyed',
  needsApproval: true,
  run: async ({ service }) => `deployed ${service}`,
});

async function setup() {
  const dir = tempDir('resume');
  const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
  const agent = defineAgent({
    name: 'deployer',
    model: scriptedModel((request) =>
      request.messages.some((m) => m.role === 'tool')
        ? { text: 'Deployed.' }
        : { toolCalls: [{ id: 'd1', name: 'deploy', args: { service: 'api' } }] },
    ),
    instructions: 'Deploy what you are asked to.',
    tools: [deploy],
    workspaceRoot: join(dir, 'ws'),
  });
  /** Parks a session as a worker does when it cannot go on (an error a person can act on). */
  const park = async (id: SessionId): Promise<void> => {
    const lease = await store.claim(id, workerId('parker'), 10_000);
    if (lease === null) throw new Error(`session ${id} is not claimable`);
    const reason = 'stopped by an error: the workspace snapshot could not be restored';
    await store.append({
      fence: lease,
      expectedSeq: lease.headSeq,
      events: [],
      status: { status: 'paused', reason },
      releaseLease: true,
    });
  };
  /** A worker that runs another agent only, for 40 of its polls: it claims nothing here. */
  const runNowhere = async (): Promise<void> => {
    const other = defineAgent({ name: 'other', model: scriptedModel([]), instructions: 'i' });
    const worker = new Worker({ store, agents: [other], pollMs: 5 });
    await worker.start();
    await new Promise((r) => setTimeout(r, 200));
    await worker.stop();
  };
  const runHere = (id: SessionId, statuses?: string[]) =>
    runUntil({ store, agents: [agent] }, id, statuses);
  return { dir, store, park, runNowhere, runHere };
}

const resumed = (events: StoredEvent[]) => events.filter((e) => e.type === 'session.resumed');

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isLongrunError(error, 'INVALID_STATE'), String(error)).toBe(true);
  return (error as Error).message;
}

describe('resuming a paused session', () => {
  it('runs an agent session a worker parked, once a worker that knows the agent claims it', async () => {
    const { store, park, runNowhere, runHere } = await setup();
    const s = await store.createSession({ agent: 'deployer', input: 'deploy api' });
    await park(s.id);
    expect(await store.getSession(s.id)).toMatchObject({
      status: 'paused',
      statusReason: matching(/could not be restored/),
      leaseOwner: null,
    });
    await resumeSession(store, s.id, { by: 'bob', reason: 'deployed the agent' });
    expect((await store.getSession(s.id)).status).toBe('queued');
    // A worker that does not run the agent leaves it queued, and the request pending.
    await runNowhere();
    expect(await store.getSession(s.id)).toMatchObject({ status: 'queued', leaseEpoch: 1 });
    expect((await store.pendingSignals(s.id, resumeSignal)).length).toBe(1);

    await runHere(s.id, ['waiting']);
    const events = await allEvents(store, s.id);
    // Recorded once, first thing after the claim, naming the request that got the session run.
    expect(events[1]).toMatchObject({
      type: 'session.resumed',
      data: { by: 'bob', reason: 'deployed the agent' },
    });
    expect(resumed(events)).toHaveLength(1);
    expect(await store.pendingSignals(s.id, resumeSignal)).toEqual([]);

    await decideApproval(store, s.id, { decision: 'granted', by: 'carol', reason: null });
    await runHere(s.id);
    const done = await allEvents(store, s.id);
    expect(done.at(-1)).toMatchObject({ type: 'session.completed', data: { output: 'Deployed.' } });
    expect(resumed(done)).toHaveLength(1);
  });

  it('refuses to resume a session that is not paused, saying what to do instead', async () => {
    const { store, runHere } = await setup();
    const s = await store.createSession({ agent: 'deployer', input: 'deploy api' });
    const by = { by: 'alice', reason: null };
    expect(await refusal(resumeSession(store, s.id, by))).toMatch(
      /is queued, not paused: there is nothing to resume/,
    );
    await runHere(s.id, ['waiting']);
    expect(await refusal(resumeSession(store, s.id, by))).toMatch(
      /is waiting for approval:\S+, not paused: .*\(decide the approval\)/,
    );
    await decideApproval(store, s.id, { decision: 'granted', by: 'carol', reason: null });
    await runHere(s.id);
    expect(await refusal(resumeSession(store, s.id, by))).toMatch(
      /is completed, not paused: send it a message/,
    );
    expect(await store.pendingSignals(s.id, resumeSignal)).toEqual([]);
    expect(resumed(await allEvents(store, s.id))).toEqual([]);
  });

  it('consumes a request that arrives after the session moved on; a later wait is not disturbed', async () => {
    const { store, park, runHere } = await setup();
    const s = await store.createSession({ agent: 'deployer', input: 'deploy api' });
    await park(s.id);
    const pausedAt = (await store.getSession(s.id)).headSeq;
    await resumeSession(store, s.id, { by: 'alice', reason: null });
    await runHere(s.id, ['waiting']);
    const waiting = await store.getSession(s.id);
    // Bob saw the session paused too; his request lands now, as resumeSession would send it.
    await store.sendSignal(
      s.id,
      resumeSignal,
      { by: 'bob', reason: 'me too', pausedAtSeq: pausedAt },
      { wake: 'interrupt' },
    );
    // A `resume` signal that is not a request (sent by hand) is nobody's business here.
    await store.sendSignal(s.id, resumeSignal, 'not a request');
    expect((await store.getSession(s.id)).status).toBe('queued'); // the interrupt woke it
    await runHere(s.id, ['waiting']);
    expect(await store.getSession(s.id)).toMatchObject({
      status: 'waiting',
      waitingFor: waiting.waitingFor,
      headSeq: waiting.headSeq, // consumed without an event
    });
    const left = await store.pendingSignals(s.id, resumeSignal);
    expect(left.map((signal) => signal.payload)).toEqual(['not a request']);
    // The approval wait goes on as before.
    await decideApproval(store, s.id, { decision: 'granted', by: 'carol', reason: null });
    await runHere(s.id);
    const events = await allEvents(store, s.id);
    expect(resumed(events).map((e) => e.data)).toEqual([{ by: 'alice', reason: null }]);
    expect(events.filter((e) => e.type === 'approval.granted')).toHaveLength(1);
    expect(events.at(-1)?.type).toBe('session.completed');
  });
});
