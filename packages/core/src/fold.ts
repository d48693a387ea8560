import { failureCode, type SessionFailureCode } from './failure-codes.ts';
import type { ErrorCode } from './errors.ts';
import { LongrunError } from './errors.ts';
import { startedKeyOf } from './events.ts';
import type {
  BlobRef,
  EffectClass,
  OutcomeStatus,
  SessionParent,
  StoredEvent,
  ToolCall,
  TokenUsage,
  WaitSpec,
} from './events.ts';
import type { JsonValue } from './json.ts';
import { foldLoopHistory, type LoopHistory } from './loop-history.ts';
import { workspaceAfter, type WorkspaceState } from './workspace-state.ts';
import {
  countToolCall,
  newLedger,
  reserve,
  settle,
  type BudgetLedger,
} from './budget/budget-ledger.ts';

export interface OpenCall extends ToolCall {
  /** Set once `tool.started` is durable: the key the tool was (or will be) run with. */
  started: { effect: EffectClass; idempotencyKey: string } | null;
  /** Set once the call has exactly one result in the log. */
  result: { ok: boolean; output: JsonValue; interrupted: boolean } | null;
  /** For a call that needs approval: where the approval stands. */
  approval?: {
    approvalId: string;
    argsHash: string;
    status: 'requested' | 'granted' | 'denied';
    reason: string | null;
    /** Absent in states checkpointed before recovery approvals existed: `run`. */
    purpose?: 'run' | 'rerun';
  };
  /**
   * The durable waits the call's code made (its context's wait methods), by ordinal, with what
   * each resolved with. Absent on a call that never waited.
   */
  waits?: CallWait[];
  /**
   * `waiting`: the call is suspended on its latest wait; `resumable`: that wait resolved and the
   * call is to run again from its start (`tool.resumed`, then the tool). Absent: not suspended —
   * a started call without a result and without this was interrupted.
   */
  suspended?: 'waiting' | 'resumable';
}

/** One durable wait of a tool call's code: its ordinal, its id, and its value once resolved. */
export interface CallWait {
  ordinal: number;
  waitId: string;
  /** What the wait was (a re-run that makes another kind of wait at this ordinal is refused). */
  kind?: 'timer' | 'signal';
  /** `signalId` null: a timer came due, or a signal wait timed out. */
  resolved: { signalId: string | null; payload: JsonValue } | null;
}

export type FoldedStatus = 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled';

/**
 * The state a worker needs to take the next step, folded from the log. It is plain JSON so that
 * a checkpoint can store it, and its size does not grow with the number of steps: only the
 * current step's calls are kept, never the whole conversation.
 */
export interface SessionState {
  agent: string;
  input: JsonValue;
  /** A sub-agent's session: its parent, root and policies (from `session.created`). */
  parent?: SessionParent;
  /**
   * A fork's fork point (`session.created`'s `forkedFrom.seq`): its events up to it are the
   * source's, copied. A person's decisions among them were made for the source: the fork does not
   * inherit them (see `approval.granted`). Absent on a session that is not a fork.
   */
  forkedAtSeq?: number;
  status: FoldedStatus;
  /** Seq of the last event folded in. */
  seq: number;
  /** Model turns recorded so far. */
  steps: number;
  /** Tool calls of the latest model turn, in call order. */
  calls: OpenCall[];
  wait: ({ waitId: string } & WaitSpec) | null;
  /** The latest resolved wait: its payload, and how many model turns had been taken when it resolved. */
  lastWake: { waitId: string; payload: JsonValue; afterSteps: number } | null;
  usage: TokenUsage;
  toolCallsCompleted: number;
  output: JsonValue | null;
  failure: { code: SessionFailureCode; message: string } | null;
  /** Turns started by a person: the task, then each follow-up message. */
  turns: number;
  /** The latest model response; null while the current turn awaits one. */
  lastResponse: { text: string; toolCallCount: number; finishReason: string | null } | null;
  /** A model call sent and not yet answered or failed: a worker that resumes finds it interrupted. */
  modelAttempt: { step: number; attempt: number } | null;
  /** Failed attempts of the model call for the next step. */
  failedAttempts: number;
  /**
   * Of those, the ones the model caused: a worker that stopped mid-call (WORKER_STOPPED) is not
   * the model failing, and does not spend its retry budget. Absent in states checkpointed before.
   */
  modelFailures?: number;
  /**
   * The latest of those failures, for the words of a session that fails on them; `seq` (absent
   * in older checkpoints) is its event's.
   */
  lastModelFailure?: { code: ErrorCode; message: string; seq?: number } | null;
  /**
   * Compactions of the transcript so far and the seq of the latest (`context.compacted`).
   * Absent in older checkpoints and in sessions never compacted.
   */
  context?: { compactions: number; lastSeq: number };
  /**
   * The latest approval a gate asked a person for before a model call, and where it stands; it
   * answers only for the model call of its `step`. Absent in older checkpoints.
   */
  modelApproval?: {
    approvalId: string;
    step: number;
    argsHash: string;
    status: 'requested' | 'granted' | 'denied';
    reason: string | null;
  } | null;
  /**
   * The workspace as of the latest snapshot: its stored manifest and the edits recorded since
   * (WorkspaceState), what a resuming worker restores. Absent in older checkpoints.
   */
  workspace?: WorkspaceState | null;
  /**
   * The current turn's outcome, once an evaluator has judged it (agents that declare an outcome):
   * `evaluations` in this turn, and how it ended (`pending` while the agent works on feedback).
   * A follow-up message starts a new turn and clears it. Absent in older checkpoints.
   */
  outcome?: { evaluations: number; status: OutcomeStatus | 'pending' } | null;
  /**
   * Loop control's bounded window of recent calls, results and runs per tool (loop-history.ts).
   * Absent until the first tool result or change, and in checkpoints of format 6 and before.
   */
  loop?: LoopHistory;
  /**
   * Tool outputs kept in the blob store (`tool.completed` with `outputRef`), by `step:callIndex`:
   * what `read_tool_result` may page through. Absent: none.
   */
  largeResults?: Record<string, BlobRef>;
  /**
   * Tool call arguments kept in the blob store (a call of `model.responded` with `inputRef`), by
   * `step:callIndex`: what `read_tool_result` may page through with `part: "input"`. Absent: none.
   */
  largeInputs?: Record<string, BlobRef>;
  /** The session's budget and what it has spent; null or absent: no budget. */
  budget?: BudgetLedger | null;
  /** When `session.created` was committed (the store's clock): where `wallClockMs` runs from. */
  createdAtMs?: number;
  /**
   * Grants a person made for the rest of the session (`approval.granted` with scope `arguments`
   * or `tool`), oldest first. They stay across turns and resumes. Absent in older checkpoints and
   * in sessions that never had one.
   */
  grants?: SessionGrant[];
}

/** A tool call grant that reaches past its call: see `ApprovalScope`. */
export interface SessionGrant {
  /** The approval it was granted on. */
  approvalId: string;
  tool: string;
  scope: 'arguments' | 'tool';
  /** For scope `arguments`: the hash of the tool and the exact arguments (`argsHash`). */
  argsHash: string | null;
  by: string;
}

/** The session grant that covers a call of `tool` with arguments hashing to `hash`, if any. */
export function grantFor(
  state: SessionState,
  tool: string,
  hash: string,
): SessionGrant | undefined {
  return state.grants?.find((g) => g.tool === tool && (g.scope === 'tool' || g.argsHash === hash));
}

export function initialState(): SessionState {
  return {
    agent: '',
    input: null,
    status: 'running',
    seq: 0,
    steps: 0,
    calls: [],
    wait: null,
    lastWake: null,
    usage: { inputTokens: 0, outputTokens: 0 },
    toolCallsCompleted: 0,
    output: null,
    failure: null,
    turns: 0,
    lastResponse: null,
    modelAttempt: null,
    failedAttempts: 0,
    modelFailures: 0,
    lastModelFailure: null,
    workspace: null,
  };
}

/** Folds events in seq order into a state. Pure: the same events always give the same state. */
export function fold(
  events: Iterable<StoredEvent>,
  from: SessionState = initialState(),
): SessionState {
  let state = from;
  for (const event of events) state = applyEvent(state, event);
  return state;
}

/** A response's calls whose arguments went to the blob store, added to `largeInputs`. */
function keptInputs(
  state: SessionState,
  step: number,
  calls: readonly ToolCall[],
): Pick<SessionState, 'largeInputs'> {
  const kept = calls.flatMap((c) =>
    c.inputRef === undefined ? [] : [[`${step}:${c.callIndex}`, c.inputRef] as const],
  );
  if (kept.length === 0) return {};
  return { largeInputs: { ...state.largeInputs, ...Object.fromEntries(kept) } };
}

export function applyEvent(state: SessionState, event: StoredEvent): SessionState {
  const next = applyEventData(state, event);
  // Loop control's history is folded beside what each event does, in one place (loop-history.ts).
  const loop = foldLoopHistory(next, event);
  // `next` is always a new object (applyEventData copies the state first): it takes the history.
  if (loop !== next.loop) next.loop = loop;
  return next;
}

function applyEventData(state: SessionState, event: StoredEvent): SessionState {
  if (event.seq !== state.seq + 1) {
    throw new LongrunError(
      'INTERNAL',
      `fold expected seq ${state.seq + 1} but got ${event.seq} in session ${event.sessionId}: the log has a gap`,
    );
  }
  const next: SessionState = { ...state, seq: event.seq };
  switch (event.type) {
    case 'session.created': {
      const { budget, budgetSetBy } = event.data;
      return {
        ...next,
        agent: event.data.agent,
        input: event.data.input,
        turns: 1,
        ...(event.data.parent === undefined ? {} : { parent: event.data.parent }),
        ...(event.data.forkedFrom === undefined ? {} : { forkedAtSeq: event.data.forkedFrom.seq }),
        createdAtMs: event.atMs,
        ...(budget === undefined
          ? {}
          : {
              budget: {
                ...newLedger(budget),
                ...(budgetSetBy === undefined ? {} : { setBy: budgetSetBy }),
              },
            }),
      };
    }
    case 'user.messaged':
      return {
        ...next,
        status: 'running',
        turns: next.turns + 1,
        lastResponse: null,
        output: null,
        outcome: null,
      };
    // The events of every step (model.requested, model.responded, tool.started, tool.completed)
    // change `next` in place: it is this fold's own copy, and copying it again per field changed
    // was most of the fold's cost.
    case 'model.requested':
      next.modelAttempt = { step: event.data.step, attempt: event.data.attempt };
      return next;
    case 'model.streamed':
    case 'gate.decided':
    case 'policy.decided':
      return next;
    case 'model.failed': {
      const { code, message } = event.data;
      const byWorker = code === failureCode.workerStopped;
      return {
        ...next,
        modelAttempt: null,
        failedAttempts: next.failedAttempts + 1,
        modelFailures: (next.modelFailures ?? 0) + (byWorker ? 0 : 1),
        lastModelFailure: byWorker
          ? (next.lastModelFailure ?? null)
          : { code, message, seq: event.seq },
      };
    }
    case 'model.responded': {
      const { largeInputs } = keptInputs(next, event.data.step, event.data.toolCalls);
      if (largeInputs !== undefined) next.largeInputs = largeInputs;
      next.modelAttempt = null;
      next.failedAttempts = 0;
      next.modelFailures = 0;
      next.lastModelFailure = null;
      next.lastResponse = {
        text: event.data.text,
        toolCallCount: event.data.toolCalls.length,
        finishReason: event.data.finishReason ?? null,
      };
      next.steps = next.steps + 1;
      next.calls = event.data.toolCalls.map((call) => ({ ...call, started: null, result: null }));
      next.usage = {
        inputTokens: next.usage.inputTokens + event.data.usage.inputTokens,
        outputTokens: next.usage.outputTokens + event.data.usage.outputTokens,
      };
      return next;
    }
    case 'tool.started': {
      next.calls = changedCalls(next, event.data.callIndex, (call) => ({
        ...call,
        started: { effect: event.data.effect, idempotencyKey: startedKeyOf(event) },
      }));
      const ledger = next.budget;
      if (ledger) next.budget = countToolCall(ledger, event.data.tool);
      return next;
    }
    case 'tool.completed': {
      next.calls = changedCalls(next, event.data.callIndex, (call) => ({
        ...call,
        result: { ok: event.data.ok, output: event.data.output, interrupted: false },
      }));
      next.toolCallsCompleted = next.toolCallsCompleted + 1;
      const workspace = workspaceAfter(next.workspace ?? null, event);
      if (workspace !== undefined) next.workspace = workspace;
      const ref = event.data.outputRef;
      if (ref === undefined) return next;
      const key = `${event.data.step}:${event.data.callIndex}`;
      next.largeResults = { ...next.largeResults, [key]: ref };
      return next;
    }
    case 'tool.interrupted':
      return updateCall(next, event.data.callIndex, (call) => ({
        ...call,
        result: {
          ok: false,
          output: 'outcome unknown: the worker stopped while this call ran',
          interrupted: true,
        },
      }));
    case 'tool.resumed':
      return updateCall(next, event.data.callIndex, ({ suspended: _, ...call }) => call);
    case 'wait.started': {
      const bound = event.data.call;
      const waiting = { ...next, status: 'waiting' as const, wait: event.data };
      if (bound === undefined) return waiting;
      const { waitId } = event.data;
      return updateCall(waiting, bound.callIndex, (call) => ({
        ...call,
        waits: [
          ...(call.waits ?? []),
          { ordinal: bound.ordinal, waitId, kind: event.data.kind, resolved: null },
        ],
        suspended: 'waiting',
      }));
    }
    case 'wait.resolved':
      return {
        ...resolveCallWait(next, event.data),
        status: 'running',
        wait: null,
        lastWake: {
          waitId: event.data.waitId,
          payload: event.data.payload,
          afterSteps: next.steps,
        },
      };
    case 'workspace.snapshotted':
      return { ...next, workspace: workspaceAfter(null, event) ?? null };
    case 'approval.requested': {
      const request = event.data;
      if (request.point === 'model.call') {
        const { approvalId, step, argsHash } = request;
        return {
          ...next,
          modelApproval: { approvalId, step, argsHash, status: 'requested', reason: null },
        };
      }
      return updateCall(next, request.callIndex, (call) => ({
        ...call,
        approval: {
          approvalId: request.approvalId,
          argsHash: request.argsHash,
          status: 'requested',
          reason: null,
          purpose: request.purpose ?? 'run',
        },
      }));
    }
    case 'approval.granted':
    case 'approval.denied': {
      // A decision copied from a fork's source was a person's answer for the source: in the fork
      // the approval stays requested, so a call it approved and that had not started is asked for
      // again (one approval would otherwise run the call once per fork), and a grant for the rest
      // of the session does not reach into the fork.
      if (event.seq <= (next.forkedAtSeq ?? 0)) return next;
      const status = event.type === 'approval.granted' ? 'granted' : 'denied';
      if (next.modelApproval?.approvalId === event.data.approvalId) {
        return {
          ...next,
          modelApproval: { ...next.modelApproval, status, reason: event.data.reason },
        };
      }
      const call = next.calls.find((c) => c.approval?.approvalId === event.data.approvalId);
      if (call?.approval === undefined) {
        throw new LongrunError(
          'INTERNAL',
          `${event.type} names approval ${event.data.approvalId}, which no open call requested`,
        );
      }
      const approval = { ...call.approval, status, reason: event.data.reason } as const;
      const updated = updateCall(next, call.callIndex, (c) => ({ ...c, approval }));
      const scope = event.type === 'approval.granted' ? event.data.scope : undefined;
      // A re-run of an interrupted call is decided for that call only, whatever the event says.
      if ((scope !== 'arguments' && scope !== 'tool') || approval.purpose === 'rerun')
        return updated;
      const grant: SessionGrant = {
        approvalId: approval.approvalId,
        tool: call.tool,
        scope,
        argsHash: scope === 'arguments' ? approval.argsHash : null,
        by: event.data.by,
      };
      return { ...updated, grants: [...(updated.grants ?? []), grant] };
    }
    case 'outcome.evaluated':
      // A verdict the agent works on starts the next step of the turn: its answer is superseded.
      return {
        ...next,
        // The evaluator's tokens are the session's too (what it costs is charged to it).
        usage: {
          inputTokens: next.usage.inputTokens + event.data.usage.inputTokens,
          outputTokens: next.usage.outputTokens + event.data.usage.outputTokens,
        },
        ...(event.data.continues ? { lastResponse: null } : {}),
        outcome: { evaluations: event.data.iteration, status: 'pending' },
      };
    case 'context.compacted':
      // The summary call is a model call like any other: its tokens are the session's.
      return {
        ...next,
        usage: {
          inputTokens: next.usage.inputTokens + event.data.usage.inputTokens,
          outputTokens: next.usage.outputTokens + event.data.usage.outputTokens,
        },
        context: { compactions: (next.context?.compactions ?? 0) + 1, lastSeq: event.seq },
      };
    case 'session.cancelled':
      return {
        ...next,
        status: 'cancelled',
        modelAttempt: null,
        outcome: interruptedOutcome(next.outcome),
      };
    case 'session.resumed':
      // `paused` is the store's status, never folded: the claim that ran this runner already
      // made the session `running` there, and the log resumes where it stood.
      return next;
    case 'session.completed': {
      const { output, outcome } = event.data;
      return {
        ...next,
        status: 'completed',
        output,
        ...(outcome === undefined
          ? {}
          : { outcome: { evaluations: next.outcome?.evaluations ?? 0, status: outcome } }),
      };
    }
    case 'session.failed':
      return {
        ...next,
        status: 'failed',
        failure: { code: event.data.code, message: event.data.message },
        outcome: interruptedOutcome(next.outcome),
      };
    // ---- budgets ----
    case 'budget.set':
      return {
        ...next,
        budget: {
          ...(next.budget ?? newLedger(event.data.budget)),
          limits: event.data.budget,
          defaultsApplied: true,
        },
      };
    case 'budget.reserved': {
      const { step: _s, attempt: _a, ...reservation } = event.data;
      return { ...next, budget: reserve(next.budget ?? newLedger({}), reservation) };
    }
    case 'budget.settled': {
      const { reservationId, outcome: _, ...actual } = event.data;
      return next.budget ? { ...next, budget: settle(next.budget, reservationId, actual) } : next;
    }
  }
}

/** An outcome still open when the session ends otherwise than by completing is interrupted. */
function interruptedOutcome(outcome: SessionState['outcome']): SessionState['outcome'] {
  if (outcome === undefined || outcome === null || outcome.status !== 'pending')
    return outcome ?? null;
  return { ...outcome, status: 'interrupted' };
}

/** A wait of a tool call resolved: the call records the value and becomes resumable. */
function resolveCallWait(
  state: SessionState,
  data: { waitId: string; signalId: string | null; payload: JsonValue },
): SessionState {
  const call = state.calls.find((c) => c.waits?.some((w) => w.waitId === data.waitId));
  if (call === undefined) return state;
  const resolved = { signalId: data.signalId, payload: data.payload };
  return updateCall(state, call.callIndex, (c) => ({
    ...c,
    waits: (c.waits ?? []).map((w) => (w.waitId === data.waitId ? { ...w, resolved } : w)),
    suspended: 'resumable',
  }));
}

function updateCall(
  state: SessionState,
  callIndex: number,
  change: (call: OpenCall) => OpenCall,
): SessionState {
  return { ...state, calls: changedCalls(state, callIndex, change) };
}

/** A new array of the state's calls, the one at `callIndex` changed. */
function changedCalls(
  state: SessionState,
  callIndex: number,
  change: (call: OpenCall) => OpenCall,
): OpenCall[] {
  const index = state.calls.findIndex((call) => call.callIndex === callIndex);
  if (index < 0) {
    throw new LongrunError(
      'INTERNAL',
      `event names call ${callIndex}, which the latest model turn did not make`,
    );
  }
  const calls = state.calls.slice();
  calls[index] = change(calls[index] as OpenCall);
  return calls;
}

/** Calls of the latest turn that have no result yet, in call order. */
export function pendingCalls(state: SessionState): OpenCall[] {
  return state.calls.filter((call) => call.result === null);
}
