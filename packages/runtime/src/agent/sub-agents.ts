import { z } from 'zod';
import {
  LongrunError,
  carveSubAgentBudgets,
  chargedSpend,
  checkBudget,
  checkPolicy,
  childPolicyLayers,
  event,
  heldSubAgents,
  heldToolCalls,
  isLongrunError,
  subAgentSignal,
  type Budget,
  type BudgetLedger,
  type JsonValue,
  type NewEvent,
  type PolicyLayer,
  type SessionId,
  type SessionStore,
  type Tool,
  type ToolContext,
} from '@longrun/core';
import {
  subAgentWait,
  withCallResult,
  type SubAgentWait,
  type WithCallResult,
} from '../call-waits.ts';
import { loadState } from '../load-state.ts';
import { cancelSession } from './session-commands.ts';
import { defineTool } from './define-agent.ts';
import { childSessionId, subAgentsToolName } from './sub-agent-ids.ts';
import { subAgentWaitReason } from './held-sub-agents.ts';

/** The sub-agents an agent may start (`defineAgent({ subAgents })`). */
export interface SubAgentsConfig {
  /** Names of the agents it may start; workers that run them must have them registered. */
  agents: readonly string[];
  /** Children one call may start and wait for at once (default 4, at most 128). */
  maxParallel?: number;
}

export { childSessionId, subAgentsToolName } from './sub-agent-ids.ts';

/** What the tool needs of the session that calls it. */
export interface SubAgentParent {
  store: SessionStore;
  sessionId: SessionId;
  tenantId: string;
  rootSessionId: string;
  /** The layers the parent runs under: a child gets at most these. */
  policies: readonly PolicyLayer[];
  /** The parent's budget, from which its children's are carved; absent: no budget. */
  budget?: SubAgentBudgetSource;
}

/** What the tool reads of its parent's budget, and how it records its hold on it. */
export interface SubAgentBudgetSource {
  /** The parent's ledger as of its latest commit. */
  ledger(): BudgetLedger | null | undefined;
  /** How long the parent has run, by the store's clock (for `wallClockMs`). */
  elapsedMs(): Promise<number>;
  /** Commits events to the parent's log (the hold, before any child starts). */
  append(events: NewEvent[]): Promise<void>;
}

/** The id of the hold a `run_subagents` call puts on its parent's budget. */
export function subAgentHoldId(step: number, callIndex: number): string {
  return `sub${step}_${callIndex}`;
}

const terminal = new Set(['completed', 'failed', 'cancelled']);
/** How long a parent waits before it looks at its children again, should a child's signal be lost. */
const firstLookMs = 30_000;
const latestLookMs = 10 * 60_000;

/**
 * `run_subagents`: starts one child session per task (a declared sub-agent, the task as its
 * input), waits durably — holding no worker — until every child has ended, and returns each
 * child's output or error. Children run on any worker, in parallel. Each child's policy is the
 * intersection of everything above it (`childPolicyLayers`): the parent's layers, the grant the
 * parent's policy gives that sub-agent, and the policy asked for it; asking for more than the
 * parent has gets nothing more, and a sub-agent the parent's policy does not grant is refused by
 * the policy gate before the call runs.
 */
export function subAgentsTool(config: SubAgentsConfig, parent: SubAgentParent): Tool {
  const maxParallel = config.maxParallel ?? 4;
  return defineTool({
    name: subAgentsToolName,
    description: `Starts sub-agents (${config.agents.join(', ')}) on tasks, at most ${maxParallel} at once, and waits until all have finished; returns each one's output.`,
    input: z.object({
      tasks: z
        .array(
          z.object({
            agent: z.enum(config.agents as [string, ...string[]]),
            task: z.string().min(1),
            policy: z.unknown().optional().describe('a narrower policy for this child (optional)'),
            budget: z
              .unknown()
              .optional()
              .describe(
                "this child's budget (optional; carved from the parent's remaining budget, which children that ask none share equally)",
              ),
          }),
        )
        .min(1)
        .max(maxParallel),
    }),
    effect: 'keyed',
    touches: ({ tasks }) => ({ subAgents: tasks.map((t) => t.agent) }),
    run: async ({ tasks }, context) => {
      const ids = tasks.map((_, i) =>
        childSessionId(parent.sessionId, context.step, context.callIndex, i),
      );
      const holdId = subAgentHoldId(context.step, context.callIndex);
      const budgets = await holdBudget(parent.budget, holdId, tasks, context.step);
      for (const [i, task] of tasks.entries()) {
        const asked =
          task.policy === undefined
            ? undefined
            : checkPolicy(task.policy, `the policy of task ${i}`);
        const policies = childPolicyLayers(parent.policies, task.agent, asked);
        if (policies === null)
          throw new LongrunError(
            'INVALID_ARGUMENT',
            `the policy grants no sub-agent named ${task.agent}`,
          );
        await createOnce(parent.store, {
          id: ids[i] as SessionId,
          tenantId: parent.tenantId,
          agent: task.agent,
          input: task.task,
          ...(budgets[i] === undefined ? {} : { budget: budgets[i] }),
          parent: {
            sessionId: parent.sessionId,
            rootSessionId: parent.rootSessionId,
            step: context.step,
            callIndex: context.callIndex,
            policies,
          },
        });
      }
      const wait = (context as ToolContext & { [subAgentWait]?: SubAgentWait })[subAgentWait];
      const signal = subAgentSignal(context.step, context.callIndex);
      let lookMs = firstLookMs;
      for (;;) {
        const sessions = await Promise.all(ids.map((id) => parent.store.getSession(id)));
        if (sessions.every((s) => terminal.has(s.status))) break;
        if (wait === undefined)
          throw new LongrunError('INVALID_STATE', `${subAgentsToolName} cannot wait here`);
        // Woken by a child's end, by a notice that a session below stopped for a person or went
        // on again, or, should a signal be lost, after lookMs. A child stopped for a person keeps
        // the call waiting, with a status that names it and what to do (held-sub-agents.ts). Not
        // a pause of the parent too: a paused parent is not woken by its child's end, so a child
        // put right would still leave the parent to be resumed by hand. Nor an answer to the
        // model after some bound: the child would have to be cancelled (its work lost) or left
        // to spend unsettled, and only a person can give the tree more budget or an approval.
        await wait(lookMs, () => subAgentWaitReason(parent.store, parent.sessionId, signal));
        lookMs = Math.min(lookMs * 2, latestLookMs);
      }
      // What the children spent replaces the hold, in the commit of this call's result.
      const hold = parent.budget?.ledger()?.open.find((r) => r.reservationId === holdId);
      if (hold !== undefined) {
        const record = (context as ToolContext & { [withCallResult]?: WithCallResult })[
          withCallResult
        ];
        record?.([await settlementOf(parent.store, holdId, ids)]);
      }
      return Promise.all(
        ids.map(async (id, i) => ({
          agent: tasks[i]?.agent ?? '',
          sessionId: id,
          ...(await childOutcome(parent.store, id)),
        })),
      );
    },
  });
}

/**
 * The children's budgets, carved from what the parent has left, and the hold on the parent's
 * budget that pays for them, committed before any child exists (so no child ever spends what is
 * not charged to its parent). A run of the call after a crash or a wait finds its hold open and
 * carves from the ledger as it was before it; a request for more than the parent has is refused
 * (BUDGET_EXCEEDED, recorded as the call's result) before anything starts.
 */
async function holdBudget(
  source: SubAgentBudgetSource | undefined,
  holdId: string,
  tasks: readonly { budget?: unknown }[],
  step: number,
): Promise<(Budget | undefined)[]> {
  const asked = tasks.map((t, i) =>
    t.budget === undefined ? undefined : checkBudget(t.budget, `the budget of task ${i}`),
  );
  const current = source?.ledger();
  if (source === undefined || !current || Object.keys(current.limits).length === 0) return asked;
  const held = current.open.find((r) => r.reservationId === holdId);
  const before: BudgetLedger =
    held === undefined
      ? current
      : {
          ...current,
          open: current.open.filter((r) => r !== held),
          subAgents: heldSubAgents(current) - (held.children ?? 0),
        };
  const carve = carveSubAgentBudgets(before, asked, await source.elapsedMs());
  if (!carve.ok) {
    throw new LongrunError(
      'BUDGET_EXCEEDED',
      `${subAgentsToolName} refused: ${carve.reason}; ask for less, start fewer sub-agents, or raise the parent's ${carve.limit} budget`,
    );
  }
  if (held === undefined) {
    await source.append([
      event('budget.reserved', {
        reservationId: holdId,
        kind: 'subagent',
        step,
        attempt: 0,
        modelId: subAgentsToolName,
        ...carve.hold,
      }),
    ]);
  }
  return carve.budgets;
}

/** The settlement of a call's hold: what its children spent, each by its own ledger. */
async function settlementOf(
  store: SessionStore,
  holdId: string,
  ids: readonly SessionId[],
): Promise<NewEvent> {
  const total = {
    costUsd: 0,
    inputTokens: 0,
    outputTokens: 0,
    cacheTokens: 0,
    toolCalls: 0,
    subAgents: 0,
  };
  for (const id of ids) {
    const ledger = (await loadState(store, id)).state.budget;
    if (!ledger) continue;
    const spent = chargedSpend(ledger);
    total.costUsd += spent.costUsd;
    total.inputTokens += spent.inputTokens;
    total.outputTokens += spent.outputTokens;
    total.cacheTokens += spent.cacheTokens;
    total.toolCalls += heldToolCalls(ledger);
    total.subAgents += heldSubAgents(ledger);
  }
  return event('budget.settled', { reservationId: holdId, outcome: 'responded', ...total });
}

async function createOnce(
  store: SessionStore,
  input: Parameters<SessionStore['createSession']>[0] & { id: SessionId },
): Promise<void> {
  try {
    await store.createSession(input);
  } catch (error) {
    // Made by an earlier run of this call: the same id, the same agent.
    const existing = await store.getSession(input.id).catch(() => null);
    if (existing?.agent !== input.agent) throw error;
  }
}

/** A finished child's outcome: its output, or why it failed or was cancelled. */
async function childOutcome(
  store: SessionStore,
  id: SessionId,
): Promise<{ status: string; output?: JsonValue; error?: string }> {
  const session = await store.getSession(id);
  const from = Math.max(0, session.headSeq - 20);
  const events = await store.readEvents(id, from, 40);
  for (const e of events.toReversed()) {
    if (e.type === 'session.completed') return { status: 'completed', output: e.data.output };
    if (e.type === 'session.failed')
      return { status: 'failed', error: `${e.data.code}: ${e.data.message}` };
    if (e.type === 'session.cancelled')
      return {
        status: 'cancelled',
        error: `cancelled by ${e.data.by}${e.data.reason ? `: ${e.data.reason}` : ''}`,
      };
  }
  return { status: session.status };
}

/**
 * Cancels the children of the parent's open `run_subagents` calls (the parent was cancelled).
 * A child that already ended is left as it is.
 */
export async function cancelChildren(
  store: SessionStore,
  parentId: SessionId,
  calls: readonly { step: number; callIndex: number; tool: string; args: unknown }[],
  by: string,
): Promise<void> {
  for (const call of calls) {
    if (call.tool !== subAgentsToolName) continue;
    const tasks = (call.args as { tasks?: unknown[] } | null)?.tasks;
    const count = Array.isArray(tasks) ? tasks.length : 0;
    for (let i = 0; i < count; i++) {
      const id = childSessionId(parentId, call.step, call.callIndex, i);
      await cancelSession(store, id, { by, reason: `its parent ${parentId} was cancelled` }).catch(
        (error: unknown) => {
          if (!isLongrunError(error, 'NOT_FOUND') && !isLongrunError(error, 'INVALID_STATE'))
            throw error;
        },
      );
    }
  }
}

/** A session's place in its tree of sub-agents. */
export interface SessionFamily {
  /** The session that started this one, and the root of its tree; null for a root session. */
  parent: { sessionId: string; rootSessionId: string; step: number; callIndex: number } | null;
  /** The sessions this one started (that exist yet), in the order its calls started them. */
  children: {
    sessionId: SessionId;
    agent: string;
    status: string;
    step: number;
    callIndex: number;
  }[];
}

/**
 * Reads a session's parent (from its `session.created`) and its children (derived from its
 * `run_subagents` calls, as the tool derives their ids).
 */
export async function sessionFamily(store: SessionStore, id: SessionId): Promise<SessionFamily> {
  const children: SessionFamily['children'] = [];
  let parent: SessionFamily['parent'] = null;
  for (let after = 0; ;) {
    const page = await store.readEvents(id, after, 2_000);
    for (const e of page) {
      if (e.type === 'session.created' && e.data.parent !== undefined) {
        const { sessionId, rootSessionId, step, callIndex } = e.data.parent;
        parent = { sessionId, rootSessionId, step, callIndex };
      }
      if (e.type !== 'model.responded') continue;
      for (const call of e.data.toolCalls) {
        if (call.tool !== subAgentsToolName) continue;
        const tasks = (call.args as { tasks?: unknown } | null)?.tasks;
        const count = Array.isArray(tasks) ? tasks.length : 0;
        for (let i = 0; i < count; i++) {
          const childId = childSessionId(id, e.data.step, call.callIndex, i);
          const child = await store.getSession(childId).catch(() => null);
          if (child !== null)
            children.push({
              sessionId: childId,
              agent: child.agent,
              status: child.status,
              step: e.data.step,
              callIndex: call.callIndex,
            });
        }
      }
    }
    if (page.length < 2_000) break;
    after = page.at(-1)?.seq ?? after;
  }
  return { parent, children };
}
