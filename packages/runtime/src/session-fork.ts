import { randomUUID } from 'node:crypto';
import {
  LongrunError,
  event,
  fold,
  startedKeyOf,
  terminalStatuses,
  workerId,
  type EffectChange,
  type Lease,
  type NewEvent,
  type SessionId,
  type SessionRecord,
  type SessionStatus,
  type SessionStore,
  type StoredEvent,
} from '@longrun/core';

export interface ForkSessionOptions {
  /** Fork after this seq (default: the source's head). */
  atSeq?: number;
  /** Default: the source's tenant. */
  tenantId?: string;
}

const pageSize = 500;
const leaseMs = 60_000;

/**
 * Forks a session: a new session whose log starts as a copy of the source's first `atSeq` events
 * (so it folds to the same state, the same transcript and the same workspace snapshot — a
 * manifest hash, not a copy of the files), and which then goes its own way. Works on a finished
 * session as well as a live one; the source is only read. Its `session.created` names the source
 * and the seq (`forkedFrom`). A fork taken inside a tool call (after `tool.started`, before its
 * result) resumes that call by its effect class, like any recovery — with the source's
 * idempotency key, which the copied `tool.started` and effect record carry: a `keyed` call in
 * flight at the fork point is applied once by the system it changes, not once per session.
 * What a person decided in the source (approvals, grants for the rest of the session) does not
 * carry over: the fork asks again (`SessionState.forkedAtSeq`). A sub-agent's fork keeps the
 * policies its parent gave it.
 */
export async function forkSession(
  store: SessionStore,
  sourceId: SessionId,
  options: ForkSessionOptions = {},
): Promise<SessionRecord> {
  const source = await store.getSession(sourceId);
  const atSeq = options.atSeq ?? source.headSeq;
  if (!Number.isSafeInteger(atSeq) || atSeq < 1 || atSeq > source.headSeq) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `fork point ${String(atSeq)} is outside session ${sourceId}'s log (1–${source.headSeq}); pick a seq from \`longrun sessions show ${sourceId}\``,
    );
  }
  const [created] = await store.readEvents(sourceId, 0, 1);
  if (created?.type !== 'session.created') {
    throw new LongrunError('INTERNAL', `session ${sourceId} does not start with session.created`);
  }
  const owner = workerId(`fork-${randomUUID().slice(0, 8)}`);
  // Created held by this call: a worker that claimed it before the copy ended would run the task
  // from its first step, tools and all.
  const fork = await store.createSession({
    agent: created.data.agent,
    input: created.data.input,
    tenantId: options.tenantId ?? source.tenantId,
    forkedFrom: { sessionId: sourceId, seq: atSeq },
    // The budget and what was spent under it carry over (the copied events charge the fork), and
    // so does who gave it: a fork taken before its first budget.set holds it to the agent's as
    // the source did.
    ...(created.data.budget === undefined ? {} : { budget: created.data.budget }),
    ...(created.data.budgetSetBy === undefined ? {} : { budgetSetBy: created.data.budgetSetBy }),
    // A sub-agent's fork runs under the policies its parent gave it, as the sub-agent did: never
    // more than its parent's grants. The parent is not waiting for it (it does not tell it when it
    // ends: AgentRunner's #tellParent).
    ...(created.data.parent === undefined ? {} : { parent: created.data.parent }),
    heldBy: { owner, leaseMs },
  });
  if (fork.leaseOwner !== owner || fork.leaseExpiresAtMs === null)
    throw new LongrunError('INTERNAL', `the new fork ${fork.id} was not created held by ${owner}`);
  const lease: Lease = {
    sessionId: fork.id,
    owner,
    epoch: fork.leaseEpoch,
    expiresAtMs: fork.leaseExpiresAtMs,
    headSeq: fork.headSeq,
  };
  // Folded page by page: the fork's status comes from the state at the fork point.
  let state = fold([created]);
  let head = 1;
  const effects = new EffectCopier();
  try {
    while (head < atSeq) {
      const page = await store.readEvents(sourceId, head, Math.min(pageSize, atSeq - head));
      if (page.length === 0) break;
      state = fold(page, state);
      const last = head + page.length === atSeq;
      await store.append({
        fence: lease,
        expectedSeq: head,
        events: page.map(forkedEvent),
        effects: page.flatMap((e) => effects.changeFor(e)),
        ...(last ? { status: { status: forkStatus(state.status) } } : {}),
      });
      head += page.length;
    }
  } finally {
    await store.releaseLease(lease).catch(() => undefined);
  }
  return store.getSession(fork.id);
}

/**
 * A source event as the fork records it. A `tool.started` that left its key to be derived gets
 * it written out: derived in the fork, it would name the fork's session, not the source's.
 */
function forkedEvent(e: StoredEvent): NewEvent {
  if (e.type === 'tool.started' && e.data.idempotencyKey === undefined)
    return event('tool.started', { ...e.data, idempotencyKey: startedKeyOf(e) });
  return { type: e.type, data: e.data } as NewEvent;
}

/**
 * The effect records of the copied calls, as the source's tool events made them: the fork's
 * records carry the source's idempotency keys, and a call it resumes counts its next attempt.
 */
export class EffectCopier {
  readonly #started = new Map<string, Omit<EffectChange, 'status'>>();

  changeFor(e: StoredEvent): EffectChange[] {
    const at = (step: number, callIndex: number) => `${step}:${callIndex}`;
    switch (e.type) {
      case 'tool.started': {
        const { step, callIndex, tool, effect } = e.data;
        const record = { step, callIndex, tool, effect, idempotencyKey: startedKeyOf(e) };
        this.#started.set(at(step, callIndex), record);
        return [{ ...record, status: 'started' }];
      }
      case 'tool.completed':
      case 'tool.interrupted': {
        const record = this.#started.get(at(e.data.step, e.data.callIndex));
        if (record === undefined) return [];
        return [{ ...record, status: e.type === 'tool.completed' ? 'completed' : 'unknown' }];
      }
      default:
        return [];
    }
  }
}

/** A finished source gives a finished fork; anything else is picked up by a worker as it stands. */
export function forkStatus(status: ReturnType<typeof fold>['status']): SessionStatus {
  const finished = terminalStatuses.find((s) => s === status);
  return finished ?? 'queued';
}
