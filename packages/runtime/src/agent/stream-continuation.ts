import {
  failureCode,
  type ModelClient,
  type ModelFailureCode,
  type ModelRequest,
  type ModelResponse,
  type StoredEvent,
} from '@longrun/core';
import type { AgentRunContext } from './agent-context.ts';

/**
 * Continuing a model stream that was cut mid-text (issue 13). A model whose client says it
 * supports assistant prefill (`ModelClient.supportsAssistantPrefill`: Anthropic) is sent the
 * transcript plus the cut attempt's durable text as a last assistant message, and continues it;
 * the turn's text is that text followed by the continuation. Other models start the turn again.
 *
 * What is continued is the text only, exactly as the log holds it (`model.streamed`), so a worker
 * that takes the session over continues the same way. Tool calls are never streamed to the log:
 * a call the cut attempt had begun, whole or half, is dropped, and the model makes it again after
 * the text — a half call's input is never sent back. Providers stream a turn's text before its
 * tool calls, so the text is a prefix of the turn the model was making.
 */

/** The cut attempt a retry continues, and the text it continues from. */
export interface Continuation {
  attempt: number;
  text: string;
}

/**
 * Failures that cut a stream the model was making; another failure (a refusal, a request too
 * long) says the request itself should change, so the turn starts again.
 */
const cutCodes: ReadonlySet<ModelFailureCode> = new Set<ModelFailureCode>([
  'MODEL_UNAVAILABLE',
  'MODEL_OUTPUT_INVALID',
  failureCode.workerStopped,
]);

const pageSize = 1_000;

/**
 * The continuation for the next attempt at `step`, or null when it starts from scratch: the
 * model cannot continue a prefill, the step has no failed attempt, the last one was not cut, or
 * it left no text. Reads the step's events from the log (only after a failure, so rarely).
 */
export async function continuationFor(
  ctx: AgentRunContext,
  step: number,
  model: ModelClient,
): Promise<Continuation | null> {
  if (model.supportsAssistantPrefill !== true || ctx.writer.state.failedAttempts === 0) return null;
  const sessionId = ctx.writer.lease.sessionId;
  const events: StoredEvent[] = [];
  let afterSeq = ctx.transcript.lastMessageSeq;
  // Bounded: the step's events end at the state's seq.
  while (afterSeq < ctx.writer.state.seq) {
    const page = await ctx.store.readEvents(sessionId, afterSeq, pageSize);
    if (page.length === 0) break;
    events.push(...page);
    afterSeq = page.at(-1)?.seq ?? afterSeq;
  }
  return cutAttemptOf(events, step);
}

/**
 * The step's last failed attempt, with the text it had made, when the failure cut it mid-text.
 * An attempt that continued another holds that one's text before its own. Attempts whose
 * `model.requested` is not among `events` are unknown (their prefix could be anything): null.
 * Trailing whitespace is left out: Anthropic refuses a prefill that ends with it.
 */
export function cutAttemptOf(events: readonly StoredEvent[], step: number): Continuation | null {
  const texts = new Map<number, string>();
  let last: { attempt: number; cut: boolean } | null = null;
  for (const e of events) {
    if (!('step' in e.data) || e.data.step !== step) continue;
    if (e.type === 'model.requested') {
      const from = e.data.continues;
      const prefix = from === undefined ? '' : texts.get(from.attempt)?.slice(0, from.chars);
      if (prefix !== undefined) texts.set(e.data.attempt, prefix);
    } else if (e.type === 'model.streamed') {
      const text = texts.get(e.data.attempt);
      if (text !== undefined) texts.set(e.data.attempt, text + e.data.text);
    } else if (e.type === 'model.failed') {
      last = { attempt: e.data.attempt, cut: cutCodes.has(e.data.code) };
    }
  }
  if (last === null || !last.cut) return null;
  const text = texts.get(last.attempt)?.trimEnd() ?? '';
  return text === '' ? null : { attempt: last.attempt, text };
}

/** The request that continues `continuation`: the transcript, then its text as the assistant's. */
export function continuedRequest(request: ModelRequest, continuation: Continuation): ModelRequest {
  return {
    ...request,
    messages: [...request.messages, { role: 'assistant', text: continuation.text, toolCalls: [] }],
  };
}

/**
 * The whole turn: the continued text, then the response to the continuation. Ordered parts get
 * the text too, in the first text part (or before the first non-reasoning part), so their text
 * parts still concatenate to the turn's text. Usage is the continuation's own, as billed.
 */
export function continuedResponse(response: ModelResponse, text: string): ModelResponse {
  const parts = response.parts;
  if (parts === undefined) return { ...response, text: text + response.text };
  const at = parts.findIndex((p) => p.type !== 'reasoning');
  const first = parts[at];
  const joined =
    first?.type === 'text'
      ? [...parts.slice(0, at), { ...first, text: text + first.text }, ...parts.slice(at + 1)]
      : [
          ...parts.slice(0, at === -1 ? parts.length : at),
          { type: 'text' as const, text },
          ...(at === -1 ? [] : parts.slice(at)),
        ];
  return { ...response, text: text + response.text, parts: joined };
}
