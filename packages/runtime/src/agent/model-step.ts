import {
  LongrunError,
  event,
  isLongrunError,
  type EffectChange,
  type NewEvent,
  type ModelResponse,
} from '@longrun/core';
import { backoffMs, pause } from '../backoff.ts';
import type { AgentRunContext } from './agent-context.ts';
import { chainStart } from './agent-calls.ts';
import { DeltaCoalescer } from './delta-coalescer.ts';

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
 * One attempt at the next model call, recorded as it goes: `model.requested` before it is sent,
 * the text streamed in coalesced `model.streamed` events while it arrives (live readers get each
 * delta at once), then `model.responded` — or `model.failed`, which supersedes the attempt's
 * streamed text. Retryable failures are retried with backoff (honouring the provider's
 * Retry-After), each attempt recorded; long waits become durable timers.
 */
export async function modelStep(ctx: AgentRunContext): Promise<ModelStepOutcome> {
  const state = ctx.writer.state;
  const step = state.steps + 1;
  const attempt = state.failedAttempts + 1;
  const sessionId = ctx.writer.lease.sessionId;
  // The request is recorded with the attempt's first durable output — its first streamed text,
  // its failure or its response — so a fast call costs no commit of its own. An attempt cut by a
  // crash before any of those left nothing durable behind, and is simply made again.
  let requested: NewEvent | null = event('model.requested', {
    step,
    attempt,
    modelId: ctx.model.id,
    transcriptSeq: state.seq,
  });
  const withRequest = (events: NewEvent[]): NewEvent[] => {
    const head = requested === null ? [] : [requested];
    requested = null;
    return [...head, ...events];
  };
  const messages = ctx.transcript.messages(ctx.agent.instructions);
  const coalescer = new DeltaCoalescer(streamFlushMs, (text) =>
    ctx.writer.append(withRequest([event('model.streamed', { step, attempt, text })])),
  );
  let response: ModelResponse;
  try {
    response = await ctx.model.stream(
      { messages, tools: ctx.specs, signal: ctx.signal },
      (text) => {
        ctx.hooks?.onTextDelta?.(sessionId, step, attempt, text);
        coalescer.push(text);
      },
    );
    // model.responded holds the whole text: what was not yet streamed to the log need not be.
    await coalescer.close({ drain: false });
  } catch (error) {
    await coalescer.close({ drain: true }).catch(() => undefined);
    if (ctx.signal.aborted) return 'stopped';
    if (isLongrunError(error, 'LEASE_LOST')) throw error;
    return recordFailure(ctx, step, attempt, asModelError(error), withRequest);
  }
  const toolCalls = response.toolCalls.map((c, callIndex) => ({
    callIndex,
    tool: c.name,
    args: c.args,
    id: c.id,
  }));
  const events: NewEvent[] = withRequest([
    event('model.responded', {
      step,
      text: response.text,
      toolCalls,
      usage: response.usage,
      finishReason: response.finishReason,
      attempt,
      modelId: response.modelId,
    }),
  ]);
  const effects: EffectChange[] = [];
  const first = toolCalls[0];
  if (first !== undefined) chainStart(ctx, step, first, events, effects);
  await ctx.writer.append(events, { effects });
  return 'continue';
}

async function recordFailure(
  ctx: AgentRunContext,
  step: number,
  attempt: number,
  error: LongrunError,
  withRequest: (events: NewEvent[]) => NewEvent[],
): Promise<ModelStepOutcome> {
  const maxAttempts = ctx.agent.maxModelAttempts ?? 6;
  // Attempts the model failed: worker crashes (WORKER_STOPPED) number attempts but spend no budget.
  const failures = (ctx.writer.state.modelFailures ?? 0) + 1;
  const retryAfterMs =
    typeof error.details?.retryAfterMs === 'number' ? error.details.retryAfterMs : 0;
  const retryInMs =
    error.retryable && failures < maxAttempts
      ? Math.max(backoffMs(failures, 500, 20_000), retryAfterMs)
      : null;
  await ctx.writer.append(
    withRequest([
      event('model.failed', {
        step,
        attempt,
        code: error.code,
        message: error.message,
        retryable: error.retryable,
        retryInMs,
      }),
    ]),
  );
  if (retryInMs === null) {
    const message = error.retryable
      ? `the model failed ${failures} times in a row; last: ${error.message}`
      : `the model refused the request: ${error.message}`;
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
