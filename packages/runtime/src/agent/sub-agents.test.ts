import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import type { SessionId, SessionStore, StoredEvent } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel, type ScriptedTurn } from '@longrun/models/testing';
import { Worker } from '../worker.ts';
import { allEvents, tempDir } from '../testing.ts';
import { defineAgent, defineTool, type AgentDefinition } from './define-agent.ts';
import { fileTools } from '../tools/file-tools.ts';
import { cancelSession } from './session-commands.ts';

const sleepTool = defineTool({
  name: 'wait_a_while',
  description: 'waits an hour, durably',
  input: z.object({}),
  effect: 'idempotent',
  run: async (_input, context) => {
    await context.sleep(3_600_000);
    return 'waited';
  },
});

/** A reviewer: reads a file, tries to write one (its grant allows reading only), answers. */
function reviewer(dir: string): AgentDefinition {
  return defineAgent({
    name: 'reviewer',
    model: scriptedModel((request): ScriptedTurn => {
      const turn = request.messages.filter((m) => m.role === 'assistant').length;
      const task = request.messages.find((m) => m.role === 'user');
      if (turn === 0)
        return {
          toolCalls: [
            { name: 'read_file', args: { path: 'src/a.ts' } },
            { name: 'write_file', args: { path: 'src/a.ts', content: 'rewritten' } },
          ],
        };
      if (task?.role === 'user' && task.content.includes('slowly') && turn === 1)
        return { toolCalls: [{ name: 'wait_a_while', args: {} }] };
      return { text: `reviewed: ${task?.role === 'user' ? task.content : ''}` };
    }),
    instructions: 'Review.',
    tools: [...fileTools, sleepTool],
    workspaceRoot: join(dir, 'ws'),
    prepareWorkspace: async (files) => {
      if ((await files.stat('src/a.ts')) === null) await files.writeFile('src/a.ts', 'export {}');
    },
  });
}

function lead(
  dir: string,
  turns: (request: unknown, turn: number) => ScriptedTurn,
): AgentDefinition {
  return defineAgent({
    name: 'lead',
    model: scriptedModel((request) =>
      turns(request, request.messages.filter((m) => m.role === 'assistant').length),
    ),
    instructions: 'Delegate.',
    tools: [...fileTools],
    workspaceRoot: join(dir, 'ws'),
    subAgents: { agents: ['reviewer', 'deployer'], maxParallel: 3 },
    policy: {
      tools: [
        { tool: 'read_file', action: 'allow' },
        { tool: 'write_file', action: 'allow' },
        { tool: 'wait_a_while', action: 'allow' },
        { tool: 'run_subagents', action: 'allow' },
      ],
      paths: { read: ['**'], write: ['**'] },
      subAgents: [
        {
          agent: 'reviewer',
          policy: {
            tools: [
              { tool: 'read_file', action: 'allow' },
              { tool: 'write_file', action: 'allow' },
              { tool: 'wait_a_while', action: 'allow' },
            ],
            paths: { read: ['src/**'] },
          },
        },
      ],
    },
  });
}

async function until(store: SessionStore, id: SessionId, statuses: string[], ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = await store.getSession(id);
    if (statuses.includes(s.status)) return s;
    if (Date.now() > deadline) throw new Error(`${id} still ${s.status} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const decisions = (events: StoredEvent[]) =>
  events.flatMap((e) => (e.type === 'policy.decided' ? [e.data] : []));

describe('sub-agents', () => {
  it(
    "children get at most their parent's grants, run in parallel on any worker, and their results return to the parent",
    { timeout: 60_000 },
    async () => {
      const dir = tempDir('sub-agents');
      const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
      const agents = [
        lead(dir, (_r, turn): ScriptedTurn => {
          if (turn === 0)
            return {
              toolCalls: [
                {
                  name: 'run_subagents',
                  args: { tasks: [{ agent: 'deployer', task: 'ship it' }] },
                },
              ],
            };
          if (turn === 1)
            return {
              toolCalls: [
                {
                  name: 'run_subagents',
                  args: {
                    tasks: [
                      { agent: 'reviewer', task: 'review part a' },
                      // Asks for everything: gets no more than the grant.
                      {
                        agent: 'reviewer',
                        task: 'review part b',
                        policy: {
                          tools: [{ tool: '*', action: 'allow' }],
                          paths: { read: ['**'], write: ['**'] },
                        },
                      },
                    ],
                  },
                },
              ],
            };
          return { text: 'all reviewed' };
        }),
        reviewer(dir),
      ];
      const workers = [
        new Worker({ store, agents, pollMs: 5 }),
        new Worker({ store, agents, pollMs: 5 }),
      ];
      const parent = await store.createSession({ agent: 'lead', input: 'delegate' });
      const started = Date.now();
      for (const w of workers) await w.start();
      try {
        await until(store, parent.id, ['completed', 'failed']);
        const took = Date.now() - started;
        const events = await allEvents(store, parent.id);
        expect((await store.getSession(parent.id)).status).toBe('completed');
        // The sub-agent the policy grants nothing for is refused before anything starts.
        expect(decisions(events)[0]).toMatchObject({
          decision: 'deny',
          tool: 'run_subagents',
          rule: 'subAgents',
        });
        const results = events.flatMap((e) =>
          e.type === 'tool.completed' && e.data.tool === 'run_subagents' ? [e.data] : [],
        );
        expect(results[0]?.ok).toBe(false);
        expect(results[1]?.ok).toBe(true);
        const outputs = results[1]?.output as {
          agent: string;
          sessionId: SessionId;
          status: string;
          output: unknown;
        }[];
        expect(outputs.map((o) => [o.status, o.output])).toEqual([
          ['completed', 'reviewed: review part a'],
          ['completed', 'reviewed: review part b'],
        ]);
        // The parent held no worker while it waited, and was woken by its children, not its timer.
        expect(events.some((e) => e.type === 'wait.started')).toBe(true);
        expect(took).toBeLessThan(25_000);
        for (const child of outputs) {
          const childEvents = await allEvents(store, child.sessionId);
          const created = childEvents[0];
          expect(created?.type === 'session.created' && created.data.parent).toMatchObject({
            sessionId: parent.id,
            rootSessionId: parent.id,
          });
          const d = decisions(childEvents);
          expect(d.find((x) => x.tool === 'read_file')?.decision).toBe('allow');
          // Writing is denied by the grant, whatever the child asked for.
          expect(d.find((x) => x.tool === 'write_file')).toMatchObject({
            decision: 'deny',
            rule: 'paths.write',
          });
        }
      } finally {
        for (const w of workers) await w.stop();
        await store.close();
      }
    },
  );

  it('cancelling a parent cancels its children', { timeout: 60_000 }, async () => {
    const dir = tempDir('sub-agents-cancel');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const agents = [
      lead(dir, (_r, turn) =>
        turn === 0
          ? {
              toolCalls: [
                {
                  name: 'run_subagents',
                  args: { tasks: [{ agent: 'reviewer', task: 'review slowly' }] },
                },
              ],
            }
          : { text: 'done' },
      ),
      reviewer(dir),
    ];
    const worker = new Worker({ store, agents, pollMs: 5 });
    const parent = await store.createSession({ agent: 'lead', input: 'delegate' });
    await worker.start();
    try {
      await until(store, parent.id, ['waiting']);
      const children = await store.listSessions({ agent: 'reviewer' });
      expect(children).toHaveLength(1);
      const child = children[0]!.id;
      await until(store, child, ['waiting']);
      await cancelSession(store, parent.id, { by: 'alice', reason: 'enough' });
      await until(store, parent.id, ['cancelled']);
      await until(store, child, ['cancelled'], 10_000);
      const childEvents = await allEvents(store, child);
      expect(childEvents.at(-1)).toMatchObject({
        type: 'session.cancelled',
        data: { by: 'alice' },
      });
    } finally {
      await worker.stop();
      await store.close();
    }
  });

  it(
    "children's budgets are carved from what the parent has left, a request for more is refused, and what they spend is charged to the parent",
    { timeout: 60_000 },
    async () => {
      const dir = tempDir('sub-agents-budget');
      const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
      const task = (extra: object = {}) => ({ agent: 'reviewer', task: 'review', ...extra });
      const agents = [
        lead(dir, (_r, turn): ScriptedTurn => {
          const calls: ScriptedTurn[] = [
            // More children than the subAgents budget allows.
            { toolCalls: [{ name: 'run_subagents', args: { tasks: [task(), task(), task()] } }] },
            // More tool calls than the parent has left.
            {
              toolCalls: [
                {
                  name: 'run_subagents',
                  args: { tasks: [task({ budget: { toolCalls: 500 } }), task()] },
                },
              ],
            },
            { toolCalls: [{ name: 'run_subagents', args: { tasks: [task(), task()] } }] },
          ];
          return calls[turn] ?? { text: 'done' };
        }),
        reviewer(dir),
      ];
      const worker = new Worker({ store, agents, pollMs: 5 });
      const parent = await store.createSession({
        agent: 'lead',
        input: 'delegate',
        budget: { inputTokens: 1_000_000, toolCalls: 20, subAgents: 2 },
      });
      await worker.start();
      try {
        await until(store, parent.id, ['completed', 'failed', 'paused']);
        expect((await store.getSession(parent.id)).status).toBe('completed');
        const events = await allEvents(store, parent.id);
        const results = events.flatMap((e) =>
          e.type === 'tool.completed' && e.data.tool === 'run_subagents' ? [e.data] : [],
        );
        expect(results.map((r) => [r.ok, r.errorCode])).toEqual([
          [false, 'BUDGET_EXCEEDED'],
          [false, 'BUDGET_EXCEEDED'],
          [true, undefined],
        ]);
        expect(JSON.stringify(results[0]?.output)).toContain('subAgents');
        expect(JSON.stringify(results[1]?.output)).toContain('toolCalls');
        // Only the call that fits put a hold on the parent's budget: before its children existed.
        const holds = events.filter(
          (e) => e.type === 'budget.reserved' && e.data.kind === 'subagent',
        );
        expect(holds).toHaveLength(1);
        const hold = holds[0]!;
        const outputs = results[2]?.output as { sessionId: SessionId }[];
        let childInput = 0;
        let childToolCalls = 0;
        for (const { sessionId } of outputs) {
          const childEvents = await allEvents(store, sessionId);
          const created = childEvents[0];
          if (created?.type !== 'session.created') throw new Error('no session.created');
          expect(created.atMs).toBeGreaterThanOrEqual(hold.atMs);
          // Tool calls: 20, less the three run_subagents calls, shared by two; tokens likewise.
          expect(created.data.budget?.toolCalls).toBe(8);
          expect(created.data.budget?.subAgents).toBe(0);
          expect(created.data.budget?.inputTokens).toBeGreaterThan(400_000);
          for (const e of childEvents) {
            if (e.type === 'budget.settled') childInput += e.data.inputTokens;
            if (e.type === 'tool.started') childToolCalls++;
          }
        }
        expect(childInput).toBeGreaterThan(0);
        // The hold is settled once, with the children's spend, in the commit of the call's result.
        const settled = events.filter(
          (e) =>
            e.type === 'budget.settled' &&
            e.data.reservationId ===
              (hold.type === 'budget.reserved' ? hold.data.reservationId : ''),
        );
        expect(settled).toHaveLength(1);
        expect(settled[0]?.data).toMatchObject({
          inputTokens: childInput,
          toolCalls: childToolCalls,
          subAgents: 0,
        });
        const completed = events.find(
          (e) => e.type === 'tool.completed' && e.data.tool === 'run_subagents' && e.data.ok,
        );
        expect(completed?.seq).toBe((settled[0]?.seq ?? 0) + 1);
        expect(completed?.atMs).toBe(settled[0]?.atMs);
      } finally {
        await worker.stop();
        await store.close();
      }
    },
  );
});
