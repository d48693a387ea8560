import {
  approvalSignalPrefix,
  subAgentSignal,
  type JsonValue,
  type SessionId,
  type SessionState,
  type SessionStore,
  type StoredEvent,
} from '@longrun/core';
import type { RunOutcome } from '../run-outcome.ts';
import { deepestLevel, subAgentCallOf } from './held-sub-agents.ts';

/** The call of a parent that started a sub-agent: what its `session.created` names. */
export interface StartedBy {
  sessionId: string;
  step: number;
  callIndex: number;
}

/**
 * What a sub-agent's session tells the call that started it, besides that it ended: it stopped
 * for a person (`paused`, or waits for an `approval`), or it goes on again (`running`: resumed,
 * or its approval decided). A parent woken by one of these looks at the sessions below it again,
 * parks with a status reason that says who waits for a person, and passes the notice on to its
 * own parent (`forwardedNotice`): one level at a time, each after its own park is committed, so
 * the level above always finds the level below parked when it looks.
 */
export type HeldNotice = 'paused' | 'approval' | 'running';
const notices: readonly string[] = ['paused', 'approval', 'running'] satisfies HeldNotice[];

/**
 * Wakes the call that started a sub-agent's session (`subagent:<step>:<callIndex>`). The payload
 * is not trusted for anything but passing a notice on: the parent reads the store. Sent after the
 * change is committed; should it be lost (the worker dies first, the store is out), the parent's
 * own re-check timer finds the change later.
 */
export async function tellParent(
  store: SessionStore,
  sessionId: SessionId,
  startedBy: StartedBy,
  status: string,
): Promise<void> {
  await store
    .sendSignal(
      startedBy.sessionId as SessionId,
      subAgentSignal(startedBy.step, startedBy.callIndex),
      {
        childSessionId: sessionId,
        status,
      },
    )
    .catch(() => undefined);
}

/** Whether the session waits for a person's decision on an approval (a tool's or a model call's). */
export function waitsForApproval(state: SessionState): boolean {
  return state.wait?.kind === 'signal' && state.wait.signal.startsWith(approvalSignalPrefix);
}

/**
 * What a sub-agent's run that ended with `outcome` (and did not end the session) tells its
 * parent, if anything; `wokenBy`: its latest resolved wait when the run started.
 */
export function noticeOf(
  outcome: RunOutcome,
  state: SessionState,
  wokenBy: SessionState['lastWake'],
): HeldNotice | null {
  if (outcome === 'paused') return 'paused';
  if (outcome !== 'waiting') return null;
  if (waitsForApproval(state)) return 'approval';
  // A parent parked again on its run_subagents call passes on the notice that woke it.
  const wait = state.wait;
  if (wait?.kind === 'signal' && subAgentCallOf(wait.signal) !== null)
    return forwardedNotice(wokenBy, state.lastWake);
  return null;
}

/**
 * The notice to pass on to its own parent, if a session that parked again on a `run_subagents`
 * wait was woken, in this run, by one: the payload of its latest resolved wait.
 */
function forwardedNotice(
  before: { waitId: string } | null,
  after: { waitId: string; payload: JsonValue } | null,
): HeldNotice | null {
  if (after === null || after.waitId === before?.waitId) return null;
  const status = (after.payload as { status?: unknown } | null)?.status;
  return typeof status === 'string' && notices.includes(status) ? (status as HeldNotice) : null;
}

/**
 * A sub-agent that ended: besides its parent (told by `tellParent`), the sessions further up whose
 * status reason still names it (it ended while they said it waited for a person, a cancel of a
 * paused session say) are woken to look again. A fork is no child: the walk stops at one.
 */
export async function tellThoseNamingIt(
  store: SessionStore,
  sessionId: SessionId,
  startedBy: StartedBy,
): Promise<void> {
  let above = await startedByOf(store, startedBy.sessionId as SessionId);
  for (let depth = 1; above !== null && depth < deepestLevel; depth++) {
    const id = above.sessionId as SessionId;
    const record = await store.getSession(id).catch(() => null);
    if (record?.status === 'waiting' && (record.statusReason ?? '').includes(sessionId))
      await tellParent(store, sessionId, above, 'ended');
    above = await startedByOf(store, id);
  }
}

/** The call that started a session, from its `session.created`; null for a root or a fork. */
async function startedByOf(store: SessionStore, id: SessionId): Promise<StartedBy | null> {
  const [first] = await store.readEvents(id, 0, 1).catch((): StoredEvent[] => []);
  if (first?.type !== 'session.created' || first.data.forkedFrom !== undefined) return null;
  const parent = first.data.parent;
  return parent === undefined
    ? null
    : { sessionId: parent.sessionId, step: parent.step, callIndex: parent.callIndex };
}
