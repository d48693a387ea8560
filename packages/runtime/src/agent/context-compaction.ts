import {
  event,
  isLongrunError,
  LongrunError,
  type ModelClient,
  type ModelMessage,
  type ModelResponse,
  type NewEvent,
  type ProviderMetadata,
} from '@longrun/core';
import { knownContextWindow } from '@longrun/models';
import { backoffMs, pause } from '../backoff.ts';
import type { AgentRunContext } from './agent-context.ts';
import { taskText } from './transcript-builder.ts';
import { budgetStopOf, chargedCall, estimateRequestTokens } from '../harness/budget-charge.ts';
import { readToolResultName } from '../tools/tool-results-config.ts';

/** What the summary call is told when the agent gives no `context.summaryInstructions`. */
export const defaultSummaryInstructions = [
  'You are compacting the transcript of a long-running agent session so it can continue within',
  'its context window. Write a summary that replaces the part of the conversation you are given:',
  'the task and any instructions from the user, exactly; what has been done and found so far;',
  'decisions and their reasons; the state of files and systems the agent changed; what remains',
  'to do and the next step. Keep names, paths, identifiers and figures exact. Write only the',
  'summary: no tool calls, no greeting.',
].join(' ');

const compactionTries = 3;

export type CompactionOutcome = 'compacted' | 'skipped' | 'failed' | 'stopped';

/**
 * Compacts the transcript before the next model call when it would pass `compactAt` of the
 * model's context window, or when the provider refused the latest attempt as too long (once per
 * refusal): asks the summary model for a summary of the older part and appends
 * `context.compacted`, with a checkpoint, so a resume starts from the compacted transcript. A
 * worker that dies after the summary call and before that append leaves nothing behind: the next
 * one decides again and makes the call again.
 */
export async function compactContext(ctx: AgentRunContext): Promise<CompactionOutcome> {
  const options = ctx.agent.context ?? {};
  if (options.compaction === false) return 'skipped';
  const state = ctx.writer.state;
  const failure = state.lastModelFailure;
  const refused =
    failure?.code === 'MODEL_CONTEXT_EXCEEDED' &&
    state.failedAttempts > 0 &&
    (state.context?.lastSeq ?? 0) < (failure.seq ?? 0);
  // The provider compacts natively as the window fills; a refusal still gets a summary.
  if (!refused && nativeCompactionOptions(ctx, ctx.model) !== undefined) return 'skipped';
  const windowTokens = options.windowTokens ?? knownContextWindow(ctx.model.id);
  if (windowTokens === null && !refused) return 'skipped';
  const window = windowTokens ?? Math.ceil(ctx.transcript.estimateTokens(0) / 0.6);
  const budget = Math.floor(window * (options.compactAt ?? 0.8));
  const fixedChars = fixedCharsOf(ctx);
  const tokensBefore = ctx.transcript.estimateTokens(fixedChars) + (ctx.agent.maxOutputTokens ?? 0);
  if (!refused && tokensBefore <= budget) return 'skipped';
  const handoff = await readHandoff(ctx);
  const cut = ctx.transcript.compactionCut(
    handoff === null ? (options.keepRecentTurns ?? 4) : 0,
    budget * 2,
  );
  if (cut === null) return 'skipped';
  if (handoff !== null) {
    const summary = `The task:\n${taskText(state.input)}\n\n${handoff.file}:\n${handoff.text}`;
    await ctx.writer.append(
      [
        event('context.compacted', {
          ...cut,
          summary,
          modelId: 'handoff',
          usage: { inputTokens: 0, outputTokens: 0 },
          tokensBefore,
          tokensAfter: Math.ceil((summary.length + 300 + fixedChars) / 4),
          reason: refused ? 'refused' : 'threshold',
          handoff: { file: handoff.file, bytes: handoff.bytes },
        }),
      ],
      { checkpoint: 'always' },
    );
    return 'compacted';
  }
  const older = ctx.transcript.head(cut.messages);
  const model = options.summaryModel ?? ctx.model;
  const instructions = options.summaryInstructions ?? defaultSummaryInstructions;
  let response: ModelResponse;
  try {
    response = await summarize(ctx, model, instructions, fitted(older, window * 3));
  } catch (error) {
    if (ctx.signal.aborted) return 'stopped';
    // A lost lease stops the run; a budget stop is the runner's to turn into a pause.
    if (isLongrunError(error, 'LEASE_LOST') || budgetStopOf(error) !== null) throw error;
    const code = isLongrunError(error) ? error.code : 'INTERNAL';
    const why = error instanceof Error ? error.message : String(error);
    const message = `compacting the transcript of agent ${ctx.agent.name} failed: ${why}`;
    await ctx.writer.append([event('session.failed', { code, message })], {
      status: { status: 'failed', reason: message },
      releaseLease: true,
    });
    return 'failed';
  }
  const summary = response.text.trim();
  const tokensAfter = Math.ceil(
    (ctx.transcript.charsFrom(cut.messages) + summary.length + 200 + fixedChars) / 4,
  );
  await ctx.writer.append(
    [
      event('context.compacted', {
        ...cut,
        summary,
        modelId: response.modelId,
        usage: response.usage,
        tokensBefore,
        tokensAfter,
        reason: refused ? 'refused' : 'threshold',
      }),
    ],
    { checkpoint: 'always' },
  );
  return 'compacted';
}

/**
 * The provider options that ask `model`'s provider to compact natively once a request passes
 * `compactAt` of the window (the agent's `context.compaction: 'native'`); undefined when the
 * agent does not ask for it, the provider cannot, or the window is unknown.
 */
export function nativeCompactionOptions(
  ctx: AgentRunContext,
  model: ModelClient,
): ProviderMetadata | undefined {
  const options = ctx.agent.context ?? {};
  if (options.compaction !== 'native' || model.nativeCompactionOptions === undefined) return;
  const windowTokens = options.windowTokens ?? knownContextWindow(model.id);
  if (windowTokens === null) return;
  return model.nativeCompactionOptions(Math.floor(windowTokens * (options.compactAt ?? 0.8)));
}

/**
 * The `context.compacted` that records a provider's native compaction in the response of `step`
 * (its latest `compaction` part), to be committed right after the turn's `model.responded`:
 * every message before the turn is dropped, and the transcript starts from the turn, which
 * holds the compaction item as received. None when the response has no compaction.
 */
export function nativeCompacted(
  ctx: AgentRunContext,
  step: number,
  response: ModelResponse,
): NewEvent[] {
  const parts = response.parts ?? [];
  const part = parts.findLastIndex((p) => p.type === 'compaction');
  const item = parts[part];
  if (item?.type !== 'compaction') return [];
  const fixedChars = fixedCharsOf(ctx);
  const turnChars = JSON.stringify(parts).length + JSON.stringify(response.toolCalls).length;
  return [
    event('context.compacted', {
      ...ctx.transcript.wholeCut(),
      summary: item.text,
      modelId: response.modelId,
      usage: { inputTokens: 0, outputTokens: 0 },
      tokensBefore: response.usage.inputTokens,
      tokensAfter: Math.ceil((turnChars + fixedChars) / 4),
      reason: 'threshold',
      native: { provider: response.modelId.split(':')[0] ?? response.modelId, step, part },
    }),
  ];
}

/** The largest progress file a handoff carries; a larger one falls back to a summary. */
const maxHandoffBytes = 256 * 1024;

/**
 * The progress file a context reset hands off with (the agent's `context.handoff`), read from the
 * workspace now; null when the agent does not hand off, or the file is missing or too large.
 */
async function readHandoff(
  ctx: AgentRunContext,
): Promise<{ file: string; text: string; bytes: number } | null> {
  const option = ctx.agent.context?.handoff;
  if (option === undefined || option === false) return null;
  const file = (option === true ? undefined : option.progressFile) ?? 'PROGRESS.md';
  const entry = await ctx.workspace.files.stat(file).catch(() => null);
  if (entry === null || entry.type !== 'file' || entry.size > maxHandoffBytes) return null;
  const bytes = await ctx.workspace.files.readFile(file, { maxBytes: maxHandoffBytes });
  return { file, text: new TextDecoder().decode(bytes), bytes: bytes.byteLength };
}

/** The summary call, retried in process on transient failures. */
async function summarize(
  ctx: AgentRunContext,
  model: ModelClient,
  instructions: string,
  older: ModelMessage[],
): Promise<ModelResponse> {
  const state = ctx.writer.state;
  const messages: ModelMessage[] = [
    { role: 'system', content: instructions },
    ...older,
    {
      role: 'user',
      content:
        'Summarize the conversation above as instructed, so the session can continue from your summary alone.',
    },
  ];
  for (let attempt = 1; ; attempt++) {
    try {
      const request = {
        messages,
        // The calls in the transcript name these tools; providers want them declared.
        tools: ctx.specs,
        ...(ctx.specs.length > 0 ? { toolChoice: 'none' as const } : {}),
        signal: ctx.signal,
        context: {
          sessionId: ctx.writer.lease.sessionId,
          step: state.steps + 1,
          attempt,
          purpose: 'summary' as const,
        },
      };
      const charge = {
        kind: 'compaction' as const,
        step: state.steps + 1,
        attempt,
        modelId: model.id,
        inputTokens: estimateRequestTokens(messages, ctx.specs),
        maxOutputTokens: undefined,
      };
      const response = await chargedCall(ctx, charge, () => model.stream(request, () => undefined));
      if (response.text.trim() === '') {
        throw new LongrunError('MODEL_OUTPUT_INVALID', `${model.id} returned an empty summary`);
      }
      return response;
    } catch (error) {
      const retryable = isLongrunError(error) && error.retryable;
      if (!retryable || attempt >= compactionTries || ctx.signal.aborted) throw error;
      await pause(backoffMs(attempt, 500, 10_000), ctx.signal);
    }
  }
}

/**
 * The older part, cut from the front (after a leading summary) at assistant turns until it is
 * at most `maxChars` as JSON: what a summary call that must fit its own window is given. A part
 * that fits is given whole.
 */
function fitted(older: ModelMessage[], maxChars: number): ModelMessage[] {
  const sizes = older.map((m) => JSON.stringify(m).length);
  let total = sizes.reduce((a, b) => a + b, 0);
  if (total <= maxChars) return older;
  const keepFirst = older[0]?.role === 'user' ? 1 : 0;
  let from = keepFirst;
  while (total > maxChars && from < older.length) {
    total -= sizes[from] ?? 0;
    from++;
    while (from < older.length && older[from]?.role !== 'assistant') {
      total -= sizes[from] ?? 0;
      from++;
    }
  }
  return [...older.slice(0, keepFirst), ...older.slice(from)];
}

/**
 * The characters every request carries besides the transcript: the instructions and the tools'
 * specs. The pager of kept outputs is left out: the harness offers it only while there is kept
 * content, outside `ctx.specs` (model-step.ts). A replay's recorded pager is a plain tool of its
 * agent, in `ctx.specs`: left out, the replay estimates as the recording did.
 */
function fixedCharsOf(ctx: AgentRunContext): number {
  const specs = ctx.specs.filter((spec) => spec.name !== readToolResultName);
  return ctx.agent.instructions.length + JSON.stringify(specs).length;
}
