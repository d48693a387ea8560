import type { EventDataByType, StoredEvent, ToolCall } from '@longrun/core';
import {
  contentText,
  spanEventOf,
  type SessionSpanContext,
  type SpanDraft,
  type SpanEnd,
} from './span-drafts.ts';
import { spanIdFor, toolSpanIdFor } from './trace-ids.ts';
import { genAi, genAiOperation } from './trace-semconv.ts';
import type { DerivedSpan, DerivedSpanEvent, SpanAttributes } from './span-types.ts';

type CallKey = `${number}:${number}`;
const keyOf = (step: number, callIndex: number): CallKey => `${step}:${callIndex}`;

/**
 * The spans of tool calls and of what they wait for:
 * - `execute_tool {tool}`: a tool call, from its `tool.started` to its `tool.completed` or
 *   `tool.interrupted` (error `outcome_unknown`). A call run again after a crash stays one span
 *   (`longrun.tool.attempt` on its result says how many runs it took; a `tool.started` or
 *   `tool.resumed` inside it is a span event); its waits and resumptions are inside it. A call answered
 *   without running (a policy's deny) is a span from the decision to its result. Its id comes
 *   from (step, call index), so a sub-agent's session names it as its parent.
 * - `wait {kind}`: a durable wait, `wait.started` → `wait.resolved`, a child of its tool call's
 *   span or of the turn.
 * - `await_approval`: `approval.requested` → `approval.granted` / `approval.denied`.
 * `policy.decided` and a tool call's `gate.decided` come before the call's span opens: they are
 * kept and become its first span events.
 */
export class CallSpans {
  readonly #ctx: SessionSpanContext;
  readonly #tools = new Map<CallKey, SpanDraft>();
  /** Calls that had a span already: a later one of the same call gets an id of its own. */
  readonly #spanned = new Set<CallKey>();
  readonly #waits = new Map<string, SpanDraft>();
  readonly #approvals = new Map<string, SpanDraft>();
  readonly #pending = new Map<CallKey, DerivedSpanEvent[]>();
  /** The model's tool calls of the latest steps (their provider ids and arguments). */
  readonly #calls = new Map<CallKey, ToolCall>();

  constructor(ctx: SessionSpanContext) {
    this.#ctx = ctx;
  }

  rememberCalls(step: number, calls: readonly ToolCall[]): void {
    for (const c of calls) this.#calls.set(keyOf(step, c.callIndex), c);
  }

  /** A decision about call (step, callIndex): on its span, or kept until the span opens. */
  noteOnCall(step: number, callIndex: number, e: StoredEvent, attributes: SpanAttributes): void {
    const key = keyOf(step, callIndex);
    const event = spanEventOf(e, attributes);
    const open = this.#tools.get(key);
    if (open !== undefined) return void open.events.push(event);
    const pending = this.#pending.get(key) ?? [];
    pending.push(event);
    this.#pending.set(key, pending);
  }

  apply(e: StoredEvent, closed: DerivedSpan[]): void {
    switch (e.type) {
      case 'policy.decided':
        return this.#policyDecided(e, e.data);
      case 'tool.started':
      case 'tool.resumed': {
        const { step, callIndex } = e.data;
        const open = this.#tools.get(keyOf(step, callIndex));
        if (open === undefined) this.#openTool(e, e.data, e.atMs);
        else open.events.push(spanEventOf(e));
        return;
      }
      case 'tool.completed':
        return this.#completed(e, e.data, closed);
      case 'tool.interrupted': {
        const draft = this.#toolFor(e, e.data);
        return this.#endTool(draft, e, e.data, closed, {
          ok: false,
          errorType: 'outcome_unknown',
          message: 'the worker stopped while this unsafe call ran; its outcome is unknown',
        });
      }
      case 'wait.started':
        return this.#waitStarted(e, e.data);
      case 'wait.resolved':
        return this.#endIn(this.#waits, e.data.waitId, e, closed, { ok: true });
      case 'approval.requested':
        return this.#approvalRequested(e, e.data);
      case 'approval.granted':
      case 'approval.denied': {
        const draft = this.#approvals.get(e.data.approvalId);
        if (draft !== undefined) {
          draft.attributes['longrun.approval.decision'] =
            e.type === 'approval.granted' ? 'granted' : 'denied';
          draft.attributes['longrun.approval.by'] = e.data.by;
        }
        return this.#endIn(this.#approvals, e.data.approvalId, e, closed, { ok: true });
      }
      default:
        return;
    }
  }

  open(): SpanDraft[] {
    return [...this.#approvals.values(), ...this.#tools.values(), ...this.#waits.values()];
  }

  /** Closes every open span (the turn ended); decisions never followed by a call go to the turn. */
  closeAll(e: StoredEvent, end: SpanEnd): DerivedSpan[] {
    const closed = [...this.#waits.values(), ...this.#approvals.values(), ...this.#tools.values()]
      // Innermost first: a wait before its tool call.
      .map((d) => this.#ctx.close(d, e, end));
    this.#waits.clear();
    this.#approvals.clear();
    this.#tools.clear();
    const turn = this.#ctx.currentTurn();
    for (const events of this.#pending.values()) turn?.events.push(...events);
    this.#pending.clear();
    this.#calls.clear();
    return closed;
  }

  #policyDecided(e: StoredEvent, data: EventDataByType['policy.decided']): void {
    this.noteOnCall(data.step, data.callIndex, e, {
      [genAi.toolName]: data.tool,
      'longrun.policy.decision': data.decision,
      'longrun.policy.layer': data.layer,
      'longrun.policy.rule': data.rule,
      'longrun.policy.reason': data.reason,
      ...(data.approved === true ? { 'longrun.policy.approved': true } : {}),
    });
  }

  #completed(e: StoredEvent, data: EventDataByType['tool.completed'], closed: DerivedSpan[]): void {
    const draft = this.#toolFor(e, data);
    draft.attributes['longrun.tool.attempt'] = data.attempt;
    // The files the call changed, said in its result (a stored snapshot notes the turn instead).
    const edits = data.workspaceEdits?.length ?? 0;
    if (edits > 0) draft.attributes['longrun.workspace.edits'] = edits;
    if (this.#ctx.captureContent) draft.attributes[genAi.toolCallResult] = contentText(data.output);
    const end: SpanEnd = data.ok
      ? { ok: true }
      : {
          ok: false,
          errorType: data.errorCode ?? 'tool_error',
          message: typeof data.output === 'string' ? data.output : 'the tool failed',
        };
    this.#endTool(draft, e, data, closed, end);
  }

  /** The open span of the call, or one opened now for a call that never started (a deny). */
  #toolFor(e: StoredEvent, data: { step: number; callIndex: number; tool: string }): SpanDraft {
    return (
      this.#tools.get(keyOf(data.step, data.callIndex)) ??
      this.#openTool(e, data, this.#ctx.previousAtMs)
    );
  }

  #openTool(
    e: StoredEvent,
    data: { step: number; callIndex: number; tool: string; effect?: string },
    startMs: number,
  ): SpanDraft {
    const key = keyOf(data.step, data.callIndex);
    const first = !this.#spanned.has(key);
    this.#spanned.add(key);
    const call = this.#calls.get(key);
    const attributes: SpanAttributes = {
      [genAi.operationName]: genAiOperation.executeTool,
      [genAi.toolName]: data.tool,
      [genAi.toolType]: 'function',
      [genAi.toolCallId]: call?.id ?? `${this.#ctx.sessionId}:${key}`,
      [genAi.conversationId]: this.#ctx.sessionId,
      'longrun.step': data.step,
      'longrun.tool.call_index': data.callIndex,
      ...(data.effect === undefined ? {} : { 'longrun.tool.effect': data.effect }),
    };
    if (this.#ctx.captureContent && call !== undefined)
      attributes[genAi.toolCallArguments] = JSON.stringify(call.args);
    const draft: SpanDraft = {
      spanId: first
        ? toolSpanIdFor(this.#ctx.sessionId, data.step, data.callIndex)
        : spanIdFor(this.#ctx.sessionId, `tool:${key}:${e.seq}`),
      parentSpanId: this.#ctx.turnFor(e).spanId,
      name: `${genAiOperation.executeTool} ${data.tool}`,
      kind: 'internal',
      startMs,
      openSeq: e.seq,
      attributes,
      events: [...(this.#pending.get(key) ?? [])],
    };
    if (e.type === 'tool.started' || e.type === 'tool.resumed') draft.events.push(spanEventOf(e));
    this.#pending.delete(key);
    this.#tools.set(key, draft);
    return draft;
  }

  #endTool(
    draft: SpanDraft,
    e: StoredEvent,
    data: { step: number; callIndex: number },
    closed: DerivedSpan[],
    end: SpanEnd,
  ): void {
    const key = keyOf(data.step, data.callIndex);
    this.#tools.delete(key);
    this.#calls.delete(key);
    closed.push(this.#ctx.close(draft, e, end));
  }

  #waitStarted(e: StoredEvent, data: EventDataByType['wait.started']): void {
    const call = data.call;
    const tool = call === undefined ? undefined : this.#tools.get(keyOf(call.step, call.callIndex));
    this.#waits.set(data.waitId, {
      spanId: spanIdFor(this.#ctx.sessionId, `wait:${e.seq}`),
      parentSpanId: (tool ?? this.#ctx.turnFor(e)).spanId,
      name: `wait ${data.kind}`,
      kind: 'internal',
      startMs: e.atMs,
      openSeq: e.seq,
      attributes: {
        [genAi.conversationId]: this.#ctx.sessionId,
        'longrun.wait.id': data.waitId,
        'longrun.wait.kind': data.kind,
        ...(data.kind === 'signal' ? { 'longrun.wait.signal': data.signal } : {}),
        ...(data.untilMs === undefined ? {} : { 'longrun.wait.until_ms': data.untilMs }),
      },
      events: [],
    });
  }

  #approvalRequested(e: StoredEvent, data: EventDataByType['approval.requested']): void {
    const tool = 'tool' in data ? data.tool : undefined;
    this.#approvals.set(data.approvalId, {
      spanId: spanIdFor(this.#ctx.sessionId, `approval:${e.seq}`),
      parentSpanId: this.#ctx.turnFor(e).spanId,
      name: 'await_approval',
      kind: 'internal',
      startMs: e.atMs,
      openSeq: e.seq,
      attributes: {
        [genAi.conversationId]: this.#ctx.sessionId,
        'longrun.approval.id': data.approvalId,
        'longrun.approval.point': data.point ?? 'tool.call',
        'longrun.step': data.step,
        ...(tool === undefined ? {} : { [genAi.toolName]: tool }),
      },
      events: [],
    });
  }

  #endIn(
    open: Map<string, SpanDraft>,
    id: string,
    e: StoredEvent,
    closed: DerivedSpan[],
    end: SpanEnd,
  ): void {
    const draft = open.get(id);
    if (draft === undefined) return;
    open.delete(id);
    closed.push(this.#ctx.close(draft, e, end));
  }
}
