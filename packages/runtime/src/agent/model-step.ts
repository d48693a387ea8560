import { hasKeptContent, readToolResultSpec } from '../tools/tool-results.ts';
import { readToolResultName } from '../tools/tool-results-config.ts';
import { keepLargeInputs } from '../tools/tool-inputs.ts';
import { subAgentsToolName } from './sub-agents.ts';
import {
  LongrunError,
  event,
  isLongrunError,
  type EffectChange,
  type EventDataByType,
  type ModelClient,
  type ModelMessage,
  type ModelRequest,
  type ModelRequestRecord,
  type NewEvent,
  type ModelResponse,
  type ModelToolSpec,
  type ToolCall,
} from '@longrun/core';
import { mergeProviderMetadata, toModelClient } from '@longrun/models';
import { backoffMs, pause } from '../backoff.ts';
import type { AgentRunContext } from './agent-context.ts';
import { chainStart } from './agent-calls.ts';
import { foldAhead } from '../session-writer.ts';
import { checkModelCall } from '../harness/gates.ts';
import { DeltaCoalescer } from './delta-coalescer.ts';
import { continuationFor, continuedRequest, continuedResponse } from './stream-continuation.ts';
import { nativeCompacted, nativeCompactionOptions } from './context-compaction.ts';
import {
  reserveModelCall,
  settleFailed,
  settleResponded,
  settleTenantDay,
  type HeldReservation,
} from '../harness/budget-charge.ts';

/** Retry waits longer than this are durable timer waits (holding no worker), not sleeps. */
const longestInProcessWaitMs = 30_000;
const streamFlushMs = 250;

export type ModelStepOutcome = 'continue' | 'waiting' | 'failed' | 'stopped';

function asModelError(error: unknown): LongrunError {
  if (isLongrunError(error)) return error;
  return new LongrunError(
    'INTERNAL',
    `the model client threw a non-longrun error: ${(error as Error)?.message ?? String(error)}`,
    {
      cause: error,
    },
  );
}

/**
 * One attempt at the next model call, recorded as it goes: `model.requested` with its first
 * durable output, the text streamed in coalesced `model.streamed` events while it arrives (live
 * readers get each delta at once), then `model.responded` — or `model.failed`, which supersedes
 * the attempt's streamed text. A response that arrives before anything was written holds the
 * request itself (`transcriptSeq`), so a fast call writes one event. Retryable failures are
 * retried with backoff (honouring the provider's Retry-After), each attempt recorded; long waits
 * become durable timers. An attempt after one cut mid-text continues its durable text where the
 * model takes a prefill (stream-continuation.ts), and says so in its `model.requested`.
 */
export async function modelStep(ctx: AgentRunContext): Promise<ModelStepOutcome> {
  const state = ctx.writer.state;
  const step = state.steps + 1;
  const attempt = state.failedAttempts + 1;
  const sessionId = ctx.writer.lease.sessionId;
  const messages = ctx.transcript.messages(ctx.agent.instructions);
  let call: PreparedCall;
  try {
    call = await prepareCall(ctx, step, messages);
  } catch (error) {
    // No model was called: the agent's own code failed, which no retry of the call would mend.
    const why = error instanceof Error ? error.message : String(error);
    const message = `prepareStep of agent ${ctx.agent.name} failed at step ${step}: ${why}`;
    await ctx.writer.append([event('session.failed', { code: 'INVALID_ARGUMENT', message })], {
      status: { status: 'failed', reason: message },
      releaseLease: true,
    });
    return 'failed';
  }
  const { model } = call;
  // A stream cut mid-text is continued where the model can be given its text back.
  const continuation = await continuationFor(ctx, step, model);
  const prefillChars = continuation?.text.length ?? 0;
  // The budget's reservation is committed before the call is sent (it throws BUDGET_EXCEEDED,
  // which the runner turns into a pause, when the call does not fit); its settlement goes into
  // the commit that records the call's outcome.
  const held = await reserveModelCall(ctx, {
    kind: 'step',
    step,
    attempt,
    modelId: model.id,
    inputTokens: ctx.transcript.estimateTokens(
      ctx.agent.instructions.length + specsChars(call.request.tools) + prefillChars,
    ),
    maxOutputTokens: call.request.maxOutputTokens,
  });
  let streamedChars = 0;
  // The request is recorded with the attempt's first durable output — its first streamed text,
  // its failure or its response — so a fast call costs no commit of its own. An attempt cut by a
  // crash before any of those left nothing durable behind, and is simply made again.
  let requested: NewEvent | null = event('model.requested', {
    step,
    attempt,
    modelId: model.id,
    transcriptSeq: state.seq,
    ...(continuation === null
      ? {}
      : { continues: { attempt: continuation.attempt, chars: prefillChars } }),
  });
  const withRequest = (events: NewEvent[]): NewEvent[] => {
    const head = requested === null ? [] : [requested];
    requested = null;
    return [...head, ...events];
  };
  const coalescer = new DeltaCoalescer(streamFlushMs, (text) =>
    ctx.writer.append(withRequest([event('model.streamed', { step, attempt, text })])),
  );
  const request =
    continuation === null ? call.request : continuedRequest(call.request, continuation);
  let response: ModelResponse;
  try {
    response = await model.stream(
      { ...request, signal: ctx.signal, context: { sessionId, step, attempt } },
      (text) => {
        ctx.events.emit('model.delta', { sessionId, step, attempt, text });
        streamedChars += text.length;
        coalescer.push(text);
      },
    );
    // model.responded holds the whole text: what was not yet streamed to the log need not be.
    await coalescer.close({ drain: false });
  } catch (error) {
    await coalescer.close({ drain: true }).catch(() => undefined);
    if (ctx.signal.aborted) return 'stopped';
    if (isLongrunError(error, 'LEASE_LOST')) throw error;
    const settled = held === null ? [] : [settleFailed(held, streamedChars)];
    // The tenant's day first: recording the failure may give the lease up (a pause).
    await settleTenantDay(ctx, held, settled[0]);
    return recordFailure(ctx, step, attempt, asModelError(error), continuation !== null, (events) =>
      withRequest([...settled, ...events]),
    );
  }
  if (continuation !== null) response = continuedResponse(response, continuation.text);
  const toolCalls = await keptInputs(
    ctx,
    step,
    response.toolCalls.map((c, callIndex) => ({ callIndex, tool: c.name, args: c.args, id: c.id })),
  );
  // A response that is its attempt's first durable output stands for its request too: one
  // event instead of two (modelRequestOf reads either) — unless the request continued a cut
  // attempt, which only `model.requested` says.
  const standsFor = requested !== null && continuation === null;
  const record = standsFor ? (requested?.data as ModelRequestRecord) : null;
  if (standsFor) requested = null;
  const events: NewEvent[] = [
    ...withRequest([]),
    event('model.responded', {
      step,
      text: response.text,
      toolCalls,
      usage: response.usage,
      finishReason: response.finishReason,
      attempt,
      modelId: response.modelId,
      ...(record === null ? {} : { transcriptSeq: record.transcriptSeq }),
      ...(record === null || record.modelId === response.modelId
        ? {}
        : { requestedModelId: record.modelId }),
      ...turnDetails(response),
      ...(call.activeTools === undefined ? {} : { activeTools: call.activeTools }),
    }),
    ...nativeCompacted(ctx, step, response),
    ...settledResponse(held, response),
  ];
  const effects: EffectChange[] = [];
  const first = toolCalls[0];
  // The transcript learns what this turn was offered only once it commits: a call to a tool it
  // was not offered is left for settleCall, which answers it with an error.
  const offered = first !== undefined && (call.activeTools?.includes(first.tool) ?? true);
  if (first !== undefined && offered) await chainStart(ctx, step, first, events, effects);
  // A compaction is checkpointed at once, so a resume starts from the compacted transcript.
  const compacted = events.some((e) => e.type === 'context.compacted');
  if (compacted) await ctx.writer.append(events, { effects, checkpoint: 'always' });
  else if (held === null) {
    // Nothing outside the log counted this call: a crash before the response commits makes the
    // call again, as one during it does. It goes with the last tool result, if that is still
    // held; a tool it asks for runs once it has committed (run-call.ts).
    await ctx.writer.appendAhead(events, { effects });
  } else await ctx.writer.append(events, { effects });
  await settleTenantDay(
    ctx,
    held,
    events.find((e) => e.type === 'budget.settled'),
  );
  return 'continue';
}

/**
 * Arguments too large for the log go to the blob store, before the response that names them
 * commits. `run_subagents` keeps its own whole: its children are counted from them in the log.
 */
async function keptInputs(
  ctx: AgentRunContext,
  step: number,
  calls: ToolCall[],
): Promise<ToolCall[]> {
  const config = ctx.agent.toolInputs;
  if (config === false) return calls;
  const blobs = ctx.agent.blobs ?? ctx.store.blobs;
  return keepLargeInputs(calls, blobs, config, step, new Set([subAgentsToolName]));
}

function settledResponse(held: HeldReservation | null, response: ModelResponse): NewEvent[] {
  return held === null ? [] : [settleResponded(held, response)];
}

interface PreparedCall {
  model: ModelClient;
  request: ModelRequest;
  /** The tools offered, when prepareStep offered fewer than all. */
  activeTools?: string[];
}

/**
 * The model and request of this call: the agent's, with whatever its `prepareStep` chose for
 * this step (another model, fewer tools, other settings).
 */
async function prepareCall(
  ctx: AgentRunContext,
  step: number,
  messages: ModelMessage[],
): Promise<PreparedCall> {
  const { agent } = ctx;
  const prepared = (await agent.prepareStep?.({ step, messages, model: ctx.model })) ?? {};
  const model =
    prepared.model === undefined
      ? ctx.model
      : toModelClient(prepared.model, 'the model prepareStep returned');
  let tools = ctx.specs;
  if (prepared.activeTools !== undefined) {
    const active = new Set(prepared.activeTools);
    const unknown = [...active].filter((name) => !ctx.tools.has(name));
    if (unknown.length > 0) {
      throw new LongrunError(
        'INVALID_ARGUMENT',
        `activeTools names ${unknown.join(', ')}, which the agent does not have`,
      );
    }
    tools = ctx.specs.filter((spec) => active.has(spec.name));
  }
  const activeTools = tools === ctx.specs ? undefined : tools.map((spec) => spec.name);
  // The pager of kept outputs is offered once there is one to read.
  const pager = ctx.tools.get(readToolResultName);
  if (
    pager !== undefined &&
    hasKeptContent(ctx.writer.state) &&
    (activeTools === undefined || activeTools.includes(readToolResultName))
  )
    tools = [...tools, readToolResultSpec(pager)];
  const request: ModelRequest = { messages, tools };
  const temperature = prepared.temperature ?? agent.temperature;
  const maxOutputTokens = prepared.maxOutputTokens ?? agent.maxOutputTokens;
  const toolChoice = prepared.toolChoice ?? agent.toolChoice;
  const providerOptions = mergeProviderMetadata(
    nativeCompactionOptions(ctx, model),
    agent.providerOptions,
    prepared.providerOptions,
  );
  if (temperature !== undefined) request.temperature = temperature;
  if (maxOutputTokens !== undefined) request.maxOutputTokens = maxOutputTokens;
  if (toolChoice !== undefined) request.toolChoice = toolChoice;
  if (providerOptions !== undefined) request.providerOptions = providerOptions;
  return { model, request, ...(activeTools === undefined ? {} : { activeTools }) };
}

/**
 * Reasoning, ordered parts and provider metadata, recorded only when the response has them. A
 * client that put metadata on its calls but gave no parts gets the plain order: text, calls.
 */
function turnDetails(
  response: ModelResponse,
): Pick<EventDataByType['model.responded'], 'parts' | 'providerMetadata'> {
  let parts = response.parts;
  if (parts === undefined && response.toolCalls.some((c) => c.providerMetadata !== undefined)) {
    parts = [
      ...(response.text === '' ? [] : [{ type: 'text' as const, text: response.text }]),
      ...response.toolCalls.map((c, callIndex) => ({
        type: 'tool-call' as const,
        callIndex,
        ...(c.providerMetadata === undefined ? {} : { providerMetadata: c.providerMetadata }),
      })),
    ];
  }
  return {
    ...(parts === undefined ? {} : { parts }),
    ...(response.providerMetadata === undefined
      ? {}
      : { providerMetadata: response.providerMetadata }),
  };
}

/**
 * Whether a MODEL_CONTEXT_EXCEEDED refusal is retried after a compaction: yes, unless compaction
 * is off or the step was already refused as too long once and compacted since.
 */
function compactsOnRefusal(ctx: AgentRunContext, error: LongrunError): boolean {
  if (error.code !== 'MODEL_CONTEXT_EXCEEDED' || ctx.agent.context?.compaction === false) {
    return false;
  }
  const state = ctx.writer.state;
  const last = state.lastModelFailure;
  const refusedBefore =
    state.failedAttempts > 0 &&
    last?.code === 'MODEL_CONTEXT_EXCEEDED' &&
    (state.context?.lastSeq ?? 0) > (last.seq ?? 0);
  return !refusedBefore;
}

async function recordFailure(
  ctx: AgentRunContext,
  step: number,
  attempt: number,
  error: LongrunError,
  continued: boolean,
  withRequest: (events: NewEvent[]) => NewEvent[],
): Promise<ModelStepOutcome> {
  // A request the provider refused as too long is retried once, after a compaction. A refused
  // continuation (a model that takes no prefill after all, e.g. with extended thinking) is
  // retried at once from scratch: the next attempt does not continue a refused one.
  const retryable =
    error.retryable ||
    compactsOnRefusal(ctx, error) ||
    (continued && error.code === 'MODEL_REJECTED');
  const failed = {
    step,
    attempt,
    code: error.code,
    message: error.message,
    retryable,
  };
  const events = withRequest([event('model.failed', { ...failed, retryInMs: null })]);
  // A retry is another model call: the gates decide whether there is one (maxModelAttempts),
  // asked on the state this failure makes.
  const ahead = foldAhead(ctx.writer.state, ctx.writer.lease.sessionId, events);
  const retryAllowed =
    retryable &&
    checkModelCall(ctx.gates, { agent: ctx.agent, state: ahead, step: ahead.steps + 1 }) === null;
  const retryAfterMs =
    typeof error.details?.retryAfterMs === 'number' ? error.details.retryAfterMs : 0;
  const retryInMs = !retryAllowed
    ? null
    : error.retryable
      ? Math.max(backoffMs(ahead.modelFailures ?? 0, 500, 20_000), retryAfterMs)
      : 0;
  events[events.length - 1] = event('model.failed', { ...failed, retryInMs });
  await ctx.writer.append(events);
  // Refused by a gate: the loop asks the chain again and records its decision.
  if (retryable && retryInMs === null) return 'continue';
  if (retryInMs === null) {
    const message = `the model refused the request: ${error.message}`;
    await ctx.writer.append([event('session.failed', { code: error.code, message })], {
      status: { status: 'failed', reason: message },
      releaseLease: true,
    });
    return 'failed';
  }
  if (retryInMs > longestInProcessWaitMs) {
    const untilMs = (await ctx.store.nowMs()) + retryInMs;
    await ctx.writer.append(
      [event('wait.started', { waitId: `retry-${step}-${attempt}`, kind: 'timer', untilMs })],
      {
        status: {
          status: 'waiting',
          wakeAtMs: untilMs,
          reason: `model unavailable; retrying at ${new Date(untilMs).toISOString()}`,
        },
        releaseLease: true,
      },
    );
    return 'waiting';
  }
  await pause(retryInMs, ctx.signal);
  return 'continue';
}

/**
 * Characters of the tools' specs as JSON, for the call's token estimate: remembered per specs
 * array, as an agent's (unless prepareStep picks a subset) is the same at every step.
 */
function specsChars(specs: readonly ModelToolSpec[]): number {
  let chars = specsCharsCache.get(specs);
  if (chars === undefined) {
    chars = JSON.stringify(specs).length;
    specsCharsCache.set(specs, chars);
  }
  return chars;
}

const specsCharsCache = new WeakMap<readonly ModelToolSpec[], number>();
