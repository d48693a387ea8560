import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import { workerId, type SessionId, type StoredEvent } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel } from '@longrun/models/testing';
import { allEvents, matching, runUntil, tempDir } from '../testing.ts';
import { defineAgent, defineTool, type AgentDefinition } from './define-agent.ts';
import { approvalSignal } from './approvals.ts';
import { AgentRunner } from './agent-runner.ts';

/**
 * DESIGN §4: an `unsafe` call whose worker died while it ran, with no `verify` to settle it, is
 * resolved by a person (a durable `rerun` approval), or fails closed. The first runner's tool
 * never returns, as if its worker died inside the tool; its lease is then given up.
 */
async function interruptedSend(extra: Partial<AgentDefinition> = {}) {
  const dir = tempDir('unknown');
  const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
  const sent: number[] = [];
  const send = defineTool({
    name: 'send_email',
    description: 'sends an email',
    input: z.object({ to: z.string() }),
    effect: 'unsafe',
    run: async (_input, { attempt }) => {
      sent.push(attempt);
      if (sent.length === 1) return new Promise<never>(() => undefined);
      return 'sent';
    },
  });
  const model = scriptedModel([
    { toolCalls: [{ id: 'e1', name: 'send_email', args: { to: 'ops@example.com' } }] },
    { text: 'Done.' },
  ]);
  const agent = defineAgent({
    name: 'mailer',
    model,
    instructions: 'Send the email.',
    tools: [send],
    workspaceRoot: join(dir, 'ws'),
    ...extra,
  });
  const s = await store.createSession({ agent: 'mailer', input: 'email ops' });
  const lease = (await store.claim(s.id, workerId('doomed'), 60_000))!;
  const stop = new AbortController();
  void new AgentRunner({ store, agent, model, lease, signal: stop.signal }).run();
  for (let i = 0; i < 400 && sent.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  expect(sent).toEqual([1]);
  await store.releaseLease(lease);
  const run = (statuses?: string[]) => runUntil({ store, agents: [agent] }, s.id, statuses);
  return { store, id: s.id, sent, model, run, stop };
}

const ofType = (events: StoredEvent[], type: string) => events.filter((e) => e.type === type);

async function rerunRequest(store: SqliteStore, id: SessionId) {
  const [request] = ofType(await allEvents(store, id), 'approval.requested');
  return request?.data as { approvalId: string; purpose: string; tool: string };
}

describe('an interrupted unsafe call with an unknown outcome', () => {
  it('waits for a person; granted, it runs once more and the session completes', async () => {
    const { store, id, sent, run, stop } = await interruptedSend();
    await run(['waiting']);
    const session = await store.getSession(id);
    expect(session).toMatchObject({ status: 'waiting', leaseOwner: null });
    expect(session.statusReason).toMatch(/outcome is unknown/);
    const request = await rerunRequest(store, id);
    expect(request).toMatchObject({ purpose: 'rerun', tool: 'send_email' });
    expect(sent).toEqual([1]);
    await store.sendSignal(id, approvalSignal(request.approvalId), {
      decision: 'granted',
      by: 'alice',
      reason: 'the mail server shows nothing was sent',
    });
    await run();
    expect(sent).toEqual([1, 2]);
    const events = await allEvents(store, id);
    expect(ofType(events, 'tool.interrupted')).toEqual([]);
    expect(ofType(events, 'tool.completed').map((e) => e.data)).toMatchObject([
      { ok: true, output: 'sent', attempt: 2 },
    ]);
    expect(await store.listEffects(id)).toMatchObject([{ status: 'completed', attempts: 2 }]);
    stop.abort();
  });

  it('waits for a person; denied, it is never run again and the model is told the outcome is unknown', async () => {
    const { store, id, sent, model, run, stop } = await interruptedSend();
    await run(['waiting']);
    const request = await rerunRequest(store, id);
    await store.sendSignal(id, approvalSignal(request.approvalId), {
      decision: 'denied',
      by: 'bob',
      reason: null,
    });
    await run();
    expect(sent).toEqual([1]);
    const events = await allEvents(store, id);
    expect(ofType(events, 'tool.interrupted').map((e) => e.data)).toEqual([
      { step: 1, callIndex: 0, tool: 'send_email', outcome: 'unknown' },
    ]);
    expect(await store.listEffects(id)).toMatchObject([{ status: 'unknown', attempts: 1 }]);
    expect(model.requests.at(-1)!.messages.at(-1)).toMatchObject({
      role: 'tool',
      results: [{ isError: true, output: matching(/outcome unknown/) }],
    });
    expect((await store.getSession(id)).status).toBe('completed');
    stop.abort();
  });

  it("fails closed at once with unknownOutcome: 'fail'", async () => {
    const { store, id, sent, run, stop } = await interruptedSend({ unknownOutcome: 'fail' });
    await run();
    expect(sent).toEqual([1]);
    const events = await allEvents(store, id);
    expect(ofType(events, 'approval.requested')).toEqual([]);
    expect(ofType(events, 'tool.interrupted')).toHaveLength(1);
    expect(await store.listEffects(id)).toMatchObject([{ status: 'unknown', attempts: 1 }]);
    stop.abort();
  });
});
