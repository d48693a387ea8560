import type { PolicyLayer } from './policy/policy-types.ts';
import type { WorkspaceEdit } from './workspace-state.ts';
import type { JsonObject, JsonValue } from './json.ts';
import type { SessionId } from './ids.ts';
import type { ModelFailureCode, SessionFailureCode } from './failure-codes.ts';
import type { Budget, BudgetChange } from './budget/budget-spec.ts';
import type { ChargeKind } from './budget/budget-ledger.ts';

/** Bumped when an event's data changes shape; readers fold every version they know. */
export const eventSchemaVersion = 1;

/**
 * What a tool call does to the world, which decides what a resumed step may do with a call that
 * started but never recorded a result (DESIGN §4):
 * - `pure` / `idempotent`: run it again;
 * - `keyed`: run it again with the same idempotency key, which the tool hands to the system it
 *   changes so that system applies it once;
 * - `unsafe`: never run again blindly; the outcome is recorded as unknown.
 */
export type EffectClass = 'pure' | 'idempotent' | 'keyed' | 'unsafe';

export interface ToolCall {
  callIndex: number;
  tool: string;
  args: JsonObject;
  /** The provider's id for the call, when a real model made it. */
  id?: string;
  /**
   * Arguments too large to keep in the log: their JSON text is in the blob store under `hash`
   * (`chars` long), and `args` is the capped view the model sees, which says so. The tool is
   * run with the arguments read back from the blob store.
   */
  inputRef?: BlobRef;
}

/** Content kept in the blob store instead of the log: its SHA-256 and its length in characters. */
export interface BlobRef {
  hash: string;
  chars: number;
}

/**
 * Provider-specific data by provider name, as the AI SDK passes it both ways (its
 * `providerMetadata` out, `providerOptions` back in): e.g. `{ anthropic: { signature } }` on a
 * thinking block, `{ openai: { itemId, reasoningEncryptedContent } }` on a reasoning item.
 */
export type ProviderMetadata = Record<string, JsonObject>;

/**
 * One part of a model turn, in the order the model produced it. Reasoning is kept with its
 * provider metadata (signatures, redacted or encrypted content) because providers require it
 * back, unchanged, on the next turn of a tool-using conversation.
 */
export type ResponsePart =
  | { type: 'reasoning'; text: string; providerMetadata?: ProviderMetadata }
  | { type: 'text'; text: string; providerMetadata?: ProviderMetadata }
  /** The turn's call `callIndex` (its arguments are in `toolCalls`). */
  | { type: 'tool-call'; callIndex: number; providerMetadata?: ProviderMetadata }
  /**
   * The provider's own compaction of the transcript before this turn (Anthropic's compaction
   * block, OpenAI Responses' compaction item): `text` is its readable summary ('' when the
   * provider encrypts it), `providerMetadata` what identifies it (signature, item id, encrypted
   * content). Not the model's answer: no part of `text`. Sent back exactly as received; the
   * `context.compacted` after the turn drops what came before it.
   */
  | { type: 'compaction'; text: string; providerMetadata: ProviderMetadata };

export interface TokenUsage {
  /** All input tokens, cached ones included. */
  inputTokens: number;
  outputTokens: number;
  /** Of the input, tokens read from the provider's prompt cache (when it reports them). */
  cacheReadTokens?: number;
  /** Of the input, tokens written to the provider's prompt cache (when it reports them). */
  cacheWriteTokens?: number;
  /** What the provider says the call cost, in US dollars, when it says (budgets prefer it to list price). */
  costUsd?: number;
}

/** A durable wait: for a signal (until `untilMs` at most, if given) or until a time. */
export type WaitSpec =
  { kind: 'signal'; signal: string; untilMs?: number } | { kind: 'timer'; untilMs: number };

/**
 * The tool call a wait suspends (a tool's `context.sleep`, `waitForSignal`, a webhook's `wait`):
 * its step, its call index, and the wait's ordinal among the durable operations of the call's
 * code (0, 1, 2, … in the order the code makes them). When the wait resolves, the call runs again
 * from its start and the waits it already made return their recorded values by ordinal.
 */
export interface WaitCall {
  step: number;
  callIndex: number;
  ordinal: number;
}

/** Where the harness evaluates its gates: before every model call, before every tool call. */
export type GatePoint = 'model.call' | 'tool.call';

/** A tool call that needs a person's approval: bound to the tool and a hash of its exact arguments. */
export interface ToolApprovalRequest {
  approvalId: string;
  /** Absent in logs written before model-call approvals existed. */
  point?: 'tool.call';
  step: number;
  callIndex: number;
  tool: string;
  argsHash: string;
  expiresAtMs: number | null;
  /**
   * `run` (default): may this call run? `rerun`: an unsafe call was interrupted and its outcome
   * is unknown (DESIGN §4) — granting runs it again, denying records the outcome as unknown.
   */
  purpose?: 'run' | 'rerun';
}

/**
 * How far a person's grant of a tool call reaches, chosen by the person who grants it:
 * - `call`: this call only (the default, and the only scope of a model call or a re-run);
 * - `arguments`: this call, and every later call of the same tool with the same arguments (by
 *   `argsHash`) in the session;
 * - `tool`: this call, and every later call of the same tool in the session, whatever its arguments.
 * A session-scoped grant answers only gates that `ask`: it never turns a `deny` into an allow.
 */
export const approvalScopes = ['call', 'arguments', 'tool'] as const;
export type ApprovalScope = (typeof approvalScopes)[number];

export function isApprovalScope(value: unknown): value is ApprovalScope {
  return typeof value === 'string' && (approvalScopes as readonly string[]).includes(value);
}

/**
 * A gate asked a person whether the model call of `step` may be made (a budget about to be
 * passed, a run that went on longer than planned): bound to the step. Granting lets the call go
 * ahead past every gate that asks about it; denying fails the session (GATE_DENIED).
 */
export interface ModelApprovalRequest {
  approvalId: string;
  point: 'model.call';
  step: number;
  /** The gate that asked, and its reason: what the person decides about. */
  gate: string;
  reason: string;
  /** Binds a decision to this request (`modelCallHash(step)`). */
  argsHash: string;
  expiresAtMs: number | null;
}

/**
 * The schedule tick a session was started for. `missedTicks`: earlier ticks, missed while no
 * ticker ran, that this session stands for (catch-up `once`); 0 for a tick fired on its own.
 */
export interface ScheduleRef {
  id: string;
  tickAtMs: number;
  missedTicks: number;
}

/**
 * Who gave a session its creation budget (`session.created`'s `budget`), and whether they may
 * give more than the agent's own. One who may not (an API key below `admin`) can only tighten:
 * each limit the agent sets is the lower of the two, a limit it leaves out may be set. The API
 * records this because it may not know the agent's definition; the worker, which does, applies
 * it when it first records `budget.set`.
 */
export interface BudgetSetter {
  /** As `budget.set`'s `by`: `api-key:<id>`, `api`, `cli`. */
  by: string;
  /** Whether the budget may lift a limit of the agent's own: an admin key, keyless or local. */
  mayRaise: boolean;
}

/** One criterion of an agent's outcome rubric, as the evaluator judged it. */
export interface CriterionVerdict {
  criterion: string;
  passed: boolean;
  /** The evaluator's reason, in words the agent can act on. */
  reason: string;
}

/**
 * How a turn of an agent that declares an outcome ended: `satisfied` (the evaluator passed every
 * criterion), `max_iterations_reached` (it failed the work `maxIterations` times), `failed` (the
 * evaluator itself could not run: its model refused or stayed unavailable), `interrupted` (the
 * session was cancelled or failed while the outcome was still open).
 */
export type OutcomeStatus = 'satisfied' | 'failed' | 'max_iterations_reached' | 'interrupted';

/** Event data by type. Event names are facts: `noun.past-tense-verb`. */
export interface EventDataByType {
  'session.created': {
    agent: string;
    input: JsonValue;
    /**
     * Set on a fork: the session and seq its log was copied from (its events 2…seq). Calls
     * started before that seq keep the source's idempotency keys, so a resumed one is not applied twice.
     */
    forkedFrom?: { sessionId: string; seq: number };
    /** Set when a schedule started the session: which schedule, and the tick it started it for. */
    schedule?: ScheduleRef;
    /** Set on a sub-agent's session: its parent, and the policies it runs under. */
    parent?: SessionParent;
    /** The budget the session was created with; the agent's own fills in the limits it leaves out. */
    budget?: Budget;
    /**
     * Who gave `budget` (only with it). Absent (logs before it; a sub-agent's carved budget): the
     * budget is laid over the agent's own, limits and all, and recorded as the agent's.
     */
    budgetSetBy?: BudgetSetter;
  };
  /** A follow-up message from a person: starts a new turn of a running or finished session. */
  'user.messaged': { text: string; signalId: string | null };
  /**
   * A model call was sent. The request itself is not copied: it is the transcript folded from
   * this log up to `transcriptSeq`, so storage stays linear in the session's length. Written only
   * when the attempt's first durable output is streamed text or a failure; when it is the
   * response, `model.responded` carries `transcriptSeq` instead (`modelRequestOf` reads both).
   */
  'model.requested': {
    step: number;
    attempt: number;
    modelId: string;
    transcriptSeq: number;
    /**
     * Set when this attempt continues an earlier one of the step that was cut mid-text: the
     * request ends with that attempt's first `chars` characters of text as an assistant message
     * (prefill), and the response's text is those characters followed by what this attempt
     * produced. Absent: the attempt started the turn from scratch (on a retry, it restarted).
     * Such an attempt always records this event: its response never stands for it.
     */
    continues?: { attempt: number; chars: number };
  };
  /** Text deltas of one attempt, coalesced (a few per second); live readers got them at once. */
  'model.streamed': { step: number; attempt: number; text: string };
  /**
   * The attempt failed; its streamed text is superseded and will not be in the transcript as it
   * is — only as the text a later attempt continues (`model.requested.continues`).
   */
  'model.failed': {
    step: number;
    attempt: number;
    code: ModelFailureCode;
    message: string;
    retryable: boolean;
    retryInMs: number | null;
  };
  'model.responded': {
    step: number;
    text: string;
    toolCalls: ToolCall[];
    usage: TokenUsage;
    finishReason?: string;
    attempt?: number;
    modelId?: string;
    /**
     * Set when the response was its attempt's first durable output, so the request was not
     * recorded as a `model.requested` of its own: that event's `transcriptSeq`. Absent when a
     * `model.requested` came before (and in logs written before this field).
     */
    transcriptSeq?: number;
    /**
     * With `transcriptSeq`: the id of the model the request was sent to, when it is not
     * `modelId` (the id the provider answered with). Absent when they are the same.
     */
    requestedModelId?: string;
    /**
     * The turn in order, with reasoning and provider metadata: written only when the turn has
     * reasoning or provider metadata (a plain turn is `text` then `toolCalls`, as in logs written
     * before this field). Its text parts concatenate to `text`; the next model call is given
     * every part back.
     */
    parts?: ResponsePart[];
    /** What the provider attached to the response as a whole. */
    providerMetadata?: ProviderMetadata;
    /**
     * The tools the model was offered, when the agent's `prepareStep` offered fewer than all: a
     * call to another tool is answered with an error, as if the agent had no such tool.
     */
    activeTools?: string[];
  };
  /**
   * A gate of the harness's chain (DESIGN §11) did not allow a model call or a tool call, and
   * why. Only decisions other than `allow` are recorded: an allow is implied by the call that
   * follows (`model.requested`, `tool.started`), and recording it would add one event per gate
   * and call to every step. What the decision did is recorded by the events after it:
   * `session.failed` (deny before a model call), a `tool.completed` error (deny before a tool
   * call), `approval.requested` (ask), or the session parked as `paused` (pause).
   */
  'gate.decided': {
    gate: string;
    point: GatePoint;
    decision: 'deny' | 'ask' | 'pause';
    reason: string;
    /** The step the call belongs to (the model call's step, or the tool call's). */
    step: number;
    /** For a tool call. */
    callIndex?: number;
    /**
     * What the gate saw, for a person to judge the decision by (loop control: the rule, the
     * tool, its arguments hash, the seqs and steps of the calls it counted). Absent when the
     * gate gave none.
     */
    evidence?: JsonObject;
    /** Why, as a code, when the gate named one (a pause for `BUDGET_EXCEEDED`). */
    code?: string;
  };
  /**
   * The session's policy (DESIGN §7: the agent's, bounded by its tenant's) decided a tool call.
   * Every decision is recorded, allow included, before what it led to: `tool.started`, a
   * `tool.completed` error (deny), or `approval.requested` (ask).
   */
  'policy.decided': PolicyDecidedData;
  /** A call that needs a person's approval: a tool call, or the model call of a step. */
  'approval.requested': ToolApprovalRequest | ModelApprovalRequest;
  /**
   * `by`: who decided — `api-key:<key id>` when the decision came through the HTTP API with a key
   * (the server sets it from the key that authenticated, never from the request body). `scope`:
   * absent in logs written before scopes existed, which is `call`.
   */
  'approval.granted': {
    approvalId: string;
    by: string;
    reason: string | null;
    scope?: ApprovalScope;
  };
  'approval.denied': { approvalId: string; by: string; reason: string | null };
  'tool.started': {
    step: number;
    callIndex: number;
    tool: string;
    effect: EffectClass;
    /**
     * Absent when it is the key derived from the call, `<session id>:<step>:<call index>`
     * (`idempotencyKeyFor`); written when it is not (a fork's call keeps its source's key), and
     * in logs written before it could be left out. `startedKeyOf` reads it either way.
     */
    idempotencyKey?: string;
  };
  'tool.completed': {
    step: number;
    callIndex: number;
    tool: string;
    ok: boolean;
    output: JsonValue;
    /** How many times the tool was started for this call; ignored by transcript equality. */
    attempt: number;
    /** When the tool failed with a LongrunError: its code (e.g. FILE_TYPE_REFUSED). */
    errorCode?: string;
    /**
     * An output too large to keep in the log: its JSON text is in the blob store under `hash`
     * (`chars` long), and `output` is the capped view the model sees, which says so.
     */
    outputRef?: BlobRef;
    /**
     * The workspace files the call changed, when the change is small enough to carry here
     * (`WorkspaceEdit`): the call's snapshot, with no manifest stored. Absent when the call
     * changed nothing, or when its snapshot is a `workspace.snapshotted` event beside it.
     */
    workspaceEdits?: WorkspaceEdit[];
  };
  /**
   * A call suspended on a wait whose wait resolved runs again from its start, its resolved waits
   * replayed by ordinal. Recorded right before the run, as `tool.started` is for a first run: a
   * call resumed and then interrupted is recovered by its effect class like any other.
   */
  'tool.resumed': { step: number; callIndex: number; tool: string };
  /** An `unsafe` call started and its worker died before its result was recorded. */
  'tool.interrupted': { step: number; callIndex: number; tool: string; outcome: 'unknown' };
  /** A durable wait began: the session holds no worker until it resolves. */
  'wait.started': { waitId: string; call?: WaitCall } & WaitSpec;
  'wait.resolved': { waitId: string; signalId: string | null; payload: JsonValue };
  /**
   * The workspace's files after a step that changed them, as a manifest stored in the blob store
   * under `manifestHash` (DESIGN §6). A worker that resumes the session restores this manifest.
   */
  'workspace.snapshotted': {
    step: number;
    manifestHash: string;
    files: number;
    bytes: number;
    /** Files added, changed or removed since the previous snapshot. */
    changed: number;
    /**
     * Paths this snapshot left out that the previous one did not, and why (special files, files
     * longer than the workspace's cap); at most 20.
     */
    skipped?: { path: string; reason: string }[];
  };
  /**
   * A fresh-context evaluator judged the agent's answer of `step` against the agent's rubric
   * (DESIGN §12). It defaults to FAIL: a criterion it gave no verdict on failed. When
   * `continues`, the agent gets `feedback` as the next message of its transcript and works on;
   * otherwise `session.completed` follows in the same commit, with the outcome.
   */
  'outcome.evaluated': {
    /** 1 for the first evaluation in this turn, counting up to the agent's `maxIterations`. */
    iteration: number;
    step: number;
    passed: boolean;
    criteria: CriterionVerdict[];
    /** What the agent is told when the work did not pass (empty when it passed). */
    feedback: string;
    continues: boolean;
    /** The evaluator's model calls, their tokens, and its model. */
    evaluatorSteps: number;
    usage: TokenUsage;
    modelId: string;
    /** Set when the evaluator could not run (the outcome is then `failed`). */
    error?: string;
  };
  /** `outcome`: for an agent that declares one, how its outcome ended (absent for the others). */
  'session.completed': { output: JsonValue; outcome?: OutcomeStatus };
  'session.failed': { code: SessionFailureCode; message: string };
  'session.cancelled': { reason: string | null; by: string };
  /**
   * The older part of the transcript was replaced by a summary, so the next model calls fit the
   * model's context window (DESIGN §12). Every later call's transcript starts from the latest
   * compaction: the instructions, this summary as a user message, then the messages it kept.
   * The replaced part always ends before an assistant turn, so a tool call and its results are
   * never split. The summary call is charged like any model call (`usage`).
   */
  'context.compacted': {
    /** The seqs of the events whose messages the summary replaces (`fromSeq` ≤ `throughSeq`). */
    fromSeq: number;
    throughSeq: number;
    /** How many messages at the start of the transcript (after the instructions) it replaces. */
    messages: number;
    summary: string;
    /** The model that wrote the summary, and what that call used. */
    modelId: string;
    usage: TokenUsage;
    /** Estimated tokens of the transcript before and after (instructions and tools included). */
    tokensBefore: number;
    tokensAfter: number;
    /** `threshold`: the transcript reached `compactAt` of the window; `refused`: the provider said it was too long. */
    reason: 'threshold' | 'refused';
    /**
     * Set for a context reset with a handoff (the agent's `context.handoff`): no model wrote the
     * summary; it is the task and the agent's progress file (`file`, `bytes` long), and the whole
     * transcript before it is replaced.
     */
    handoff?: { file: string; bytes: number };
    /**
     * Set when the model's provider compacted natively (the agent's `context.compaction:
     * 'native'`): its compaction item is part `part` of the `model.responded` of step `step`,
     * committed just before this event, and stays in the transcript as the start of that turn.
     * The `messages` before that turn are dropped and no summary message is added; `summary` is
     * the item's readable text ('' when the provider encrypts it), `usage` zero (the response's
     * usage counts it).
     */
    native?: { provider: string; step: number; part: number };
  };
  /**
   * A person resumed a session the worker had parked as `paused` (a reason they could act on).
   * Recorded by the runner that claims the session next, before anything else it does.
   */
  'session.resumed': { by: string; reason: string | null };
  // ---- budgets (DESIGN §7; the charge rule is BudgetLedger's) ----
  /**
   * The session's budget from now on: the agent's defaults merged under the session's own (by
   * the runner, once), or a person's change (`change`, applied to the budget before it).
   */
  'budget.set': { budget: Budget; by: string; reason: string | null; change?: BudgetChange };
  /**
   * Committed before a model call is sent: its projected spend (estimated input and the output
   * cap, at list price), charged until it is settled.
   */
  'budget.reserved': {
    reservationId: string;
    kind: ChargeKind;
    step: number;
    attempt: number;
    modelId: string;
    costUsd: number;
    inputTokens: number;
    outputTokens: number;
    cacheTokens: number;
    /** Kind `subagent`: the tool calls and the children the call's sub-agents were given. */
    toolCalls?: number;
    children?: number;
  };
  /**
   * A reservation closed with what its call really spent (`responded`, `failed`), or with its
   * projection when its worker died before it could know (`interrupted`). Settles only an open
   * reservation: never twice.
   */
  'budget.settled': {
    reservationId: string;
    outcome: 'responded' | 'failed' | 'interrupted';
    costUsd: number;
    inputTokens: number;
    outputTokens: number;
    cacheTokens: number;
    /** A `subagent` reservation's: the children's tool calls and their own sub-agents. */
    toolCalls?: number;
    subAgents?: number;
  };
}

/**
 * A sub-agent's session's place in its tree: the parent session and the tool call that started
 * it, the root of the tree, and the policy layers it runs under (its parent's, the grant, what
 * was asked for it: it can only ever get less than its parent).
 */
export interface SessionParent {
  sessionId: string;
  rootSessionId: string;
  step: number;
  callIndex: number;
  policies: PolicyLayer[];
}

/** A decision of the policy about one tool call (policy/evaluate-policy.ts). */
export interface PolicyDecidedData {
  point: 'tool.call';
  decision: 'allow' | 'deny' | 'ask';
  /** The layer that decided (`agent`, `tenant`...) and its rule (`tools[2]`, a rule's id, `paths.write`, `default`). */
  layer: string;
  rule: string;
  reason: string;
  step: number;
  callIndex: number;
  tool: string;
  /** An `ask` a person had already granted: the call goes ahead. */
  approved?: true;
  /** A decision on a secret the call's code asked for (`ToolContext.secret`): its name. */
  secret?: string;
}

export type EventType = keyof EventDataByType;
export const eventTypes = [
  'session.created',
  'user.messaged',
  'model.requested',
  'model.streamed',
  'model.failed',
  'model.responded',
  'gate.decided',
  'policy.decided',
  'approval.requested',
  'approval.granted',
  'approval.denied',
  'tool.started',
  'tool.completed',
  'tool.interrupted',
  'tool.resumed',
  'wait.started',
  'wait.resolved',
  'workspace.snapshotted',
  'outcome.evaluated',
  'context.compacted',
  'session.completed',
  'session.failed',
  'session.cancelled',
  'session.resumed',
  'budget.set',
  'budget.reserved',
  'budget.settled',
] as const satisfies readonly EventType[];

export type NewEvent = {
  [T in EventType]: { type: T; data: EventDataByType[T] };
}[EventType];

/** An event as the store returns it: committed, with its position in the session's log. */
export type StoredEvent = NewEvent & {
  sessionId: SessionId;
  /** Contiguous from 1 per session. */
  seq: number;
  /** Schema version of `data`. */
  v: number;
  /** Commit time by the store's clock, epoch milliseconds. */
  atMs: number;
  /** Lease epoch of the writer; 0 for writes made without a lease (session creation). */
  epoch: number;
};

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && (eventTypes as readonly string[]).includes(value);
}

/**
 * The idempotency key of a call that has not started: derived from (session, step, call index).
 * A call's `tool.started` leaves its key out when it is this one.
 */
export function idempotencyKeyFor(sessionId: string, step: number, callIndex: number): string {
  return `${sessionId}:${step}:${callIndex}`;
}

/** The idempotency key a `tool.started` recorded, written out or left to be derived. */
export function startedKeyOf(e: Extract<StoredEvent, { type: 'tool.started' }>): string {
  return e.data.idempotencyKey ?? idempotencyKeyFor(e.sessionId, e.data.step, e.data.callIndex);
}

/** A model call as sent: from its `model.requested`, or from the response that stands for it. */
export interface ModelRequestRecord {
  step: number;
  attempt: number;
  modelId: string;
  transcriptSeq: number;
}

/**
 * The request an event records: a `model.requested`, or a `model.responded` that was its
 * attempt's first durable output and so carries its request (`transcriptSeq`); null otherwise.
 */
export function modelRequestOf(e: NewEvent): ModelRequestRecord | null {
  if (e.type === 'model.requested') return e.data;
  if (e.type !== 'model.responded' || e.data.transcriptSeq === undefined) return null;
  const { step, attempt = 1, transcriptSeq } = e.data;
  const modelId = e.data.requestedModelId ?? e.data.modelId ?? '';
  return { step, attempt, modelId, transcriptSeq };
}

/** Builds an event with its data type checked against its name. */
export function event<T extends EventType>(type: T, data: EventDataByType[T]): NewEvent {
  return { type, data } as NewEvent;
}
