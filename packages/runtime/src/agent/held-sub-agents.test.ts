import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import {
  ManualClock,
  describeBreach,
  isLongrunError,
  subAgentSignalPrefix,
  type Budget,
  type SessionId,
  type SessionRecord,
  type SessionStore,
  type StoredEvent,
} from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel, type ScriptedTurn } from '@longrun/models/testing';
import { Worker } from '../worker.ts';
import { allEvents, tempDir } from '../testing.ts';
import { defineAgent, defineTool } from './define-agent.ts';
import { changeBudget } from './budget-commands.ts';
import { decideApproval } from './session-commands.ts';
import { childSessionId } from './sub-agent-ids.ts';
import { budgetRaiseFlags } from './held-sub-agents.ts';

const plainWait = 'a run_subagents call waits for signal subagent:1:0';
const hourMs = 3_600_000;

const work = defineTool({
  name: 'work',
  description: 'does one unit of work',
  input: z.object({ n: z.number() }),
  effect: 'pure',
  run: async ({ n }) => ({ did: n }),
});

const nap = defineTool({
  name: 'nap',
  description: 'waits an hour, durably',
  input: z.object({}),
  effect: 'idempotent',
  run: async (_input, context) => {
    await context.sleep(hourMs);
    return 'rested';
  },
});

const resultsOf = (request: { messages: readonly unknown[] }) =>
  request.messages.flatMap((m) => {
    const message = m as { role: string; results?: unknown[] };
    return message.role === 'tool' ? (message.results ?? []) : [];
  });

/** Calls `work` five times (then naps an hour, if `naps`), then answers. */
function worker(
  dir: string,
  name: string,
  options: { naps?: boolean; policy?: object; budget?: Budget } = {},
) {
  return defineAgent({
    name,
    instructions: 'Work.',
    model: scriptedModel((request): ScriptedTurn => {
      const done = resultsOf(request).length;
      if (done < 5) return { toolCalls: [{ name: 'work', args: { n: done } }] };
      if (options.naps === true && done === 5) return { toolCalls: [{ name: 'nap', args: {} }] };
      return { text: `${name} done` };
    }),
    tools: [work, nap],
    workspaceRoot: join(dir, 'ws'),
    ...(options.policy === undefined ? {} : { policy: options.policy }),
    ...(options.budget === undefined ? {} : { budget: options.budget }),
  });
}

/** Starts `children` sub-agents of `agent` in one run_subagents call, then answers. */
function delegator(dir: string, name: string, agent: string, children: number, budget?: Budget) {
  return defineAgent({
    name,
    instructions: 'Delegate.',
    model: scriptedModel((request): ScriptedTurn => {
      if (resultsOf(request).length > 0) return { text: `${name} done` };
      const tasks = Array.from({ length: children }, (_, i) => ({ agent, task: `part ${i}` }));
      return { toolCalls: [{ name: 'run_subagents', args: { tasks } }] };
    }),
    tools: [],
    subAgents: { agents: [agent] },
    workspaceRoot: join(dir, 'ws'),
    ...(budget === undefined ? {} : { budget }),
  });
}

/** Polls until `ok` holds of the session's record; bounded, and says what it last saw. */
async function until(
  store: SessionStore,
  id: SessionId,
  ok: (s: SessionRecord) => boolean,
  ms = 20_000,
): Promise<SessionRecord> {
  const deadline = Date.now() + ms;
  for (;;) {
    // A child is created once its parent's call runs: until then, it is not there yet.
    const s = await store.getSession(id).catch((error: unknown) => {
      if (isLongrunError(error, 'NOT_FOUND')) return null;
      throw error;
    });
    if (s !== null && ok(s)) return s;
    if (Date.now() > deadline)
      throw new Error(`${id} never got there in ${ms} ms: ${s?.status}, ${s?.statusReason}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The session waits, and its status reason names `id` as a session that waits for a person. */
const namesIt = (s: SessionRecord, id: SessionId | undefined) =>
  s.status === 'waiting' &&
  id !== undefined &&
  (s.statusReason ?? '').includes(`sub-agent`) &&
  (s.statusReason ?? '').includes(id);

const is =
  (...statuses: string[]) =>
  (s: SessionRecord) =>
    statuses.includes(s.status);

/**
 * The store as a worker that dies between committing a change and signalling it sees it: every
 * `subagent:*` signal it sends is lost, every time (packages/e2e's held-child-kill9.test.ts kills
 * a real worker process with SIGKILL in that window).
 */
function losingSubAgentSignals(store: SqliteStore): SessionStore {
  return new Proxy(store, {
    get(target, key) {
      if (key === 'sendSignal')
        return async (...args: Parameters<SessionStore['sendSignal']>) =>
          args[1].startsWith(subAgentSignalPrefix) ? undefined : target.sendSignal(...args);
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}

const subAgentResults = (events: StoredEvent[]) =>
  events.flatMap((e) =>
    e.type === 'tool.completed' && e.data.tool === 'run_subagents' ? [e.data] : [],
  );

/** The probe's tree: a parent with `toolCalls: 4` starts two children that each try five calls. */
async function probeTree(name: string, options: { clock?: ManualClock; naps?: boolean } = {}) {
  const dir = tempDir(name);
  const store = await SqliteStore.open({
    path: join(dir, 'db.sqlite'),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  const parentAgent = delegator(dir, 'parent', 'child', 2, { toolCalls: 4 });
  const childAgent = worker(dir, 'child', { naps: options.naps === true });
  const parent = await store.createSession({ agent: 'parent', input: 'go' });
  const children = [0, 1].map((i) => childSessionId(parent.id, 1, 0, i));
  return { store, parentAgent, childAgent, parent: parent.id, children };
}

describe('a sub-agent that waits for a person shows on the sessions above it', () => {
  it("names the paused child, its reason and the budget command in its parent's waiting status", async () => {
    const t = await probeTree('held-probe');
    const w = new Worker({ store: t.store, agents: [t.parentAgent, t.childAgent], pollMs: 5 });
    await w.start();
    try {
      for (const child of t.children) await until(t.store, child, is('paused'));
      const parent = await until(t.store, t.parent, (s) => t.children.every((c) => namesIt(s, c)));
      expect(parent).toMatchObject({ status: 'waiting', waitingFor: 'subagent:1:0' });
      const [first, second] = t.children as [SessionId, SessionId];
      // toolCalls 4, less the run_subagents call itself, shared by two: one each.
      expect(parent.statusReason).toContain(
        `sub-agent child ${first} is paused: BUDGET_EXCEEDED: the toolCalls budget of 1 is used up`,
      );
      expect(parent.statusReason).toContain(`longrun sessions budget ${first} --tool-calls 2`);
      expect(parent.statusReason).toContain(`longrun sessions cancel ${first}`);
      expect(parent.statusReason).toContain(`waits for a person too: ${second}`);
      expect(parent.statusReason).not.toContain('<id>');
      // Another worker that claims the parent without ending its wait (woken by a signal for
      // something else) parks it again saying the same, derived afresh from the store.
      await w.stop();
      const other = new Worker({ store: t.store, agents: [t.parentAgent], pollMs: 5 });
      await other.start();
      try {
        await t.store.sendSignal(t.parent, 'unrelated', {}, { wake: 'interrupt' });
        const again = await until(
          t.store,
          t.parent,
          (s) => s.status === 'waiting' && s.leaseEpoch > parent.leaseEpoch,
        );
        expect(again).toMatchObject({ status: 'waiting', statusReason: parent.statusReason });
      } finally {
        await other.stop();
      }
    } finally {
      await w.stop();
      await t.store.close();
    }
  });

  it('goes back to plain waiting when the children are raised and go on, and ends when they do', async () => {
    const clock = new ManualClock(Date.now());
    const t = await probeTree('held-raise', { clock, naps: true });
    const [first, second] = t.children as [SessionId, SessionId];
    // Parent and children on different workers, as they may be.
    const workers = [
      new Worker({ store: t.store, agents: [t.parentAgent], pollMs: 5 }),
      new Worker({ store: t.store, agents: [t.childAgent], pollMs: 5 }),
    ];
    for (const w of workers) await w.start();
    try {
      for (const child of t.children) await until(t.store, child, is('paused'));
      await until(t.store, t.parent, (s) => namesIt(s, second));
      const raise = { by: 'alice', reason: 'more work', change: { toolCalls: 6 } };
      expect((await changeBudget(t.store, first, raise)).resumed).toBe(true);
      // The raised child goes on: the parent names only the other one now.
      await until(t.store, first, is('waiting'));
      const one = await until(t.store, t.parent, (s) => namesIt(s, second) && !namesIt(s, first));
      expect(one.statusReason).toContain(`sub-agent child ${second} is paused`);
      await changeBudget(t.store, second, raise);
      await until(t.store, second, is('waiting'));
      // Both go on by themselves (they nap): nobody needs a person, the parent just waits.
      await until(t.store, t.parent, (s) => s.status === 'waiting' && s.statusReason === plainWait);
      clock.advance(hourMs);
      await until(t.store, t.parent, is('completed', 'failed'));
      const results = subAgentResults(await allEvents(t.store, t.parent));
      expect(results.map((r) => r.ok)).toEqual([true]);
      expect(results[0]?.output).toMatchObject([
        { sessionId: first, status: 'completed', output: 'child done' },
        { sessionId: second, status: 'completed', output: 'child done' },
      ]);
      expect((await t.store.getSession(t.parent)).status).toBe('completed');
    } finally {
      for (const w of workers) await w.stop();
      await t.store.close();
    }
  });

  it("shows the paused child within the parent's re-check period when its signal is lost", async () => {
    const clock = new ManualClock(Date.now());
    const t = await probeTree('held-lost', { clock });
    const [first, second] = t.children as [SessionId, SessionId];
    const parents = new Worker({ store: t.store, agents: [t.parentAgent], pollMs: 5 });
    const children = new Worker({
      store: losingSubAgentSignals(t.store),
      agents: [t.childAgent],
      pollMs: 5,
    });
    await parents.start();
    await children.start();
    try {
      for (const child of t.children) await until(t.store, child, is('paused'));
      // Nothing told the parent: it still says what it said when it started waiting.
      const stale = await until(t.store, t.parent, is('waiting'));
      expect(stale.statusReason).toBe(plainWait);
      // Its first re-check is due 30 s after it started waiting.
      clock.advance(30_000);
      const parent = await until(
        t.store,
        t.parent,
        (s) => namesIt(s, first) && namesIt(s, second),
        10_000,
      );
      expect(parent.status).toBe('waiting');
      expect(parent.statusReason).toContain(`longrun sessions budget ${first} --tool-calls 2`);
      expect(parent.statusReason).toContain(second);
      // Raised, the children end unheard too; the parent's next re-checks find them ended.
      for (const child of t.children)
        await changeBudget(t.store, child, { by: 'bob', reason: null, change: { toolCalls: 5 } });
      for (const child of t.children) await until(t.store, child, is('completed'));
      for (let i = 0; i < 5 && (await t.store.getSession(t.parent)).status !== 'completed'; i++) {
        await until(t.store, t.parent, is('waiting', 'completed'));
        clock.advance(10 * 60_000);
        await new Promise((r) => setTimeout(r, 200));
      }
      expect((await t.store.getSession(t.parent)).status).toBe('completed');
    } finally {
      await parents.stop();
      await children.stop();
      await t.store.close();
    }
  });

  it('names a paused grandchild on the root, under the child that started it, until it goes on', async () => {
    const dir = tempDir('held-deep');
    const clock = new ManualClock(Date.now());
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite'), clock });
    const root = delegator(dir, 'root', 'mid', 1);
    const mid = delegator(dir, 'mid', 'leaf', 1);
    const leaf = worker(dir, 'leaf', { budget: { steps: 2 }, naps: true });
    const w = new Worker({ store, agents: [root, mid, leaf], pollMs: 5 });
    const session = await store.createSession({ agent: 'root', input: 'go' });
    const midId = childSessionId(session.id, 1, 0, 0);
    const leafId = childSessionId(midId, 1, 0, 0);
    await w.start();
    try {
      await until(store, leafId, is('paused'));
      const [rootRecord, midRecord] = await Promise.all(
        [session.id, midId].map((id) => until(store, id, (s) => namesIt(s, leafId))),
      );
      expect(rootRecord?.statusReason).toContain(
        `sub-agent leaf ${leafId} (under mid ${midId}) is paused: BUDGET_EXCEEDED: the steps budget of 2`,
      );
      expect(rootRecord?.statusReason).toContain(`longrun sessions budget ${leafId} --steps 4`);
      expect(midRecord?.statusReason).toContain(`sub-agent leaf ${leafId} is paused`);
      await changeBudget(store, leafId, { by: 'alice', reason: null, change: { steps: 10 } });
      // The leaf goes on (and naps): the notice passes up, and both say they just wait again.
      await until(store, leafId, is('waiting'));
      for (const id of [midId, session.id])
        await until(store, id, (s) => s.status === 'waiting' && s.statusReason === plainWait);
      clock.advance(hourMs);
      await until(store, session.id, is('completed'));
    } finally {
      await w.stop();
      await store.close();
    }
  });

  it('names a child that waits for an approval, and the commands that decide it', async () => {
    const dir = tempDir('held-approval');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const parentAgent = delegator(dir, 'parent', 'child', 1);
    const childAgent = worker(dir, 'child', {
      policy: {
        tools: [
          { tool: 'work', action: 'allow' },
          { tool: 'work', action: 'ask', args: [{ path: 'n', oneOf: [2] }] },
        ],
      },
    });
    const w = new Worker({ store, agents: [parentAgent, childAgent], pollMs: 5 });
    const session = await store.createSession({ agent: 'parent', input: 'go' });
    const child = childSessionId(session.id, 1, 0, 0);
    await w.start();
    try {
      const parent = await until(store, session.id, (s) => namesIt(s, child));
      expect(parent.statusReason).toContain(`sub-agent child ${child} waits for an approval`);
      expect(parent.statusReason).toMatch(
        new RegExp(
          `longrun sessions approve ${child} (apr_\\w+) or longrun sessions deny ${child} \\1;`,
        ),
      );
      await decideApproval(store, child, { decision: 'granted', by: 'alice', reason: null });
      await until(store, session.id, is('completed'));
    } finally {
      await w.stop();
      await store.close();
    }
  });
});

describe('the raise a parent suggests for a child paused for its budget', () => {
  it('names the limit that stopped it with the CLI flag for it, doubled', () => {
    const flags = (budget: string, limit: number, used: number, needed: number) =>
      budgetRaiseFlags(describeBreach({ budget: budget as never, limit, used, needed }));
    expect(flags('toolCalls', 2, 2, 1)).toBe('--tool-calls 4');
    expect(flags('toolCallsPerTool.shell', 3, 3, 1)).toBe('--tool shell=6');
    expect(flags('steps', 0, 0, 1)).toBe('--steps 1');
    expect(flags('costUsd', 0.5, 0.45, 0.2)).toBe('--cost-usd 1');
    // At least what the next call needs.
    expect(flags('outputTokens', 1_000, 900, 8_192)).toBe('--output-tokens 9092');
    // Another period from where it stopped.
    expect(flags('wallClockMs', 60_000, 61_500, 0)).toBe('--wall-clock-ms 121500');
    // A tenant's daily limit is not the session's to raise; other reasons are not breaches.
    expect(
      budgetRaiseFlags(
        "BUDGET_EXCEEDED: the tenant's daily costUsd budget of $5.0000 is used up for 2026-01-01 (UTC)",
      ),
    ).toBeNull();
    expect(budgetRaiseFlags('loop control paused the session')).toBeNull();
  });
});
