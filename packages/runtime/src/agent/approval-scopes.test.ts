import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import {
  ManualClock,
  fold,
  type Policy,
  workerId,
  type ApprovalScope,
  type SessionId,
  type SessionState,
  type StoredEvent,
} from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel, type ScriptedTurn } from '@longrun/models/testing';
import { allEvents, matching, runUntil, tempDir } from '../testing.ts';
import { defineAgent, defineTool, type AgentDefinition } from './define-agent.ts';
import { approvalSignal, argsHash } from './approvals.ts';
import { decideApproval, pendingApprovals, signalSession } from './session-commands.ts';
import { allow, type Gate } from '../harness/gates.ts';

/**
 * Approval scopes (issue 14): the person who grants a call chooses how far the grant reaches —
 * this call, this tool with these arguments for the session, or this tool for the session. A
 * session grant answers later asks without a new approval, never a deny, and lives in the log
 * (so a worker that resumes the session elsewhere applies it too).
 */
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
/** Parks the session on a signal: the next step is taken by whichever worker claims it then. */
const hold = defineTool({
  name: 'hold',
  description: 'waits for the go signal',
  input: z.object({}),
  effect: 'idempotent',
  run: async (_input, context) => {
    await context.waitForSignal('go');
    return 'went on';
  },
});
/** Denies every deploy of prod, whatever a person granted. */
const noProd: Gate = {
  name: 'no-prod',
  beforeToolCall: ({ input, tool }) =>
    tool.name === 'deploy' && (input as { service: string }).service === 'prod'
      ? { decision: 'deny', reason: 'prod is deployed by the release train only' }
      : allow,
};

let calls = 0;
const call = (service: string): ScriptedTurn => ({
  toolCalls: [{ id: `d${++calls}`, name: 'deploy', args: { service } }],
});

async function setup(turns: ScriptedTurn[], extra: Partial<AgentDefinition> = {}) {
  const dir = tempDir('scopes');
  const clock = new ManualClock();
  const path = join(dir, 'db.sqlite');
  const store = await SqliteStore.open({ path, clock });
  const model = scriptedModel(turns);
  const agent = defineAgent({
    name: 'deployer',
    model,
    instructions: 'Deploy.',
    tools: [deploy, hold],
    workspaceSnapshots: false,
    workspaceRoot: join(dir, 'ws'),
    ...extra,
  });
  const s = await store.createSession({ agent: 'deployer', input: 'deploy' });
  const run = (statuses?: string[], worker = 'worker-a', checkpointEvery?: number) =>
    runUntil(
      {
        store,
        agents: [agent],
        workerId: workerId(worker),
        ...(checkpointEvery ? { checkpointEvery } : {}),
      },
      s.id,
      statuses,
    );
  const events = () => allEvents(store, s.id);
  const pending = async () => pendingApprovals(await events());
  /** Grants the one pending approval with `scope`, as a person at the CLI would. */
  const grant = async (scope: ApprovalScope) => {
    const [p] = await pending();
    if (p === undefined) throw new Error('nothing is pending');
    await decideApproval(store, s.id, { decision: 'granted', by: 'alice', reason: null, scope });
    return p.approvalId;
  };
  return { store, clock, id: s.id, model, run, events, pending, grant, path };
}

const ofType = <T extends StoredEvent['type']>(events: StoredEvent[], type: T) =>
  events.filter((e): e is Extract<StoredEvent, { type: T }> => e.type === type);

describe('approval scopes', () => {
  it('tool: the next call of the tool with other arguments runs with no new approval', async () => {
    deployed.length = 0;
    const t = await setup([call('api'), call('web'), { text: 'Done.' }]);
    await t.run(['waiting']);
    const approvalId = await t.grant('tool');
    await t.run();
    expect(deployed).toEqual(['api', 'web']);
    const events = await t.events();
    expect(ofType(events, 'approval.requested')).toHaveLength(1);
    expect(ofType(events, 'approval.granted').map((e) => e.data)).toEqual([
      { approvalId, by: 'alice', reason: null, scope: 'tool' },
    ]);
    expect(fold(events).grants).toEqual([
      { approvalId, tool: 'deploy', scope: 'tool', argsHash: null, by: 'alice' },
    ]);
  });

  it('arguments: the same arguments run again unasked; other arguments ask again', async () => {
    deployed.length = 0;
    const t = await setup([call('api'), call('api'), call('web'), { text: 'Done.' }]);
    await t.run(['waiting']);
    await t.grant('arguments');
    await t.run(['waiting']);
    expect(deployed).toEqual(['api', 'api']);
    const [asked] = await t.pending();
    expect(asked).toMatchObject({ tool: 'deploy', args: { service: 'web' } });
    expect(ofType(await t.events(), 'approval.requested')).toHaveLength(2);
    expect(fold(await t.events()).grants).toEqual([
      expect.objectContaining({
        scope: 'arguments',
        argsHash: argsHash('deploy', { service: 'api' }),
      }),
    ]);
    await t.grant('call');
    await t.run();
    expect(deployed).toEqual(['api', 'api', 'web']);
  });

  it('call (the default): every call asks again, the same arguments too', async () => {
    deployed.length = 0;
    const t = await setup([call('api'), call('api'), { text: 'Done.' }]);
    await t.run(['waiting']);
    const [p] = await t.pending();
    // No scope given: the decision is for this call only.
    await decideApproval(t.store, t.id, { decision: 'granted', by: 'alice', reason: null });
    await t.run(['waiting']);
    expect(deployed).toEqual(['api']);
    const [again] = await t.pending();
    expect(again?.approvalId).not.toBe(p?.approvalId);
    expect(again).toMatchObject({ args: { service: 'api' } });
    expect(ofType(await t.events(), 'approval.granted')[0]?.data.scope).toBe('call');
    expect(fold(await t.events()).grants).toBeUndefined();
  });

  it('a session grant never turns a deny into an allow', async () => {
    deployed.length = 0;
    const t = await setup([call('api'), call('prod'), { text: 'Done.' }], { gates: [noProd] });
    await t.run(['waiting']);
    await t.grant('tool');
    await t.run();
    expect(deployed).toEqual(['api']);
    const completed = ofType(await t.events(), 'tool.completed').map((e) => e.data);
    expect(completed[1]).toMatchObject({
      ok: false,
      output: matching(/refused by no-prod: prod is deployed by the release train only/),
    });
  });

  it("answers the policy engine's asks the same way, and never its denies", async () => {
    deployed.length = 0;
    const policy: Policy = {
      tools: [
        { tool: 'deploy', action: 'ask', args: [{ path: 'service', oneOf: ['api', 'web'] }] },
        {
          tool: 'deploy',
          action: 'deny',
          args: [{ path: 'service', oneOf: ['prod'] }],
          id: 'no-prod',
        },
      ],
    };
    const t = await setup([call('api'), call('web'), call('prod'), { text: 'Done.' }], { policy });
    await t.run(['waiting']);
    await t.grant('tool');
    await t.run();
    expect(deployed).toEqual(['api', 'web']);
    const events = await t.events();
    expect(ofType(events, 'approval.requested')).toHaveLength(1);
    // Each decision is recorded: the ask a person granted, the ask the session grant answered,
    // and the deny that no grant turns.
    expect(
      ofType(events, 'policy.decided').map((e) => [e.data.decision, e.data.approved ?? false]),
    ).toEqual([
      ['ask', false],
      ['ask', true],
      ['ask', true],
      ['deny', false],
    ]);
    expect(ofType(events, 'tool.completed').at(-1)?.data).toMatchObject({
      ok: false,
      output: matching(/^refused by policy: /),
    });
  });

  it('a grant survives a checkpoint and a resume on another worker', async () => {
    deployed.length = 0;
    const t = await setup([
      call('api'),
      { toolCalls: [{ id: 'h', name: 'hold', args: {} }] },
      call('web'),
      { text: 'Done.' },
    ]);
    await t.run(['waiting'], 'worker-a');
    const approvalId = await t.grant('tool');
    // Worker A records the grant, deploys, and parks the session on the hold's signal,
    // checkpointing with every commit.
    await t.run(['waiting'], 'worker-a', 1);
    // The checkpoint a resume starts from was taken after the grant and holds it.
    const saved = await t.store.latestCheckpoint(t.id);
    const grantedAt = ofType(await t.events(), 'approval.granted')[0]?.seq ?? Infinity;
    expect(saved?.seq).toBeGreaterThan(grantedAt);
    const state = (saved?.state as unknown as { state: SessionState } | undefined)?.state;
    expect(state?.grants).toEqual([
      expect.objectContaining({ approvalId, tool: 'deploy', scope: 'tool' }),
    ]);
    // Another worker, on another connection to the store, takes the session up from there.
    const other = await SqliteStore.open({ path: t.path, clock: t.clock });
    try {
      await signalSession(other, t.id, 'go', null);
      const model = scriptedModel([call('web'), { text: 'Done.' }]);
      const agent = defineAgent({
        name: 'deployer',
        model,
        instructions: 'Deploy.',
        tools: [deploy, hold],
        workspaceSnapshots: false,
        workspaceRoot: join(t.path, '..', 'ws-b'),
      });
      await runUntil({ store: other, agents: [agent], workerId: workerId('worker-b') }, t.id);
    } finally {
      await other.close();
    }
    expect(deployed).toEqual(['api', 'web']);
    expect(ofType(await t.events(), 'approval.requested')).toHaveLength(1);
    expect((await t.store.getSession(t.id)).status).toBe('completed');
  });
});

describe('forged, replayed and re-scoped decisions', () => {
  it('are refused with a typed error and change nothing', async () => {
    deployed.length = 0;
    const t = await setup([call('api'), call('web'), { text: 'Done.' }]);
    const u = await setup([call('db'), { text: 'Done.' }]);
    await t.run(['waiting']);
    await u.run(['waiting']);
    const [p] = await t.pending();
    const [q] = await u.pending();
    const approvalId = p!.approvalId;
    const decide = (id: SessionId, extra: Partial<Parameters<typeof decideApproval>[2]>) =>
      decideApproval(t.store, id, { decision: 'granted', by: 'mallory', reason: null, ...extra });

    // An approval of another session: that session never requested it.
    await expect(decide(t.id, { approvalId: q!.approvalId })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    // Scopes that cannot apply.
    await expect(
      decide(t.id, { approvalId, decision: 'denied', scope: 'tool' }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: matching(/applies to a grant/) });
    await expect(
      decide(t.id, { approvalId, scope: 'everything' as ApprovalScope }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await t.store.pendingSignals(t.id, approvalSignal(approvalId))).toEqual([]);

    await decide(t.id, { approvalId, scope: 'call', by: 'alice' });
    // Replayed while the first decision waits for a worker, and re-scoped: refused.
    await expect(decide(t.id, { approvalId })).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await expect(decide(t.id, { approvalId, scope: 'tool' })).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
    expect(await t.store.pendingSignals(t.id, approvalSignal(approvalId))).toHaveLength(1);
    await t.run(['waiting']);
    const head = (await t.events()).length;
    // Replayed and re-scoped after the worker recorded it: refused, and the log does not move.
    await expect(decide(t.id, { approvalId, scope: 'tool' })).rejects.toMatchObject({
      code: 'INVALID_STATE',
      message: matching(/already granted by alice \(scope call\).*cannot be changed or re-scoped/),
    });
    await expect(decide(t.id, { approvalId, decision: 'denied' })).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
    expect(await t.store.pendingSignals(t.id, approvalSignal(approvalId))).toEqual([]);
    expect((await t.events()).length).toBe(head);
    expect(fold(await t.events()).grants).toBeUndefined();
    expect(deployed).toEqual(['api']);
    // The web call asks anew (the call-scoped grant did not reach it).
    expect(await t.pending()).toMatchObject([{ args: { service: 'web' } }]);
    // u's approval is untouched.
    expect(await u.pending()).toMatchObject([{ approvalId: q!.approvalId }]);
  });

  it('of decisions sent at the same instant exactly one is accepted; every other is refused, none told it won', async () => {
    deployed.length = 0;
    const t = await setup([call('api'), { text: 'Done.' }]);
    await t.run(['waiting']);
    const [p] = await t.pending();
    const decisions = Array.from({ length: 10 }, (_, i) =>
      decideApproval(t.store, t.id, {
        approvalId: p!.approvalId,
        decision: i % 2 === 0 ? 'granted' : 'denied',
        by: `person-${i}`,
        reason: null,
      }),
    );
    const settled = await Promise.allSettled(decisions);
    const accepted = settled.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    expect(accepted).toHaveLength(1);
    for (const r of settled)
      if (r.status === 'rejected')
        expect(r.reason).toMatchObject({
          code: 'INVALID_STATE',
          message: matching(/already decided/),
        });
    await t.run();
    // The log records the accepted decision, by the one person told it was accepted.
    const decided = (await t.events()).filter(
      (e) => e.type === 'approval.granted' || e.type === 'approval.denied',
    );
    expect(decided.map((e) => (e.data as { by: string }).by)).toEqual([`person-${accepted[0]}`]);
  });

  it('a decision signal forged past decideApproval (bad scope, other arguments) is ignored', async () => {
    deployed.length = 0;
    const t = await setup([call('api'), { text: 'Done.' }]);
    await t.run(['waiting']);
    const [p] = await t.pending();
    const signal = approvalSignal(p!.approvalId);
    await t.store.sendSignal(t.id, signal, {
      decision: 'granted',
      by: 'mallory',
      reason: null,
      scope: 'everything',
    });
    await t.store.sendSignal(t.id, signal, {
      decision: 'granted',
      by: 'mallory',
      reason: null,
      scope: 'tool',
      argsHash: argsHash('deploy', { service: 'prod' }),
    });
    await t.run(['waiting']);
    expect(deployed).toEqual([]);
    expect(ofType(await t.events(), 'approval.granted')).toEqual([]);
    expect(await t.store.pendingSignals(t.id, signal)).toEqual([]);
    expect(await t.pending()).toHaveLength(1);
  });
});

describe('approval expiry', () => {
  it("answers the tool call like a deny when nobody decides within the agent's approvalTtlMs", async () => {
    deployed.length = 0;
    const t = await setup([call('api'), { text: 'Not deployed.' }], { approvalTtlMs: 60_000 });
    await t.run(['waiting']);
    const [p] = await t.pending();
    expect(p?.expiresAtMs).toBe(t.clock.nowMs() + 60_000);
    t.clock.advance(60_000);
    // A decision at the expiry is refused, before any worker records it.
    await expect(
      decideApproval(t.store, t.id, { decision: 'granted', by: 'alice', reason: null }),
    ).rejects.toMatchObject({ code: 'GONE', message: matching(/expired at .*answered as denied/) });
    await t.run();
    expect(deployed).toEqual([]);
    const events = await t.events();
    expect(ofType(events, 'approval.denied').map((e) => e.data)).toEqual([
      { approvalId: p!.approvalId, by: 'longrun', reason: 'the approval request expired' },
    ]);
    expect(ofType(events, 'tool.completed')[0]?.data).toMatchObject({
      ok: false,
      output: matching(/a person denied this call: the approval request expired/),
    });
    // And after the worker recorded the expiry: still GONE, not a generic refusal.
    await expect(
      decideApproval(t.store, t.id, {
        approvalId: p!.approvalId,
        decision: 'granted',
        by: 'alice',
        reason: null,
      }),
    ).rejects.toMatchObject({ code: 'GONE' });
  });

  it('a decision sent after the expiry does not count, even one that reached the store', async () => {
    deployed.length = 0;
    const t = await setup([call('api'), { text: 'Not deployed.' }], { approvalTtlMs: 1_000 });
    await t.run(['waiting']);
    const [p] = await t.pending();
    t.clock.advance(1_000);
    // As if sent in the instant between decideApproval's check and the expiry.
    await t.store.sendSignal(t.id, approvalSignal(p!.approvalId), {
      decision: 'granted',
      by: 'alice',
      reason: null,
      argsHash: p!.argsHash,
      scope: 'tool',
    });
    await t.run();
    expect(deployed).toEqual([]);
    const events = await t.events();
    expect(ofType(events, 'approval.granted')).toEqual([]);
    expect(ofType(events, 'approval.denied').map((e) => e.data.reason)).toEqual([
      'the approval request expired',
    ]);
    expect(fold(events).grants).toBeUndefined();
    expect(await t.store.pendingSignals(t.id, approvalSignal(p!.approvalId))).toEqual([]);
  });
});
