// Turns a session's durable events and live token deltas into timeline items. Pure: no DOM, no
// I/O, so every interleaving of the two sources can be tested in Node.
//
// Invariants:
// - a durable event is applied once, by seq (a reconnect that replays events changes nothing);
// - an attempt's text only ever grows by characters placed at their offset in that attempt's
//   text, so a token seen as a live delta and again in a durable `model.streamed` shows once;
// - an attempt superseded (a newer attempt of its step, or `model.failed`) keeps its text,
//   marked superseded, and never counts towards the session's final text.
import type { JsonObject, JsonValue, ModelDelta, StoredEvent } from './api-types.ts';
import { argumentsExtent } from './arguments-extent.ts';
import { AttemptText } from './attempt-text.ts';
import type { ModelItem, TimelineItem, ToolItem } from './timeline-types.ts';
import { WaterfallModel } from './waterfall-model.ts';

/** Events after which a worker hands the session's lease back: a new epoch there is normal. */
const releasingEvents = new Set<string>([
  'session.created',
  'wait.started',
  'session.completed',
  'session.failed',
  'session.cancelled',
]);

export class TimelineModel {
  readonly items: TimelineItem[] = [];
  /** Every durable event applied, in seq order: the raw event view. */
  readonly events: StoredEvent[] = [];
  /** The same events as spans with start and duration: the trace waterfall, and item timings. */
  readonly trace = new WaterfallModel();
  readonly #byKey = new Map<string, TimelineItem>();
  readonly #texts = new Map<string, AttemptText>();
  /** Highest attempt seen per step. */
  readonly #latestAttempt = new Map<number, number>();
  #lastSeq = 0;
  #lastEpoch = 0;
  #lastType = '';

  /** Seq of the last durable event applied: where a reconnecting stream resumes. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Applies one durable event; returns false for one already applied (a replay). */
  applyEvent(e: StoredEvent): boolean {
    if (e.seq <= this.#lastSeq) return false;
    this.#noteEpoch(e);
    this.#lastSeq = e.seq;
    this.#lastType = e.type;
    this.events.push(e);
    this.trace.apply(e);
    this.#apply(e);
    return true;
  }

  /** Applies one live delta. Deltas are not durable: they may repeat, overlap or be missing. */
  applyDelta(d: ModelDelta): void {
    const item = this.#attempt(d.step, d.attempt, null);
    if (item.state === 'responded') return; // the response's whole text is authoritative
    this.#place(item, d.offset, d.text);
  }

  /** The text of every model turn that counts (not superseded), in order. */
  finalTexts(): string[] {
    return this.items
      .filter((i): i is ModelItem => i.kind === 'model' && i.state !== 'superseded')
      .map((i) => i.text);
  }

  #noteEpoch(e: StoredEvent): void {
    if (e.epoch <= 0) return;
    const from = this.#lastEpoch;
    this.#lastEpoch = e.epoch;
    if (from === 0 || e.epoch === from || releasingEvents.has(this.#lastType)) return;
    // A worker parks a session as paused without an event; the claim after a person resumed it
    // is explained by its `session.resumed`, not a worker that died.
    if (e.type === 'session.resumed') return;
    this.#add({
      kind: 'resume',
      key: `resume:${e.seq}`,
      rev: 0,
      atMs: e.atMs,
      fromEpoch: from,
      toEpoch: e.epoch,
    });
  }

  #apply(e: StoredEvent): void {
    switch (e.type) {
      case 'session.created':
        return this.#user(e, describeInput(e.data.input), true);
      case 'user.messaged':
        return this.#user(e, e.data.text, false);
      case 'model.requested': {
        const item = this.#attempt(e.data.step, e.data.attempt, e.atMs);
        item.modelId = e.data.modelId;
        return this.#touch(item);
      }
      case 'model.streamed': {
        const item = this.#attempt(e.data.step, e.data.attempt, e.atMs);
        const text = this.#textOf(item);
        const offset = text.durableLength;
        text.durableLength += e.data.text.length;
        if (item.state !== 'responded') this.#place(item, offset, e.data.text);
        return;
      }
      case 'model.failed': {
        const { step, attempt, code, message, retryable, retryInMs } = e.data;
        const item = this.#attempt(step, attempt, e.atMs);
        item.state = 'superseded';
        item.failure = { code, message, retryable, retryInMs };
        return this.#touch(item);
      }
      case 'model.responded':
        return this.#responded(e);
      case 'approval.requested':
        return this.#approvalRequested(e);
      case 'approval.granted':
      case 'approval.denied':
        return this.#approvalDecided(e);
      case 'tool.started':
      case 'tool.resumed':
      case 'tool.completed':
      case 'tool.interrupted':
        return this.#toolProgress(e);
      case 'wait.started':
        return this.#waitStarted(e);
      case 'wait.resolved': {
        const item = this.#byKey.get(`wait:${e.data.waitId}`);
        if (item?.kind === 'wait') {
          item.resolved = true;
          this.#touch(item);
        }
        return;
      }
      case 'budget.set':
      case 'budget.reserved':
      case 'budget.settled':
        // The budget panel shows them folded (used, reserved, remaining); a pause for the budget
        // shows as its gate.decided.
        return;
      case 'workspace.snapshotted':
        return this.#add({
          kind: 'snapshot',
          key: `snapshot:${e.seq}`,
          rev: 0,
          atMs: e.atMs,
          ...e.data,
        });
      case 'session.completed':
      case 'session.failed':
      case 'session.cancelled':
        return this.#end(e);
      case 'outcome.evaluated':
        return this.#add({
          kind: 'evaluation',
          key: `evaluation:${e.seq}`,
          rev: 0,
          atMs: e.atMs,
          iteration: e.data.iteration,
          step: e.data.step,
          passed: e.data.passed,
          criteria: e.data.criteria,
          continues: e.data.continues,
          error: e.data.error ?? null,
        });
      case 'gate.decided':
        return this.#add({
          kind: 'gate',
          key: `gate:${e.seq}`,
          rev: 0,
          atMs: e.atMs,
          gate: e.data.gate,
          point: e.data.point,
          decision: e.data.decision,
          reason: e.data.reason,
          step: e.data.step,
          callIndex: e.data.callIndex ?? null,
        });
      case 'policy.decided':
        // An allow shows as the call that follows it; a deny or an ask as a gate's decision.
        if (e.data.decision === 'allow') return;
        return this.#add({
          kind: 'gate',
          key: `gate:${e.seq}`,
          rev: 0,
          atMs: e.atMs,
          gate: `policy (${e.data.layer} ${e.data.rule})`,
          point: e.data.point,
          decision: e.data.decision,
          reason: e.data.reason,
          step: e.data.step,
          callIndex: e.data.callIndex,
        });
      case 'context.compacted':
        return this.#add({
          kind: 'compaction',
          key: `compaction:${e.seq}`,
          rev: 0,
          atMs: e.atMs,
          fromSeq: e.data.fromSeq,
          throughSeq: e.data.throughSeq,
          messages: e.data.messages,
          summary: e.data.summary,
          tokensBefore: e.data.tokensBefore,
          tokensAfter: e.data.tokensAfter,
          reason: e.data.reason,
        });
      case 'session.resumed':
        return this.#add({
          kind: 'session-resumed',
          key: `session-resumed:${e.seq}`,
          rev: 0,
          atMs: e.atMs,
          by: e.data.by,
          reason: e.data.reason,
        });
    }
  }

  #user(e: StoredEvent, text: string, initial: boolean): void {
    this.#add({ kind: 'user', key: `user:${e.seq}`, rev: 0, atMs: e.atMs, text, initial });
  }

  #responded(e: Extract<StoredEvent, { type: 'model.responded' }>): void {
    const { step, text, toolCalls, usage, modelId } = e.data;
    const attempt = e.data.attempt ?? this.#latestAttempt.get(step) ?? 1;
    const item = this.#attempt(step, attempt, e.atMs);
    item.text = text;
    item.state = 'responded';
    item.usage = usage;
    if (modelId !== undefined) item.modelId = modelId;
    this.#touch(item);
    for (const call of toolCalls) this.#add(toolItem(step, call, e.atMs));
  }

  #approvalRequested(e: Extract<StoredEvent, { type: 'approval.requested' }>): void {
    const request = e.data;
    const { approvalId, step, expiresAtMs } = request;
    const base = { kind: 'approval', key: `approval:${approvalId}`, rev: 0, atMs: e.atMs } as const;
    if (request.point === 'model.call') {
      return this.#add({
        ...base,
        approvalId,
        point: 'model.call',
        step,
        callIndex: null,
        tool: null,
        args: null,
        argumentsExtent: null,
        question: { gate: request.gate, reason: request.reason },
        state: 'requested',
        by: null,
        reason: null,
        expiresAtMs,
      });
    }
    const call = this.#byKey.get(`tool:${step}:${request.callIndex}`);
    this.#add({
      ...base,
      approvalId,
      point: 'tool.call',
      step,
      callIndex: request.callIndex,
      tool: request.tool,
      args: call?.kind === 'tool' ? call.args : null,
      argumentsExtent: call?.kind === 'tool' ? argumentsExtent(call.args, call.keptChars) : null,
      question: null,
      state: 'requested',
      by: null,
      reason: null,
      expiresAtMs,
    });
  }

  #approvalDecided(
    e: Extract<StoredEvent, { type: 'approval.granted' | 'approval.denied' }>,
  ): void {
    const item = this.#byKey.get(`approval:${e.data.approvalId}`);
    if (item?.kind !== 'approval') return;
    item.state = e.type === 'approval.granted' ? 'granted' : 'denied';
    item.by = e.data.by;
    item.reason = e.data.reason;
    this.#touch(item);
  }

  #toolProgress(
    e: Extract<
      StoredEvent,
      { type: 'tool.started' | 'tool.resumed' | 'tool.completed' | 'tool.interrupted' }
    >,
  ): void {
    const { step, callIndex, tool } = e.data;
    const key = `tool:${step}:${callIndex}`;
    let item = this.#byKey.get(key);
    if (item?.kind !== 'tool') {
      // The call's model.responded is always earlier in the log; this only guards a partial log.
      item = toolItem(step, { callIndex, tool, args: {} }, e.atMs);
      this.#add(item);
    }
    if (e.type === 'tool.started' || e.type === 'tool.resumed') {
      // A call resumed after its wait runs again from its start.
      item.state = 'running';
    } else if (e.type === 'tool.completed') {
      item.state = 'completed';
      item.ok = e.data.ok;
      item.output = e.data.output;
      item.attempt = e.data.attempt;
    } else {
      item.state = 'interrupted';
      item.ok = false;
    }
    this.#touch(item);
  }

  #waitStarted(e: Extract<StoredEvent, { type: 'wait.started' }>): void {
    const data = e.data;
    this.#add({
      kind: 'wait',
      key: `wait:${data.waitId}`,
      rev: 0,
      atMs: e.atMs,
      waitId: data.waitId,
      waitKind: data.kind,
      signal: data.kind === 'signal' ? data.signal : null,
      untilMs: data.untilMs ?? null,
      resolved: false,
    });
  }

  #end(e: Extract<StoredEvent, { type: `session.${'completed' | 'failed' | 'cancelled'}` }>): void {
    const base = { kind: 'end', key: `end:${e.seq}`, rev: 0, atMs: e.atMs } as const;
    const none = { output: null, code: null, message: null, by: null, evaluatedOutcome: null };
    if (e.type === 'session.completed') {
      this.#add({
        ...base,
        ...none,
        outcome: 'completed',
        output: e.data.output,
        evaluatedOutcome: e.data.outcome ?? null,
      });
    } else if (e.type === 'session.failed') {
      this.#add({ ...base, ...none, outcome: 'failed', ...e.data });
    } else {
      this.#add({ ...base, ...none, outcome: 'cancelled', message: e.data.reason, by: e.data.by });
    }
  }

  /** The item of one model attempt, created on first sight; a newer attempt supersedes older ones. */
  #attempt(step: number, attempt: number, atMs: number | null): ModelItem {
    const key = `model:${step}:${attempt}`;
    const found = this.#byKey.get(key);
    const latest = this.#latestAttempt.get(step) ?? 0;
    if (attempt > latest) {
      this.#latestAttempt.set(step, attempt);
      for (let older = 1; older < attempt; older++) this.#supersede(step, older);
    }
    if (found?.kind === 'model') {
      if (found.atMs === null && atMs !== null) found.atMs = atMs;
      return found;
    }
    const item: ModelItem = {
      kind: 'model',
      key,
      rev: 0,
      atMs,
      step,
      attempt,
      text: '',
      state: attempt < latest ? 'superseded' : 'streaming',
      failure: null,
      modelId: null,
      usage: null,
    };
    this.#add(item);
    return item;
  }

  #supersede(step: number, attempt: number): void {
    const item = this.#byKey.get(`model:${step}:${attempt}`);
    if (item?.kind !== 'model' || item.state !== 'streaming') return;
    item.state = 'superseded';
    this.#touch(item);
  }

  #textOf(item: ModelItem): AttemptText {
    let text = this.#texts.get(item.key);
    if (text === undefined) {
      text = new AttemptText();
      this.#texts.set(item.key, text);
    }
    return text;
  }

  #place(item: ModelItem, offset: number, text: string): void {
    const buffer = this.#textOf(item);
    if (!buffer.place(offset, text)) return;
    item.text = buffer.text;
    this.#touch(item);
  }

  #add(item: TimelineItem): void {
    if (this.#byKey.has(item.key)) return;
    this.#byKey.set(item.key, item);
    this.items.push(item);
  }

  #touch(item: TimelineItem): void {
    item.rev++;
  }
}

function toolItem(
  step: number,
  call: { callIndex: number; tool: string; args: JsonObject; inputRef?: { chars: number } },
  atMs: number,
): ToolItem {
  const { callIndex, tool, args } = call;
  const key = `tool:${step}:${callIndex}`;
  const state = 'proposed';
  return {
    kind: 'tool',
    key,
    rev: 0,
    atMs,
    step,
    callIndex,
    tool,
    args,
    keptChars: call.inputRef?.chars ?? null,
    state,
    ok: null,
    output: null,
    attempt: 0,
  };
}

function describeInput(input: JsonValue): string {
  if (typeof input === 'string') return input;
  if (input !== null && typeof input === 'object' && !Array.isArray(input)) {
    const text = input.message ?? input.task ?? input.text;
    if (typeof text === 'string') return text;
  }
  return JSON.stringify(input);
}
