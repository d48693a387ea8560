import type { EventDataByType, StoredEvent } from '@longrun/core';
import { ChatSpans } from './span-chat.ts';
import { CallSpans } from './span-calls.ts';
import {
  closeDraft,
  contentText,
  spanEventOf,
  textMessages,
  type SessionSpanContext,
  type SpanDraft,
  type SpanEnd,
} from './span-drafts.ts';
import { spanIdFor, toolSpanIdFor, traceIdFor } from './trace-ids.ts';
import { genAi, genAiOperation, semconvStabilityFrom } from './trace-semconv.ts';
import type { DerivedSpan, DeriveSpansOptions, SpanAttributes } from './span-types.ts';

/**
 * Derives the spans of one session from its log, an event at a time, in seq order: `push`
 * returns the spans the event closed (each exactly once), `openSpans` those still open.
 *
 * - `invoke_agent {agent}`: a turn, from `session.created` or `user.messaged` (or
 *   `session.resumed` after a pause) to `session.completed`, `session.failed`,
 *   `session.cancelled` or a pause (`gate.decided` with `pause`). A sub-agent's turns are
 *   children of its parent's `execute_tool` span of the `run_subagents` call that started it, in
 *   its root session's trace.
 * - `chat {model}`: a model attempt (span-chat.ts); `execute_tool {tool}`, `wait {kind}` and
 *   `await_approval` (span-calls.ts), children of the turn (a wait of a tool call: of its tool's
 *   span).
 * - decisions as span events: `policy.decided` and a tool call's `gate.decided` on its tool's
 *   span, `budget.*`, a model call's `gate.decided`, `outcome.evaluated`,
 *   `workspace.snapshotted` on the turn or the attempt.
 *
 * Times are the events' `atMs` (the store's clock). A span that opens at an event that only
 * records an operation's end (a fast model call's `model.responded`) starts at the event before.
 */
export class SessionSpanDeriver implements SessionSpanContext {
  readonly captureContent: boolean;
  readonly #agentId: boolean;
  traceId = '';
  sessionId = '';
  #agent = '';
  /** The parent of every turn span: the parent session's tool span, for a sub-agent. */
  #turnParent: string | null = null;
  #turn: SpanDraft | null = null;
  #turns = 0;
  #lastAtMs = 0;
  readonly #chats: ChatSpans;
  readonly #calls: CallSpans;

  constructor(options: DeriveSpansOptions = {}) {
    this.captureContent = options.captureContent === true;
    const semconv = options.semconv ?? semconvStabilityFrom(process.env);
    // The latest conventions keep `gen_ai.agent.id` for remote agents only (a client span).
    this.#agentId = semconv === 'default';
    this.#chats = new ChatSpans(this);
    this.#calls = new CallSpans(this);
  }

  /** The spans `e` closed. Events must come in seq order, each once. */
  push(e: StoredEvent): DerivedSpan[] {
    if (this.sessionId === '') this.#begin(e);
    const closed: DerivedSpan[] = [];
    this.#apply(e, closed);
    this.#lastAtMs = e.atMs;
    return closed;
  }

  /** The spans still open (`endMs` null), innermost last. */
  openSpans(): DerivedSpan[] {
    const drafts = [
      ...(this.#turn === null ? [] : [this.#turn]),
      ...this.#chats.open(),
      ...this.#calls.open(),
    ];
    return drafts.map((d) => this.close(d, null, { ok: true }));
  }

  /** When the event before the current one committed (for spans that open at their end). */
  get previousAtMs(): number {
    return this.#lastAtMs;
  }

  turnFor(e: StoredEvent): SpanDraft {
    return this.#turn ?? this.#openTurn(e, {});
  }

  currentTurn(): SpanDraft | null {
    return this.#turn;
  }

  noteOnTurn(e: StoredEvent, attributes: SpanAttributes = {}): void {
    this.#turn?.events.push(spanEventOf(e, attributes));
  }

  close(draft: SpanDraft, e: StoredEvent | null, end: SpanEnd): DerivedSpan {
    return closeDraft(draft, this.traceId, this.sessionId, e, end);
  }

  #begin(e: StoredEvent): void {
    this.sessionId = e.sessionId;
    const created = e.type === 'session.created' ? e.data : null;
    const parent = created?.parent;
    this.#agent = created?.agent ?? '';
    this.traceId = traceIdFor(parent?.rootSessionId ?? e.sessionId);
    if (parent !== undefined)
      this.#turnParent = toolSpanIdFor(parent.sessionId, parent.step, parent.callIndex);
  }

  #apply(e: StoredEvent, closed: DerivedSpan[]): void {
    switch (e.type) {
      case 'session.created':
        this.#openTurn(e, this.#inputOf(e.data.input));
        return;
      case 'user.messaged':
        this.#endTurn(e, closed, { ok: true }, 'next_message');
        this.#openTurn(e, this.#inputOf(e.data.text));
        return;
      case 'session.resumed':
        if (this.#turn === null) this.#openTurn(e, { 'longrun.turn.resumed': true });
        else this.noteOnTurn(e, { 'longrun.resumed.by': e.data.by });
        return;
      case 'session.completed':
        return this.#complete(e, closed);
      case 'session.failed':
        return this.#endTurn(e, closed, this.#failure(e.data), 'failed');
      case 'session.cancelled':
        return this.#endTurn(e, closed, { ok: false, errorType: 'cancelled' }, 'cancelled');
      case 'gate.decided':
        return this.#gateDecided(e, e.data, closed);
      case 'outcome.evaluated':
        return this.noteOnTurn(e, {
          'longrun.outcome.iteration': e.data.iteration,
          'longrun.outcome.passed': e.data.passed,
          'longrun.outcome.continues': e.data.continues,
          'longrun.step': e.data.step,
        });
      case 'workspace.snapshotted':
        return this.noteOnTurn(e, {
          'longrun.step': e.data.step,
          'longrun.workspace.files': e.data.files,
          'longrun.workspace.changed': e.data.changed,
        });
      default:
        if (e.type === 'model.responded') this.#calls.rememberCalls(e.data.step, e.data.toolCalls);
        if (this.#chats.apply(e, closed)) return;
        this.#calls.apply(e, closed);
    }
  }

  #gateDecided(e: StoredEvent, data: EventDataByType['gate.decided'], closed: DerivedSpan[]): void {
    const attributes: SpanAttributes = {
      'longrun.gate': data.gate,
      'longrun.gate.point': data.point,
      'longrun.gate.decision': data.decision,
      'longrun.gate.reason': data.reason,
      'longrun.step': data.step,
      ...(data.code === undefined ? {} : { 'longrun.gate.code': data.code }),
    };
    if (data.point === 'tool.call' && data.callIndex !== undefined)
      this.#calls.noteOnCall(data.step, data.callIndex, e, attributes);
    else this.noteOnTurn(e, attributes);
    // A pause parks the session until a person resumes it: the turn ends here, and the
    // `session.resumed` that follows opens the next one.
    if (data.decision === 'pause') this.#endTurn(e, closed, { ok: true }, 'paused');
  }

  #complete(e: Extract<StoredEvent, { type: 'session.completed' }>, closed: DerivedSpan[]): void {
    if (this.captureContent && this.#turn !== null)
      this.#turn.attributes[genAi.outputMessages] = textMessages(
        'assistant',
        contentText(e.data.output),
      );
    this.#endTurn(e, closed, { ok: true }, 'completed');
  }

  #failure(data: EventDataByType['session.failed']): SpanEnd {
    return { ok: false, errorType: data.code, message: data.message };
  }

  #inputOf(input: EventDataByType['session.created']['input']): SpanAttributes {
    if (!this.captureContent) return {};
    return { [genAi.inputMessages]: textMessages('user', contentText(input)) };
  }

  #openTurn(e: StoredEvent, attributes: SpanAttributes): SpanDraft {
    this.#turns += 1;
    this.#turn = {
      spanId: spanIdFor(this.sessionId, `turn:${e.seq}`),
      parentSpanId: this.#turnParent,
      name: `${genAiOperation.invokeAgent} ${this.#agent}`.trimEnd(),
      kind: 'internal',
      startMs: e.atMs,
      openSeq: e.seq,
      attributes: {
        [genAi.operationName]: genAiOperation.invokeAgent,
        [genAi.agentName]: this.#agent,
        ...(this.#agentId ? { [genAi.agentId]: this.#agent } : {}),
        [genAi.conversationId]: this.sessionId,
        'longrun.turn': this.#turns,
        ...attributes,
      },
      events: [],
    };
    return this.#turn;
  }

  /** Ends the open turn (and whatever is still open in it) at `e`. */
  #endTurn(e: StoredEvent, closed: DerivedSpan[], end: SpanEnd, why: string): void {
    const inner: SpanEnd = end.ok ? { ok: false, errorType: 'session_ended' } : end;
    closed.push(...this.#chats.closeAll(e, inner), ...this.#calls.closeAll(e, inner));
    const turn = this.#turn;
    if (turn === null) return;
    this.#turn = null;
    Object.assign(turn.attributes, this.#chats.turnSummary(), { 'longrun.turn.end': why });
    closed.push(this.close(turn, e, end));
  }
}

/**
 * Every span of a session's log: the closed ones in the order they closed, then those still open
 * at its end (`endMs` null). A pure function of the events (and of `OTEL_SEMCONV_STABILITY_OPT_IN`
 * when `options.semconv` is not given).
 */
export function deriveSessionSpans(
  events: readonly StoredEvent[],
  options: DeriveSpansOptions = {},
): DerivedSpan[] {
  const deriver = new SessionSpanDeriver(options);
  const spans: DerivedSpan[] = [];
  for (const e of events) spans.push(...deriver.push(e));
  return [...spans, ...deriver.openSpans()];
}
