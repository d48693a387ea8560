import {
  signalNames,
  LongrunError,
  isLongrunError,
  approvalScopes,
  isApprovalScope,
  isRuntimeSignal,
  terminalStatuses,
  type ApprovalScope,
  type BlobRef,
  type JsonObject,
  type JsonValue,
  type SessionId,
  type SessionRecord,
  type SessionStore,
  type Signal,
  type StoredEvent,
} from '@longrun/core';
import { approvalSignal, approvalSignalPrefix, expiredReason } from './approvals.ts';

const { cancel: cancelSignal, userMessage: userMessageSignal } = signalNames;
import { resumeSignal, type ResumeRequest } from '../session-resume.ts';
import { webhookTokenHash } from '../call-waits.ts';

/**
 * What a person (CLI, HTTP API, dashboard) does to a session from outside: decide an approval,
 * send a follow-up message, cancel, resume. Each is a signal to the session, never a write to its log: the
 * worker that holds the session records the outcome at its next step boundary.
 */

/** An approval requested and not yet decided, with the call it is bound to. */
export interface PendingApproval {
  approvalId: string;
  /** A tool call, or the model call of `step` (which a gate asked a person about). */
  point: 'tool.call' | 'model.call';
  step: number;
  /** The tool call's index and tool; null for a model call. */
  callIndex: number | null;
  tool: string | null;
  /**
   * The arguments of the tool call as the log holds them (from the model turn that made it), which
   * `argsHash` binds to; {} for a model call. For a call whose arguments were too large for the
   * log, the capped view that names the whole arguments' sha256 (see `inputRef`).
   */
  args: JsonObject;
  argsHash: string;
  /**
   * Where the whole arguments are when `args` is only their capped view: their JSON text in the
   * blob store, by sha256, and its length in characters. Null when `args` is the whole of them.
   */
  inputRef: BlobRef | null;
  /** For a model call: the gate that asked, and why. */
  question: { gate: string; reason: string } | null;
  requestedAtMs: number;
  expiresAtMs: number | null;
}

/**
 * Follows a log event by event and keeps the approvals requested and not yet decided, in request
 * order. A request whose call already has a result (the session was cancelled, or the call was
 * answered otherwise) is not pending any more, decided or not. Only the latest model turn's
 * arguments are kept: a new turn starts only once every call of the previous one has a result.
 */
export class PendingApprovalTracker {
  readonly #pending = new Map<string, PendingApproval>();
  #calls = new Map<number, { args: JsonObject; inputRef: BlobRef | null }>();
  #step = -1;

  apply(e: StoredEvent): void {
    switch (e.type) {
      case 'model.responded':
        this.#step = e.data.step;
        this.#calls = new Map(
          e.data.toolCalls.map((call) => [
            call.callIndex,
            { args: call.args, inputRef: call.inputRef ?? null },
          ]),
        );
        // A response that holds its own request: the model call asked about was made.
        for (const [id, p] of this.#pending) if (p.point === 'model.call') this.#pending.delete(id);
        break;
      case 'approval.requested': {
        const request = e.data;
        const common = {
          approvalId: request.approvalId,
          step: request.step,
          argsHash: request.argsHash,
          requestedAtMs: e.atMs,
          expiresAtMs: request.expiresAtMs,
        };
        const call =
          request.point === 'model.call' || request.step !== this.#step
            ? undefined
            : this.#calls.get(request.callIndex);
        // A new request about the same call replaces an older one that nobody will answer: a
        // fork asks again what its source had asked (the source's request, copied, is not
        // waited for in the fork).
        for (const [id, p] of this.#pending)
          if (
            request.point === 'model.call'
              ? p.point === 'model.call'
              : p.point === 'tool.call' &&
                p.step === request.step &&
                p.callIndex === request.callIndex
          )
            this.#pending.delete(id);
        this.#pending.set(
          request.approvalId,
          request.point === 'model.call'
            ? {
                ...common,
                point: 'model.call',
                callIndex: null,
                tool: null,
                args: {},
                inputRef: null,
                question: { gate: request.gate, reason: request.reason },
              }
            : {
                ...common,
                point: 'tool.call',
                callIndex: request.callIndex,
                tool: request.tool,
                args: call?.args ?? {},
                inputRef: call?.inputRef ?? null,
                question: null,
              },
        );
        break;
      }
      case 'model.requested':
      case 'session.failed':
      case 'session.cancelled':
        // A model call asked about is no longer pending once it is made or the session ended.
        for (const [id, p] of this.#pending) if (p.point === 'model.call') this.#pending.delete(id);
        break;
      case 'approval.granted':
      case 'approval.denied':
        this.#pending.delete(e.data.approvalId);
        break;
      case 'tool.completed':
      case 'tool.interrupted':
        for (const [id, p] of this.#pending)
          if (p.step === e.data.step && p.callIndex === e.data.callIndex) this.#pending.delete(id);
        break;
      default:
        break;
    }
  }

  pending(): PendingApproval[] {
    return [...this.#pending.values()];
  }
}

/** Approvals requested and not yet decided, from the log, in request order. */
export function pendingApprovals(events: Iterable<StoredEvent>): PendingApproval[] {
  const tracker = new PendingApprovalTracker();
  for (const e of events) tracker.apply(e);
  return tracker.pending();
}

/** Ids of every approval the log ever requested. */
function requestedApprovalIds(events: Iterable<StoredEvent>): Set<string> {
  const ids = new Set<string>();
  for (const e of events) if (e.type === 'approval.requested') ids.add(e.data.approvalId);
  return ids;
}

async function readWholeLog(store: SessionStore, id: SessionId): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for (;;) {
    const page = await store.readEvents(id, events.length, 2_000);
    events.push(...page);
    if (page.length < 2_000) return events;
  }
}

export interface ApprovalDecisionRequest {
  /** Which approval; may be left out when exactly one is pending. */
  approvalId?: string;
  decision: 'granted' | 'denied';
  /** Who decided, recorded in the log (`alice@host`, `api-key:<key id>`). */
  by: string;
  reason: string | null;
  /**
   * How far a grant reaches (default `call`); `arguments` and `tool` only for a tool call's
   * approval to run it, and only with `granted`.
   */
  scope?: ApprovalScope;
}

/**
 * Sends a person's decision on a pending approval, bound to the arguments hash the request named
 * (a decision about other arguments is ignored by the harness). Returns the approval decided.
 * NOT_FOUND when the session never requested it; INVALID_STATE when it is no longer pending or a
 * decision on it was already sent (so a decided approval cannot be decided again nor re-scoped);
 * GONE when it expired (the call is answered as denied); INVALID_ARGUMENT for a scope that cannot
 * apply. Nothing is sent when it refuses.
 */
export async function decideApproval(
  store: SessionStore,
  id: SessionId,
  request: ApprovalDecisionRequest,
): Promise<PendingApproval> {
  const events = await readWholeLog(store, id);
  const pending = pendingApprovals(events);
  const { approvalId } = request;
  const target =
    approvalId === undefined && pending.length === 1
      ? pending[0]
      : pending.find((p) => p.approvalId === approvalId);
  if (target === undefined) {
    const list =
      pending
        .map((p) => `${p.approvalId} (${p.tool ?? `model call of step ${p.step}`})`)
        .join(', ') || 'none';
    if (approvalId !== undefined && requestedApprovalIds(events).has(approvalId)) {
      throw notPending(events, id, approvalId, list);
    }
    throw new LongrunError(
      'NOT_FOUND',
      `no pending approval ${approvalId ?? '(give its id)'} in session ${id}; pending: ${list}`,
    );
  }
  checkScope(events, target, request);
  await refuseExpired(store, id, target);
  // A decision already sent and not yet recorded by a worker decides it too: a second one is
  // refused the same way as one after the record (the first one sent is the one that counts).
  const [sent] = await store.pendingSignals(id, approvalSignal(target.approvalId));
  if (sent !== undefined) {
    const by = (sent.payload as { by?: unknown } | null)?.by;
    throw new LongrunError(
      'INVALID_STATE',
      `approval ${target.approvalId} of session ${id} is already decided${typeof by === 'string' ? ` by ${by}` : ''}; the worker records that decision at its next step`,
    );
  }
  // Sent once: of decisions sent at the same instant, the store lets exactly one land; the
  // others are refused here as a later one is above.
  await store
    .sendSignal(
      id,
      approvalSignal(target.approvalId),
      {
        decision: request.decision,
        by: request.by,
        reason: request.reason,
        argsHash: target.argsHash,
        scope: request.scope ?? 'call',
      },
      { once: true },
    )
    .catch((error: unknown) => {
      if (!isLongrunError(error, 'INVALID_STATE')) throw error;
      throw new LongrunError(
        'INVALID_STATE',
        `approval ${target.approvalId} of session ${id} is already decided: another decision was sent first, and the first one sent is the one that counts`,
      );
    });
  return target;
}

/** The reason an approval the log requested can no longer be decided. */
function notPending(
  events: readonly StoredEvent[],
  id: SessionId,
  approvalId: string,
  pendingList: string,
): LongrunError {
  const decided = events.find(
    (e) =>
      (e.type === 'approval.granted' || e.type === 'approval.denied') &&
      e.data.approvalId === approvalId,
  );
  if (decided?.type === 'approval.denied' && decided.data.reason === expiredReason) {
    return new LongrunError(
      'GONE',
      `approval ${approvalId} of session ${id} expired at ${new Date(decided.atMs).toISOString()} and its call was answered as denied; the agent may ask again`,
    );
  }
  const how =
    decided?.type === 'approval.granted'
      ? `granted by ${decided.data.by} (scope ${decided.data.scope ?? 'call'})`
      : decided?.type === 'approval.denied'
        ? `denied by ${decided.data.by}`
        : 'no longer pending (its call was answered otherwise)';
  return new LongrunError(
    'INVALID_STATE',
    `approval ${approvalId} of session ${id} was already ${how}; a decision cannot be changed or re-scoped. Pending: ${pendingList}`,
  );
}

/** A scope past the call only on a grant of a tool call's approval to run it. */
function checkScope(
  events: readonly StoredEvent[],
  target: PendingApproval,
  request: ApprovalDecisionRequest,
): void {
  const scope = request.scope ?? 'call';
  if (!isApprovalScope(scope)) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `approval scope must be one of ${approvalScopes.join(', ')} (got ${JSON.stringify(String(scope)).slice(0, 40)})`,
    );
  }
  if (scope === 'call') return;
  if (request.decision !== 'granted') {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `a denial decides approval ${target.approvalId} only; scope ${scope} applies to a grant`,
    );
  }
  const requested = events.find(
    (e) => e.type === 'approval.requested' && e.data.approvalId === target.approvalId,
  );
  const rerun =
    requested?.type === 'approval.requested' &&
    requested.data.point !== 'model.call' &&
    requested.data.purpose === 'rerun';
  if (target.point === 'model.call' || rerun) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `approval ${target.approvalId} is about ${target.point === 'model.call' ? `the model call of step ${target.step}` : `re-running an interrupted ${target.tool ?? ''} call`}, which is decided for that call only; leave the scope out (or use call)`,
    );
  }
}

/** An approval past its expiry was answered as denied (or will be, when a worker gets to it). */
async function refuseExpired(
  store: SessionStore,
  id: SessionId,
  target: PendingApproval,
): Promise<void> {
  if (target.expiresAtMs === null || (await store.nowMs()) < target.expiresAtMs) return;
  throw new LongrunError(
    'GONE',
    `approval ${target.approvalId} of session ${id} expired at ${new Date(target.expiresAtMs).toISOString()}; its call is answered as denied. The agent may ask again; raise the agent's approvalTtlMs to give people longer`,
  );
}

/**
 * Asks for a session to be cancelled; the worker records it at its next step boundary (a waiting
 * or paused session is woken for it). A finished session cannot be cancelled: INVALID_STATE.
 */
export async function cancelSession(
  store: SessionStore,
  id: SessionId,
  request: { by: string; reason: string | null },
): Promise<SessionRecord> {
  const session = await store.getSession(id);
  if (terminalStatuses.includes(session.status)) {
    throw new LongrunError(
      'INVALID_STATE',
      `session ${id} is already ${session.status}; there is nothing to cancel`,
    );
  }
  await store.sendSignal(
    id,
    cancelSignal,
    { by: request.by, reason: request.reason },
    { wake: 'interrupt' },
  );
  return session;
}

/**
 * Asks for a paused session to be run again: the worker parked it for a reason a person can act
 * on (a workspace it could not restore, a sandbox that could not run), and the person says it is dealt
 * with. The runner that claims it records `session.resumed`. Only a paused session can be resumed
 * (INVALID_STATE, saying what to do instead, for any other).
 */
export async function resumeSession(
  store: SessionStore,
  id: SessionId,
  request: { by: string; reason: string | null },
): Promise<SessionRecord> {
  const session = await store.getSession(id);
  if (session.status !== 'paused') {
    throw new LongrunError('INVALID_STATE', `${notPaused(session)}; only a paused session resumes`);
  }
  // The head the session was paused at tells the runner this request from one that arrives
  // after the session already moved on (another person resumed or cancelled it meanwhile).
  const payload = {
    by: request.by,
    reason: request.reason,
    pausedAtSeq: session.headSeq,
  } satisfies ResumeRequest;
  await store.sendSignal(id, resumeSignal, payload, { wake: 'interrupt' });
  return session;
}

function notPaused(s: SessionRecord): string {
  switch (s.status) {
    case 'queued':
    case 'running':
      return `session ${s.id} is ${s.status}, not paused: there is nothing to resume`;
    case 'waiting':
      return `session ${s.id} is waiting${s.waitingFor === null ? '' : ` for ${s.waitingFor}`}, not paused: it goes on by itself when its wait ends${s.waitingFor?.startsWith(approvalSignalPrefix) ? ' (decide the approval)' : ''}`;
    case 'completed':
      return `session ${s.id} is completed, not paused: send it a message to start a new turn`;
    default:
      return `session ${s.id} is ${s.status}, which is final: start a new session or fork this one`;
  }
}

/**
 * Adds a follow-up message: a new turn of a running session, or reopens a completed one. A failed
 * or cancelled session stays ended (INVALID_STATE): start a new session instead.
 */
export async function sendMessage(store: SessionStore, id: SessionId, text: string): Promise<void> {
  const session = await store.getSession(id);
  if (session.status === 'failed' || session.status === 'cancelled') {
    throw new LongrunError(
      'INVALID_STATE',
      `session ${id} is ${session.status} and cannot take a message; start a new session`,
    );
  }
  await store.sendSignal(id, userMessageSignal, { text }, { wake: 'reopen' });
}

/** Signal names the runtime's own commands use: sent only through those commands. */
/** Core's signal table: the names the runtime sends and reads itself. */

/**
 * Delivers a signal of the caller's own (`wait.started` for it wakes the session that waits for
 * it). The runtime's names — messages, cancel, resume, approval decisions — are refused with
 * INVALID_ARGUMENT naming the command to use, so none of their checks is bypassed.
 */
export async function signalSession(
  store: SessionStore,
  id: SessionId,
  name: string,
  payload: JsonValue,
): Promise<Signal> {
  if (isRuntimeSignal(name)) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `signal ${JSON.stringify(name)} is the runtime's own; use the command for it (message, cancel, resume, approve, deny, or the webhook's URL)`,
    );
  }
  return store.sendSignal(id, name, payload);
}

/**
 * Delivers a POST to a webhook by its token (`ToolContext.createWebhook`): the token is the
 * authority, so no tenant is checked. NOT_FOUND for a token no hook has; GONE for a hook that
 * expired, was single-use and delivered, or whose session ended.
 */
export async function deliverWebhook(
  store: SessionStore,
  token: string,
  payload: JsonValue,
): Promise<Signal> {
  return store.webhooks.deliver(webhookTokenHash(token), payload);
}
