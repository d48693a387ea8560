import {
  approvalSignalPrefix,
  budgetFlagOf,
  subAgentSignalPrefix,
  type BudgetName,
  type SessionId,
  type SessionRecord,
  type SessionStore,
} from '@longrun/core';
import { childSessionId, maxChildrenPerCall, subAgentsToolName } from './sub-agent-ids.ts';

/**
 * A session below a waiting `run_subagents` call that will not go on until a person acts: it is
 * paused (its budget, a gate, loop control, an unknown outcome, a worker that could not run it),
 * or it waits for a person's approval. The call cannot end before it does.
 */
export interface HeldSubAgent {
  sessionId: SessionId;
  agent: string;
  held: 'paused' | 'approval';
  /** The approval it waits for (`held: 'approval'`). */
  approvalId?: string;
  /** Its own status reason: why it stopped. */
  reason: string | null;
  /** The sessions between the call and it, outermost first; empty for the call's own child. */
  under: { sessionId: SessionId; agent: string }[];
}

/**
 * How far a look goes down a tree, so that a parent's re-check stays a bounded number of reads
 * (one per waiting call below it) whatever the tree: levels, and sessions looked at in all.
 */
export const deepestLevel = 8;
const mostSessionsLooked = 1_000;

/** The call a `subagent:<step>:<callIndex>` signal (a parent's wait) names; null for another. */
export function subAgentCallOf(signal: string | null): { step: number; callIndex: number } | null {
  if (signal === null || !signal.startsWith(subAgentSignalPrefix)) return null;
  const match = /^(\d+):(\d+)$/.exec(signal.slice(subAgentSignalPrefix.length));
  return match === null ? null : { step: Number(match[1]), callIndex: Number(match[2]) };
}

function heldBy(record: SessionRecord): HeldSubAgent['held'] | null {
  if (record.status === 'paused') return 'paused';
  if (record.status === 'waiting' && record.waitingFor?.startsWith(approvalSignalPrefix) === true)
    return 'approval';
  return null;
}

/**
 * The children a call started, in task order, read in one request: their ids are derived from
 * the call (`childSessionId`), so neither the parent's log nor its arguments need reading.
 */
async function childrenOf(
  store: SessionStore,
  parentId: string,
  call: { step: number; callIndex: number },
): Promise<SessionRecord[]> {
  const ids = Array.from({ length: maxChildrenPerCall }, (_, i) =>
    childSessionId(parentId, call.step, call.callIndex, i),
  );
  const found = new Map((await store.getSessions(ids)).map((s) => [s.id, s]));
  return ids.flatMap((id) => found.get(id) ?? []);
}

/**
 * The sessions below a parent's call that wait for a person, nearest first: its children, and
 * below each child that itself waits on a `run_subagents` call, that call's children, and so on.
 * Read from the store's session records alone, so any worker, and any restart, sees the same.
 */
export async function heldSubAgents(
  store: SessionStore,
  parentId: string,
  call: { step: number; callIndex: number },
): Promise<HeldSubAgent[]> {
  const held: HeldSubAgent[] = [];
  let level = [{ parentId, call, under: [] as HeldSubAgent['under'] }];
  let looked = 0;
  for (let depth = 0; depth < deepestLevel && level.length > 0; depth++) {
    const next: typeof level = [];
    for (const { parentId: id, call: at, under } of level) {
      const children = await childrenOf(store, id, at);
      looked += children.length;
      for (const child of children) {
        const how = heldBy(child);
        if (how !== null) {
          const { statusReason: reason, agent, waitingFor } = child;
          const approvalId =
            how === 'approval' ? waitingFor?.slice(approvalSignalPrefix.length) : undefined;
          held.push({
            sessionId: child.id,
            agent,
            held: how,
            ...(approvalId === undefined ? {} : { approvalId }),
            reason,
            under,
          });
          continue;
        }
        const inner = child.status === 'waiting' ? subAgentCallOf(child.waitingFor) : null;
        if (inner !== null)
          next.push({
            parentId: child.id,
            call: inner,
            under: [...under, { sessionId: child.id, agent: child.agent }],
          });
      }
      if (looked >= mostSessionsLooked) return held;
    }
    level = next;
  }
  return held;
}

/**
 * The status reason of a parent waiting on a `run_subagents` call: plain while its sub-agents
 * run by themselves; naming the first that waits for a person, why, and the commands that let it
 * go on, when one does. Derived from the store each time the parent parks, so it is the same on
 * whichever worker computes it.
 */
export async function subAgentWaitReason(
  store: SessionStore,
  parentId: string,
  signal: string,
): Promise<string> {
  const call = subAgentCallOf(signal);
  const held = call === null ? [] : await heldSubAgents(store, parentId, call);
  return subAgentWaitWords(signal, held);
}

/** The words of `subAgentWaitReason`: what the parent waits for, and who must act. */
export function subAgentWaitWords(signal: string, held: readonly HeldSubAgent[]): string {
  const waits = `a ${subAgentsToolName} call waits for signal ${signal}`;
  const [first, ...rest] = held;
  if (first === undefined) return waits;
  const listed = rest.slice(0, 3).map((d) => d.sessionId);
  const more =
    rest.length === 0
      ? ''
      : ` ${rest.length === 1 ? 'Another sub-agent below this call waits' : `${rest.length} more sub-agents below this call wait`} for a person too: ${listed.join(', ')}${rest.length > listed.length ? ', …' : ''}.`;
  return `${waits}, and cannot end until a person acts: ${heldWords(first)}${more}`;
}

function heldWords(d: HeldSubAgent): string {
  const id = d.sessionId;
  const under =
    d.under.length === 0
      ? ''
      : ` (under ${d.under.map((u) => `${u.agent} ${u.sessionId}`).join(' > ')})`;
  const who = `sub-agent ${d.agent} ${id}${under}`;
  const cancel = `or cancel it: longrun sessions cancel ${id} (the call then returns it as cancelled)`;
  const why = factOf(d.reason);
  if (d.held === 'approval') {
    const decide = `${id}${d.approvalId === undefined ? '' : ` ${d.approvalId}`}`;
    return `${who} waits for an approval: ${why}. Look at it (longrun sessions approvals ${decide}), then decide it: longrun sessions approve ${decide} or longrun sessions deny ${decide}; ${cancel}.`;
  }
  const raise = d.reason === null ? null : budgetRaiseFlags(d.reason);
  if (raise !== null)
    return `${who} is paused: ${why}. Raise its budget, which resumes it: longrun sessions budget ${id} ${raise} (what it spends is charged to the sessions above it too); ${cancel}.`;
  return `${who} is paused: ${why}. Once that is dealt with, resume it: longrun sessions resume ${id}; ${cancel}.`;
}

/** A child's reason, without the advice its own words give (`<id>` for the session's id). */
function factOf(reason: string | null): string {
  if (reason === null) return 'no reason recorded';
  const fact = reason.replace(/; raise it \(longrun sessions budget <id>[\s\S]*$/, '');
  return fact.length > 300 ? `${fact.slice(0, 299)}…` : fact;
}

/**
 * The words core's `describeBreach` pauses a session's own budget with. A tenant's daily limit
 * (`the tenant's daily …`) does not match: raising the session's budget would not let it go on.
 */
const breachWords =
  /^BUDGET_EXCEEDED: the (\S+) budget of \$?([\d.]+) is used up \(\$?([\d.]+) used(?:, and the next call needs \$?([\d.]+) more)?\)/;

/** The limits a session's own budget pause can name (`BudgetName`). */
const limitNames: readonly string[] = [
  'costUsd',
  'inputTokens',
  'outputTokens',
  'cacheTokens',
  'toolCalls',
  'wallClockMs',
  'steps',
  'subAgents',
];

/**
 * The flags of a raise that lets a session paused for its own budget go on: the limit that
 * stopped it, doubled (at least what the next call needs); wall-clock time, another period from
 * where it stopped. A suggestion a person can change; null for a reason that is not a breach.
 */
export function budgetRaiseFlags(reason: string): string | null {
  const match = breachWords.exec(reason);
  if (match === null) return null;
  const [, name = '', limitText, usedText, neededText] = match;
  const limit = Number(limitText);
  const used = Number(usedText);
  const needed = Number(neededText ?? 0);
  const perTool = name.startsWith('toolCallsPerTool.');
  if (!perTool && !limitNames.includes(name)) return null;
  const raised =
    name === 'costUsd'
      ? Number(Math.max(limit * 2, used + needed, limit + 0.01).toFixed(4))
      : Math.ceil(
          name === 'wallClockMs' ? used + limit : Math.max(limit * 2, used + needed, limit + 1),
        );
  // Core's words for the flag: the CLI's own test parses every one of them.
  return budgetFlagOf(name as BudgetName).replace('<n>', String(raised));
}
