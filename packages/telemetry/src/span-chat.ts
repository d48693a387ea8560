import type { EventDataByType, StoredEvent, TokenUsage } from '@longrun/core';
import {
  finishReasonOf,
  responseMessages,
  spanEventOf,
  usageAttributes,
  type SessionSpanContext,
  type SpanDraft,
  type SpanEnd,
} from './span-drafts.ts';
import { spanIdFor } from './trace-ids.ts';
import { genAi, genAiOperation, providerAndModel } from './trace-semconv.ts';
import type { DerivedSpan, SpanAttributes } from './span-types.ts';

interface ChatDraft extends SpanDraft {
  step: number;
  attempt: number;
  reservationId: string | null;
}

type Purpose = 'step' | 'compaction';

/** Marks an attempt whose output is not in the transcript: a later attempt replaced it. */
const superseded = 'longrun.chat.superseded';

/**
 * `chat {model}` spans: one per model attempt of a step (`model.requested` or the budget's
 * `budget.reserved` before it → `model.responded` or `model.failed`), and one per compaction
 * summary (→ `context.compacted`). Every attempt is a span, answered or not: one that failed, or
 * that a crash left open (found out when its reservation is settled as `interrupted`, when the
 * next worker records it `WORKER_STOPPED`, or when the next attempt opens), is closed with
 * `error.type` and `longrun.chat.superseded: true`. A step's answered attempt has `false`.
 */
export class ChatSpans {
  readonly #ctx: SessionSpanContext;
  readonly #open: Record<Purpose, ChatDraft | null> = { step: null, compaction: null };
  #turnUsage: Required<Pick<TokenUsage, 'inputTokens' | 'outputTokens'>> | null = null;
  #turnModel: { provider: string; model: string } | null = null;

  constructor(ctx: SessionSpanContext) {
    this.#ctx = ctx;
  }

  /** Applies `e` if it is about model calls or budgets; false if it is not. */
  apply(e: StoredEvent, closed: DerivedSpan[]): boolean {
    switch (e.type) {
      case 'budget.reserved':
        this.#reserved(e, e.data, closed);
        return true;
      case 'budget.settled':
        this.#settled(e, e.data, closed);
        return true;
      case 'budget.set':
        this.#ctx.noteOnTurn(e, { 'longrun.budget.by': e.data.by });
        return true;
      case 'model.requested':
      case 'model.streamed':
        this.#attempt(e, 'step', e.data.step, e.data.attempt, closed, modelOf(e));
        return true;
      case 'model.failed': {
        const { step, attempt, code, message } = e.data;
        const draft = this.#attempt(e, 'step', step, attempt, closed, null);
        this.#end(draft, e, closed, { ok: false, errorType: code, message });
        return true;
      }
      case 'model.responded':
        this.#responded(e, e.data, closed);
        return true;
      case 'context.compacted':
        this.#compacted(e, e.data, closed);
        return true;
      default:
        return false;
    }
  }

  open(): SpanDraft[] {
    return [this.#open.step, this.#open.compaction].filter((d) => d !== null);
  }

  /** Closes the attempts still open (the session ended, or the turn did). */
  closeAll(e: StoredEvent, end: SpanEnd): DerivedSpan[] {
    const closed: DerivedSpan[] = [];
    for (const d of this.open()) this.#end(d as ChatDraft, e, closed, end);
    return closed;
  }

  /** The turn's tokens and its last model, for its `invoke_agent` span; then starts afresh. */
  turnSummary(): SpanAttributes {
    const summary: SpanAttributes = {};
    if (this.#turnModel !== null) {
      summary[genAi.providerName] = this.#turnModel.provider;
      summary[genAi.requestModel] = this.#turnModel.model;
    }
    if (this.#turnUsage !== null) Object.assign(summary, usageAttributes(this.#turnUsage));
    this.#turnUsage = null;
    this.#turnModel = null;
    return summary;
  }

  #reserved(e: StoredEvent, data: EventDataByType['budget.reserved'], closed: DerivedSpan[]): void {
    const attributes = {
      'longrun.budget.reservation': data.reservationId,
      'longrun.budget.cost_usd': data.costUsd,
    };
    // An evaluator's calls and a sub-agents' hold are not model calls of this session's turn.
    if (data.kind !== 'step' && data.kind !== 'compaction')
      return this.#ctx.noteOnTurn(e, { ...attributes, 'longrun.budget.kind': data.kind });
    const purpose: Purpose = data.kind;
    // A reservation is committed before its call is sent: the attempt starts here. One still
    // open was left by a crash (a new reservation is only made once the old one is settled).
    const old = this.#open[purpose];
    if (old !== null) this.#end(old, e, closed, { ok: false, errorType: 'WORKER_STOPPED' });
    const draft = this.#openDraft(e, purpose, data.step, data.attempt, data.modelId, e.atMs);
    draft.reservationId = data.reservationId;
    draft.events.push(spanEventOf(e, attributes));
  }

  #settled(e: StoredEvent, data: EventDataByType['budget.settled'], closed: DerivedSpan[]): void {
    const attributes = {
      'longrun.budget.reservation': data.reservationId,
      'longrun.budget.outcome': data.outcome,
      'longrun.budget.cost_usd': data.costUsd,
    };
    const draft = this.open().find((d) => (d as ChatDraft).reservationId === data.reservationId);
    if (draft === undefined) return this.#ctx.noteOnTurn(e, attributes);
    draft.events.push(spanEventOf(e, attributes));
    // Settled as interrupted: its worker died before the call's outcome was recorded.
    if (data.outcome === 'interrupted')
      this.#end(draft as ChatDraft, e, closed, { ok: false, errorType: 'WORKER_STOPPED' });
  }

  #responded(
    e: StoredEvent,
    data: EventDataByType['model.responded'],
    closed: DerivedSpan[],
  ): void {
    const requested = data.requestedModelId ?? data.modelId ?? null;
    const draft = this.#attempt(e, 'step', data.step, data.attempt ?? 1, closed, requested);
    const a = draft.attributes;
    if (data.modelId !== undefined) a[genAi.responseModel] = providerAndModel(data.modelId).model;
    if (data.finishReason !== undefined)
      a[genAi.responseFinishReasons] = [finishReasonOf(data.finishReason)];
    Object.assign(a, usageAttributes(data.usage));
    a['longrun.chat.tool_calls'] = data.toolCalls.length;
    if (this.#ctx.captureContent)
      a[genAi.outputMessages] = responseMessages(data.text, data.toolCalls, data.finishReason);
    this.#addToTurn(data.usage);
    this.#end(draft, e, closed, { ok: true });
  }

  #compacted(
    e: StoredEvent,
    data: EventDataByType['context.compacted'],
    closed: DerivedSpan[],
  ): void {
    const details = {
      'longrun.compaction.reason': data.reason,
      'longrun.compaction.tokens_before': data.tokensBefore,
      'longrun.compaction.tokens_after': data.tokensAfter,
    };
    // A handoff is written by no model: a decision on the turn, not a call.
    if (data.handoff !== undefined) return this.#ctx.noteOnTurn(e, details);
    const draft =
      this.#open.compaction ??
      this.#openDraft(e, 'compaction', 0, 1, data.modelId, this.#ctx.previousAtMs);
    Object.assign(draft.attributes, details, usageAttributes(data.usage));
    draft.attributes[genAi.responseModel] = providerAndModel(data.modelId).model;
    this.#addToTurn(data.usage);
    this.#end(draft, e, closed, { ok: true });
  }

  /**
   * The open span of attempt (step, attempt), opened here if there is none: then it started
   * when the event before `e` committed (its request is recorded with its first output). An
   * open span of another attempt was left by a crash, and is closed as superseded.
   */
  #attempt(
    e: StoredEvent,
    purpose: Purpose,
    step: number,
    attempt: number,
    closed: DerivedSpan[],
    modelId: string | null,
  ): ChatDraft {
    const open = this.#open[purpose];
    if (open !== null && open.step === step && open.attempt === attempt) return open;
    if (open !== null) this.#end(open, e, closed, { ok: false, errorType: 'WORKER_STOPPED' });
    return this.#openDraft(e, purpose, step, attempt, modelId ?? '', this.#ctx.previousAtMs);
  }

  #openDraft(
    e: StoredEvent,
    purpose: Purpose,
    step: number,
    attempt: number,
    modelId: string,
    startMs: number,
  ): ChatDraft {
    const { provider, model } = providerAndModel(modelId);
    const draft: ChatDraft = {
      spanId: spanIdFor(this.#ctx.sessionId, `chat:${e.seq}`),
      parentSpanId: this.#ctx.turnFor(e).spanId,
      name: `${genAiOperation.chat} ${model}`.trimEnd(),
      kind: 'client',
      startMs,
      openSeq: e.seq,
      attributes: {
        [genAi.operationName]: genAiOperation.chat,
        [genAi.providerName]: provider,
        [genAi.requestModel]: model,
        [genAi.conversationId]: this.#ctx.sessionId,
        'longrun.step': step,
        'longrun.chat.attempt': attempt,
        ...(purpose === 'step' ? {} : { 'longrun.chat.purpose': purpose }),
      },
      events: [],
      step,
      attempt,
      reservationId: null,
    };
    this.#open[purpose] = draft;
    this.#turnModel = { provider, model };
    return draft;
  }

  #end(draft: ChatDraft, e: StoredEvent, closed: DerivedSpan[], end: SpanEnd): void {
    const purpose: Purpose = this.#open.step === draft ? 'step' : 'compaction';
    this.#open[purpose] = null;
    if (purpose === 'step') draft.attributes[superseded] = !end.ok;
    closed.push(this.#ctx.close(draft, e, end));
  }

  #addToTurn(usage: TokenUsage): void {
    const sum = this.#turnUsage ?? { inputTokens: 0, outputTokens: 0 };
    sum.inputTokens += usage.inputTokens;
    sum.outputTokens += usage.outputTokens;
    this.#turnUsage = sum;
  }
}

function modelOf(e: StoredEvent): string | null {
  return e.type === 'model.requested' ? e.data.modelId : null;
}
