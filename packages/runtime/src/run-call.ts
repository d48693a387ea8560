import { performance } from 'node:perf_hooks';
import { CallWaits, noWaits, withCallResult, type Suspension } from './call-waits.ts';
import { SessionSecrets } from './secrets/session-secrets.ts';
import {
  encodePayload,
  event,
  idempotencyKeyFor,
  isLongrunError,
  LongrunError,
  type EffectClass,
  type EffectChange,
  type JsonValue,
  type LeaseFence,
  type NewEvent,
  type OpenCall,
  type SessionId,
  type SessionStore,
  type Tool,
  type ToolContext,
  type VerifyOutcome,
} from '@longrun/core';

export interface RunCallInput {
  store: SessionStore;
  /** The lease the call runs under (webhooks are registered with it). */
  fence: LeaseFence;
  sessionId: SessionId;
  step: number;
  call: OpenCall;
  /** The call's tool, run as it is: its `run` and `verify` get `input` and the full context. */
  tool: Tool;
  /** The call's arguments as the tool's `input.parse` returned them. */
  input: unknown;
  /** The session's workspace files and sandbox, handed to the tool in its context. */
  workspace: Pick<ToolContext, 'files' | 'sandbox'>;
  /** The call was started by a runner that died before recording its result. */
  interrupted: boolean;
  /**
   * The call was suspended on a wait that has resolved (`OpenCall.suspended` is `resumable`):
   * it runs again from its start, `tool.resumed` recorded first, its waits replayed.
   */
  resumed?: boolean;
  /** The API's public address, for the URLs of the call's webhooks; default: none (paths only). */
  webhookBaseUrl?: string | null;
  /**
   * For an interrupted `unsafe` call that `verify` cannot settle: `record` its outcome as unknown
   * (default), `report` it to the caller (which asks a person), or `rerun` it (a person said so).
   */
  onUnknownOutcome?: 'record' | 'report' | 'rerun';
  signal: AbortSignal;
  /** See ToolContext.holding; default: while `signal` has not aborted. */
  holding?: () => boolean;
  append(events: NewEvent[], extra: { effects?: EffectChange[] }): Promise<void>;
  /**
   * Settles once every append so far has committed: a call's start may have been appended ahead
   * of its commit, and the call must not run before.
   */
  settled?: () => Promise<void>;
  startEvents(events: NewEvent[], effects: EffectChange[]): void;
  /**
   * The session's secrets as this call may have them: the policy's decision (recorded with the
   * call's result), and the value when it is allowed. Default: no secret store (NOT_FOUND).
   */
  secret?: (
    name: string,
  ) => Promise<{ decided: NewEvent | null; value: string | null; refusal?: LongrunError }>;
  /**
   * The session's secrets (secrets/session-secrets.ts): the call's output and error are masked
   * with all of them, not only with those it was given — a value another call wrote to the
   * workspace comes back through this one. A value given to this call joins them. Default: the
   * values given to this call only.
   */
  secrets?: SessionSecrets;
}

export interface CallResult {
  /** The call's one result event, not yet appended: the caller commits it with the next call's start. */
  events: NewEvent[];
  effects: EffectChange[];
  toolMs: number;
  /** Set with `onUnknownOutcome: 'report'`: nothing was run or recorded; a person must decide. */
  outcomeUnknown?: true;
  /** The call suspended on a new wait: no result; the caller records the wait and parks. */
  suspended?: Suspension;
}

/**
 * Runs one tool call, or decides what to do with one a dead worker left started (DESIGN §4):
 * `pure`, `idempotent` and `keyed` calls run again — keyed ones with the same idempotency key —
 * while an `unsafe` call is never repeated blindly: its `verify` settles it, or its outcome is
 * recorded as unknown and the model gets an error result instead.
 */
export async function runCall(input: RunCallInput): Promise<CallResult> {
  const { call, tool, step } = input;
  const base = { step, callIndex: call.callIndex, tool: call.tool };
  if (call.started === null) {
    const events: NewEvent[] = [];
    const effects: EffectChange[] = [];
    input.startEvents(events, effects);
    await input.append(events, { effects });
  } else if (input.resumed === true && !input.interrupted) {
    await input.append([event('tool.resumed', base)], {});
  }
  const idempotencyKey = callKey(input.sessionId, step, call);
  const effect = { ...base, tool: tool.name, effect: tool.effect, idempotencyKey };
  let attempt = 1;
  const waits = new CallWaits({
    store: input.store,
    fence: input.fence,
    step,
    callIndex: call.callIndex,
    tool: tool.name,
    recorded: call.waits ?? [],
    webhookBaseUrl: input.webhookBaseUrl ?? null,
  });
  // Events the tool asks to be recorded with its result (withCallResult): dropped unless it completes.
  const withResult: NewEvent[] = [];
  // Every value masks the output before it is recorded, given to this call or not.
  const secrets = input.secrets ?? new SessionSecrets();
  const secret = async (name: string): Promise<string> => {
    const answer =
      input.secret === undefined ? { decided: null, value: null } : await input.secret(name);
    if (answer.decided !== null) withResult.push(answer.decided);
    if (answer.refusal !== undefined) throw answer.refusal;
    if (answer.value === null) {
      throw new LongrunError(
        'NOT_FOUND',
        `there is no secret named ${JSON.stringify(name)} for this worker`,
      );
    }
    secrets.add(name, answer.value);
    return answer.value;
  };
  const holding = input.holding ?? (() => !input.signal.aborted);
  const context = (canWait = false): ToolContext => ({
    sessionId: input.sessionId,
    step,
    callIndex: call.callIndex,
    idempotencyKey,
    attempt,
    signal: input.signal,
    holding,
    files: input.workspace.files,
    sandbox: () => input.workspace.sandbox(),
    ...(canWait ? waits.methods() : noWaits),
    ...{ [withCallResult]: (events: NewEvent[]) => void withResult.push(...events) },
    secret,
  });
  if (input.resumed === true && !input.interrupted) {
    const record = (await input.store.listEffects(input.sessionId)).find(
      (r) => r.step === step && r.callIndex === call.callIndex,
    );
    attempt = record?.attempts ?? 1;
  }
  if (input.interrupted) {
    const record = (await input.store.listEffects(input.sessionId)).find(
      (r) => r.step === step && r.callIndex === call.callIndex,
    );
    attempt = (record?.attempts ?? 1) + 1;
    if (tool.effect === 'unsafe') {
      const verify = tool.verify?.bind(tool);
      const verdict: VerifyOutcome = verify
        ? await verifyMasked(() => verify(input.input, context()), secrets)
        : { applied: 'unknown' };
      if (verdict.applied === true) {
        const output = secrets.mask.json(verdict.output);
        return completed(base, true, output, attempt - 1, effect, 0);
      }
      const decide = input.onUnknownOutcome ?? 'record';
      if (verdict.applied === 'unknown' && decide === 'report') {
        return { events: [], effects: [], toolMs: 0, outcomeUnknown: true };
      }
      if (verdict.applied === 'unknown' && decide === 'record') return outcomeUnknown(base, effect);
    }
    await input.append([], { effects: [{ ...effect, status: 'started' }] });
  }
  // The start (with the response that asked for the call) is in the log before the call runs,
  // whatever its effect class: the log names every call that may have had an effect.
  await input.settled?.();
  if (!holding()) {
    // The worker stopped holding the session (stopping, or its lease or liveness lapsed by its
    // clock, e.g. right after a freeze) between the call's start and now: the tool is not run.
    // The call stays started, without a result, for the next holder to settle.
    throw new LongrunError(
      'LEASE_LOST',
      `tool ${tool.name} not started: this worker no longer holds the session; the call is left to the next holder`,
    );
  }
  const startedAt = performance.now();
  let ok = true;
  let output: JsonValue;
  let errorCode: string | undefined;
  try {
    output = await tool.run(input.input, context(true));
    encodePayload(output, `output of tool ${tool.name}`);
  } catch (error) {
    ok = false;
    // A typed refusal (a link, a FIFO, a file too large…) names its code, for the model and logs.
    errorCode = isLongrunError(error) ? error.code : undefined;
    const message = error instanceof Error ? error.message : String(error);
    output = `tool ${tool.name} failed${errorCode === undefined ? '' : ` (${errorCode})`}: ${message}`;
  }
  // Before the output goes anywhere: the log, the model, or the worker's log in the error below.
  output = secrets.mask.json(output);
  const toolMs = performance.now() - startedAt;
  // A new wait suspends the call, whatever the tool did after it (threw, caught, returned).
  const suspension = waits.suspension;
  if (suspension !== null) return { events: [], effects: [], toolMs, suspended: suspension };
  if (!ok && !input.signal.aborted && !holding()) {
    // The tool failed after this worker's clock said it no longer holds the session, before the
    // abort reached it (the watch fires within 50 ms): the failure is most likely that, not the
    // tool's own. No result is recorded; the next holder settles the call as interrupted.
    throw new LongrunError(
      'LEASE_LOST',
      `tool ${tool.name} failed after the lease or the worker's liveness lapsed by its clock (${JSON.stringify(output).slice(0, 500)}); the call is left to the next holder`,
    );
  }
  const result = completed(base, ok, output, attempt, effect, toolMs, errorCode);
  result.events.unshift(...withResult);
  return result;
}

/**
 * The idempotency key a call runs with: the one its `tool.started` recorded, once there is one —
 * in a fork, a call started before the fork point keeps its source's key, so the system it
 * changes applies it once — else the key derived from (session, step, call index).
 */
export function callKey(
  sessionId: SessionId,
  step: number,
  call: { callIndex: number; started: OpenCall['started'] },
): string {
  return call.started?.idempotencyKey ?? idempotencyKeyFor(sessionId, step, call.callIndex);
}

/** An interrupted unsafe call's one result: its outcome is unknown, and it is not run again. */
export function outcomeUnknown(
  base: { step: number; callIndex: number; tool: string },
  effect: Omit<EffectChange, 'status'>,
): CallResult {
  return {
    events: [event('tool.interrupted', { ...base, outcome: 'unknown' })],
    effects: [{ ...effect, status: 'unknown' }],
    toolMs: 0,
  };
}

function completed(
  base: { step: number; callIndex: number; tool: string },
  ok: boolean,
  output: JsonValue,
  attempt: number,
  effect: Omit<EffectChange, 'status'>,
  toolMs: number,
  errorCode?: string,
): CallResult {
  const data = { ...base, ok, output, attempt, ...(errorCode === undefined ? {} : { errorCode }) };
  return {
    events: [event('tool.completed', data)],
    effects: [{ ...effect, status: 'completed' }],
    toolMs,
  };
}

/**
 * The `tool.started` event of a call and its effect record, committed together before the tool
 * runs; the idempotency key is derived from (session, step, call index), so the event leaves it
 * out (`startedKeyOf` derives it again) and the effect record holds it.
 */
export function callStart(
  sessionId: SessionId,
  step: number,
  callIndex: number,
  tool: { name: string; effect: EffectClass },
): { event: NewEvent; effect: EffectChange } {
  const idempotencyKey = idempotencyKeyFor(sessionId, step, callIndex);
  const fields = { step, callIndex, tool: tool.name, effect: tool.effect };
  return {
    event: event('tool.started', fields),
    effect: { ...fields, idempotencyKey, status: 'started' },
  };
}

/**
 * A tool's `verify`, whose error (not caught here: the run stops on it) has its message masked —
 * the worker logs it, and records it as the reason the session paused.
 */
async function verifyMasked(
  verify: () => Promise<VerifyOutcome>,
  secrets: SessionSecrets,
): Promise<VerifyOutcome> {
  try {
    return await verify();
  } catch (error) {
    if (secrets.size === 0) throw error;
    const message = error instanceof Error ? error.message : String(error);
    const masked = secrets.mask.text(message);
    if (masked === message && error instanceof Error) throw error;
    // A new error, without the original as its cause: that would carry the value again.
    throw isLongrunError(error)
      ? new LongrunError(error.code, masked, { retryable: error.retryable })
      : new Error(masked);
  }
}
