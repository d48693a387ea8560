// A session's trace as a waterfall: turns, model attempts, tool calls, approvals and waits, each
// with its start offset and duration from the events' commit times (`atMs`). Pure: no DOM, no
// I/O; fed one durable event at a time (in seq order), so the live page and a test share it.
//
// A model attempt starts at its budget reservation (committed right before the call is sent) or
// its `model.requested`, whichever comes first. Where the log has no event at a span's start,
// the span starts at the event before its first one (a model call is sent right after the commit
// before it). A model attempt is superseded
// when a later attempt of its step exists: `retry` when the failure was recorded by the worker
// that made the call, `crash` when another lease epoch recorded it (or when the next attempt came
// from another epoch with no failure at all): its span then ends at its own last event, not at
// the recovery that noticed it.
import type { StoredEvent } from './api-types.ts';

export type RowKind = 'turn' | 'model' | 'tool' | 'approval' | 'wait';

export type RowState =
  | 'running'
  | 'ok'
  | 'error'
  | 'superseded'
  | 'interrupted'
  | 'granted'
  | 'denied'
  | 'resolved'
  | 'completed'
  | 'failed'
  | 'cancelled';

export interface WaterfallRow {
  /** The timeline item's key for the same thing (`model:2:1`, `tool:1:0`, …), or `turn:<seq>`. */
  key: string;
  kind: RowKind;
  /** 0 for a turn, 1 for what happened in it. */
  depth: number;
  label: string;
  /** A short line of what else is known: model, tokens, runs, the failure. */
  detail: string;
  state: RowState;
  /** For a superseded model attempt: replaced by a retry, or cut by a crash. */
  supersededBy: 'retry' | 'crash' | null;
  /** Milliseconds from the session's first event to the span's start. */
  offsetMs: number;
  durationMs: number;
  /** Still going: its duration runs to the latest event seen. */
  open: boolean;
  /** Seq of the span's first event. */
  seq: number;
  step: number | null;
  attempt: number | null;
  /** What the attempt cost (its budget settlement), when the session has a budget. */
  costUsd: number | null;
}

export interface Waterfall {
  originMs: number | null;
  /** From the first event to the latest (or to the end of the longest open span). */
  totalMs: number;
  rows: WaterfallRow[];
}

interface Span {
  key: string;
  kind: RowKind;
  label: string;
  seq: number;
  startMs: number;
  endMs: number | null;
  state: RowState;
  step: number | null;
  attempt: number | null;
  /** Timed for its timeline item but not a row: an approval's wait is the approval's span. */
  hidden?: true;
}

interface AttemptSpan extends Span {
  epoch: number;
  /** The attempt's own last event in its epoch: where a crash cut it. */
  lastOwnMs: number;
  failure: { code: string; epoch: number; atMs: number } | null;
  modelId: string | null;
  tokens: { input: number; output: number } | null;
  costUsd: number | null;
}

interface ToolSpan extends Span {
  runs: number;
}

const endStates: Partial<Record<string, RowState>> = {
  'session.completed': 'completed',
  'session.failed': 'failed',
  'session.cancelled': 'cancelled',
};

export class WaterfallModel {
  readonly #spans: Span[] = [];
  readonly #byKey = new Map<string, Span>();
  readonly #latestAttempt = new Map<number, number>();
  /** Reservation id → the attempt it paid for. */
  readonly #reservations = new Map<string, AttemptSpan>();
  readonly #approvalIds = new Set<string>();
  #turn: Span | null = null;
  #originMs: number | null = null;
  /** The latest commit time seen; null before the first event. */
  #lastMs: number | null = null;
  #lastSeq = 0;

  get originMs(): number | null {
    return this.#originMs;
  }

  /** Applies one durable event; one at or below the last seq applied is ignored. */
  apply(e: StoredEvent): void {
    if (e.seq <= this.#lastSeq) return;
    this.#lastSeq = e.seq;
    this.#originMs ??= e.atMs;
    const previousMs = this.#lastMs ?? e.atMs;
    this.#lastMs = Math.max(this.#lastMs ?? e.atMs, e.atMs);
    this.#applyTyped(e, previousMs);
  }

  /** The span of a timeline item (same key), if it has one. */
  span(key: string): { startMs: number; endMs: number | null } | undefined {
    const s = this.#byKey.get(key);
    if (s === undefined) return undefined;
    return {
      startMs: s.startMs,
      endMs: s.kind === 'model' ? this.#attemptEnd(s as AttemptSpan) : s.endMs,
    };
  }

  /** The rows, in the order their spans began (turns before what they hold). */
  rows(): Waterfall {
    const origin = this.#originMs;
    if (origin === null) return { originMs: null, totalMs: 0, rows: [] };
    const rows = this.#spans.filter((s) => s.hidden !== true).map((s) => this.#row(s, origin));
    const lastMs = this.#lastMs ?? origin;
    const totalMs = Math.max(lastMs - origin, ...rows.map((r) => r.offsetMs + r.durationMs));
    return { originMs: origin, totalMs, rows };
  }

  #applyTyped(e: StoredEvent, previousMs: number): void {
    switch (e.type) {
      case 'session.created':
      case 'user.messaged':
        return this.#startTurn(e);
      case 'session.completed':
      case 'session.failed':
      case 'session.cancelled':
        return this.#endTurn(e);
      case 'budget.reserved': {
        // Compaction and evaluator calls are charged too, but are not the step's attempts.
        if (e.data.kind !== 'step') return;
        const span = this.#attempt(e, e.data.step, e.data.attempt, e.atMs);
        this.#reservations.set(e.data.reservationId, span);
        return;
      }
      case 'budget.settled': {
        const span = this.#reservations.get(e.data.reservationId);
        if (span !== undefined) span.costUsd = (span.costUsd ?? 0) + e.data.costUsd;
        return;
      }
      case 'model.requested': {
        const span = this.#attempt(e, e.data.step, e.data.attempt, e.atMs);
        span.modelId = e.data.modelId;
        return;
      }
      case 'model.streamed':
        this.#attempt(e, e.data.step, e.data.attempt, previousMs);
        return;
      case 'model.failed': {
        const span = this.#attempt(e, e.data.step, e.data.attempt, previousMs);
        span.failure = { code: e.data.code, epoch: e.epoch, atMs: e.atMs };
        return;
      }
      case 'model.responded':
        return this.#responded(e, previousMs);
      case 'tool.started':
      case 'tool.resumed':
      case 'tool.completed':
      case 'tool.interrupted':
        return this.#tool(e);
      case 'approval.requested':
        return this.#approvalRequested(e);
      case 'approval.granted':
      case 'approval.denied': {
        const span = this.#byKey.get(`approval:${e.data.approvalId}`);
        if (span === undefined || span.endMs !== null) return;
        span.endMs = e.atMs;
        span.state = e.type === 'approval.granted' ? 'granted' : 'denied';
        return;
      }
      case 'wait.started':
        return this.#add({
          ...(this.#approvalIds.has(e.data.waitId) ? { hidden: true as const } : {}),
          key: `wait:${e.data.waitId}`,
          kind: 'wait',
          label: e.data.kind === 'timer' ? 'wait (timer)' : `wait for ${e.data.signal}`,
          seq: e.seq,
          startMs: e.atMs,
          endMs: null,
          state: 'running',
          step: e.data.call?.step ?? null,
          attempt: null,
        });
      case 'wait.resolved': {
        const span = this.#byKey.get(`wait:${e.data.waitId}`);
        if (span === undefined || span.endMs !== null) return;
        span.endMs = e.atMs;
        span.state = 'resolved';
        return;
      }
      default:
        return;
    }
  }

  #startTurn(e: StoredEvent): void {
    const open = this.#turn;
    if (open !== null && open.endMs === null) {
      // A message to a session still in its turn belongs to that turn.
      if (e.type === 'user.messaged') return;
      open.endMs = e.atMs;
    }
    const turns = this.#spans.filter((s) => s.kind === 'turn').length;
    const turn: Span = {
      key: `turn:${e.seq}`,
      kind: 'turn',
      label: `turn ${turns + 1}`,
      seq: e.seq,
      startMs: e.atMs,
      endMs: null,
      state: 'running',
      step: null,
      attempt: null,
    };
    this.#turn = turn;
    this.#add(turn);
  }

  #endTurn(e: StoredEvent): void {
    const turn = this.#turn;
    if (turn === null || turn.endMs !== null) return;
    turn.endMs = e.atMs;
    turn.state = endStates[e.type] ?? 'completed';
  }

  #attempt(e: StoredEvent, step: number, attempt: number, startMs: number): AttemptSpan {
    const key = `model:${step}:${attempt}`;
    const found = this.#byKey.get(key) as AttemptSpan | undefined;
    if (found !== undefined) {
      if (e.epoch === found.epoch && e.type !== 'model.failed') found.lastOwnMs = e.atMs;
      return found;
    }
    if (attempt > (this.#latestAttempt.get(step) ?? 0)) this.#latestAttempt.set(step, attempt);
    const span: AttemptSpan = {
      key,
      kind: 'model',
      label: `model step ${step}${attempt > 1 ? ` attempt ${attempt}` : ''}`,
      seq: e.seq,
      startMs: Math.min(startMs, e.atMs),
      endMs: null,
      state: 'running',
      step,
      attempt,
      epoch: e.epoch,
      lastOwnMs: e.atMs,
      failure: null,
      modelId: null,
      tokens: null,
      costUsd: null,
    };
    this.#add(span);
    return span;
  }

  #responded(e: Extract<StoredEvent, { type: 'model.responded' }>, previousMs: number): void {
    const { step, usage, modelId } = e.data;
    const attempt = e.data.attempt ?? this.#latestAttempt.get(step) ?? 1;
    const span = this.#attempt(e, step, attempt, previousMs);
    span.endMs = e.atMs;
    span.state = 'ok';
    span.tokens = { input: usage.inputTokens, output: usage.outputTokens };
    if (modelId !== undefined) span.modelId = modelId;
  }

  #tool(
    e: Extract<
      StoredEvent,
      { type: 'tool.started' | 'tool.resumed' | 'tool.completed' | 'tool.interrupted' }
    >,
  ): void {
    const { step, callIndex, tool } = e.data;
    const key = `tool:${step}:${callIndex}`;
    let span = this.#byKey.get(key) as ToolSpan | undefined;
    if (span === undefined) {
      span = {
        key,
        kind: 'tool',
        label: tool,
        seq: e.seq,
        startMs: e.atMs,
        endMs: null,
        state: 'running',
        step,
        attempt: null,
        runs: 0,
      };
      this.#add(span);
    }
    if (e.type === 'tool.started' || e.type === 'tool.resumed') {
      span.runs++;
      span.endMs = null;
      span.state = 'running';
    } else if (e.type === 'tool.completed') {
      span.endMs = e.atMs;
      span.state = e.data.ok ? 'ok' : 'error';
    } else {
      span.endMs = e.atMs;
      span.state = 'interrupted';
    }
  }

  #approvalRequested(e: Extract<StoredEvent, { type: 'approval.requested' }>): void {
    const { approvalId, step } = e.data;
    this.#approvalIds.add(approvalId);
    const what = e.data.point === 'model.call' ? `model call of step ${step}` : e.data.tool;
    this.#add({
      key: `approval:${approvalId}`,
      kind: 'approval',
      label: `approval: ${what}`,
      seq: e.seq,
      startMs: e.atMs,
      endMs: null,
      state: 'running',
      step,
      attempt: null,
    });
  }

  #add(span: Span): void {
    if (this.#byKey.has(span.key)) return;
    this.#byKey.set(span.key, span);
    this.#spans.push(span);
  }

  /** How an attempt ended and why: its response, its failure, or its replacement. */
  #attemptState(s: AttemptSpan): { state: RowState; by: 'retry' | 'crash' | null } {
    if (s.state === 'ok') return { state: 'ok', by: null };
    const step = s.step ?? 0;
    const replaced = (this.#latestAttempt.get(step) ?? 0) > (s.attempt ?? 0);
    const next = this.#byKey.get(`model:${step}:${(s.attempt ?? 0) + 1}`) as
      AttemptSpan | undefined;
    const crashed =
      (s.failure !== null && s.failure.epoch !== s.epoch) ||
      (s.failure === null && next !== undefined && next.epoch !== s.epoch);
    if (replaced || crashed) return { state: 'superseded', by: crashed ? 'crash' : 'retry' };
    return s.failure === null ? { state: 'running', by: null } : { state: 'error', by: null };
  }

  #attemptEnd(s: AttemptSpan): number | null {
    if (s.endMs !== null) return s.endMs;
    const { by, state } = this.#attemptState(s);
    if (by === 'crash') return s.lastOwnMs;
    if (s.failure !== null) return s.failure.atMs;
    return state === 'running' ? null : s.lastOwnMs;
  }

  #row(s: Span, origin: number): WaterfallRow {
    let state = s.state;
    let supersededBy: WaterfallRow['supersededBy'] = null;
    let endMs = s.endMs;
    let detail = '';
    let costUsd: number | null = null;
    if (s.kind === 'model') {
      const a = s as AttemptSpan;
      ({ state, by: supersededBy } = this.#attemptState(a));
      endMs = this.#attemptEnd(a);
      costUsd = a.costUsd;
      detail = [
        a.modelId,
        a.tokens === null ? null : `${a.tokens.input} in / ${a.tokens.output} out`,
        a.failure === null ? null : a.failure.code,
        supersededBy === 'crash' ? 'cut by a crash' : supersededBy === 'retry' ? 'retried' : null,
      ]
        .filter((p) => p !== null)
        .join(' · ');
    } else if (s.kind === 'tool') {
      const runs = (s as ToolSpan).runs;
      detail = [`step ${s.step}`, runs > 1 ? `ran ${runs}×` : null].filter(Boolean).join(' · ');
    }
    const open = endMs === null;
    return {
      key: s.key,
      kind: s.kind,
      depth: s.kind === 'turn' ? 0 : 1,
      label: s.label,
      detail,
      state,
      supersededBy,
      offsetMs: s.startMs - origin,
      durationMs: Math.max(0, (endMs ?? this.#lastMs ?? s.startMs) - s.startMs),
      open,
      seq: s.seq,
      step: s.step,
      attempt: s.attempt,
      costUsd,
    };
  }
}

/** The waterfall of a whole event list (for tests and one-off reads). */
export function buildWaterfall(events: readonly StoredEvent[]): Waterfall {
  const model = new WaterfallModel();
  for (const e of events) model.apply(e);
  return model.rows();
}
