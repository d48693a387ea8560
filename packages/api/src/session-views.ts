import {
  applyEvent,
  initialState,
  type ScheduleRef,
  type SessionId,
  type SessionRecord,
  type SessionState,
  type SessionStore,
  type StoredEvent,
  type WorkspaceState,
} from '@longrun/core';
import { PendingApprovalTracker, type PendingApproval } from '@longrun/runtime';
import type { SessionViewData } from './schemas.ts';
import { budgetView } from './budget-view.ts';

/** Prices of a model, US dollars per million tokens. */
export interface ModelPrice {
  inputUsdPerMTok: number;
  outputUsdPerMTok: number;
}

/**
 * What a view needs that only the log has, folded up to `state.seq`. `state` is core's fold
 * (steps, token usage), with the parts a view never shows (input, output, last text) dropped so
 * that a cached entry stays small.
 */
interface Summary {
  state: SessionState;
  lastEventAtMs: number | null;
  /** Null when no prices are configured or a model call used an unpriced model. */
  costUsd: number | null;
  approvals: PendingApprovalTracker;
  /** A fork's source session and seq, from its `session.created`. */
  forkedFrom: { sessionId: string; seq: number } | null;
  /** The schedule tick that started the session, from its `session.created`. */
  schedule: ScheduleRef | null;
  /** The task the session was started with (`session.created`), as text. */
  task: string | null;
}

const pageSize = 1_000;
/** A task longer than this is cut in a view (the log keeps it whole). */
const maxTaskChars = 2_000;

/**
 * The task of a session's input as text: the input itself when it is a string, else its `task`,
 * `message` or `text` (what `POST /v1/sessions` and `longrun run` write), else its JSON.
 */
export function taskOf(input: unknown): string | null {
  if (input === null || input === undefined) return null;
  let text = typeof input === 'string' ? input : null;
  if (text === null && typeof input === 'object' && !Array.isArray(input)) {
    const { task, message, text: plain } = input as Record<string, unknown>;
    const found = [task, message, plain].find((t) => typeof t === 'string');
    if (typeof found === 'string') text = found;
  }
  text ??= JSON.stringify(input);
  return text.length > maxTaskChars ? `${text.slice(0, maxTaskChars - 1)}…` : text;
}

/**
 * Builds SessionViews. Each session's summary is cached by the seq it was folded to, so a list
 * reads nothing for a session whose head has not moved and only the new tail for one that has.
 * The cache is an LRU bounded in entries and in bytes (a summary's state as JSON, about what it
 * holds in memory: ~6.5 kB for a 60-event session, more with workspace edits); concurrent
 * requests for one session share one fold. Bounded in bytes, an API node's memory stops growing
 * once the cache is full, however many sessions it has shown: the resource soak measured 6.5 kB
 * an entry and 15 % heap growth over 6 minutes with the old 5,000-entry bound.
 */
export class SessionViews {
  readonly #store: SessionStore;
  readonly #prices: Record<string, ModelPrice> | null;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #cache = new Map<string, Summary>();
  /** Each cached summary's approximate bytes, and their sum. */
  readonly #sizes = new Map<string, number>();
  #bytes = 0;
  readonly #inflight = new Map<string, Promise<Summary>>();
  /** Tasks of sessions searched but not viewed: their first event only, never the whole log. */
  readonly #tasks = new Map<string, string | null>();

  constructor(
    store: SessionStore,
    options: { prices?: Record<string, ModelPrice>; maxEntries?: number; maxBytes?: number } = {},
  ) {
    this.#store = store;
    this.#prices = options.prices ?? null;
    this.#maxEntries = options.maxEntries ?? 5_000;
    this.#maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
  }

  async view(record: SessionRecord): Promise<SessionViewData> {
    const summary = await this.summary(record);
    return {
      id: record.id,
      tenantId: record.tenantId,
      agent: record.agent,
      status: record.status,
      statusReason: record.statusReason,
      headSeq: record.headSeq,
      createdAtMs: record.createdAtMs,
      updatedAtMs: record.updatedAtMs,
      lastEventAtMs: summary.lastEventAtMs,
      steps: summary.state.steps,
      tokens: { input: summary.state.usage.inputTokens, output: summary.state.usage.outputTokens },
      costUsd: summary.costUsd,
      waitingFor: record.waitingFor,
      pendingApprovals: summary.approvals.pending().length,
      forkedFrom: summary.forkedFrom,
      outcome: summary.state.outcome ?? null,
      schedule: summary.schedule,
      budget: budgetView(summary.state, Date.now()),
      task: summary.task,
    };
  }

  /**
   * The session's task, for a search: from its cached summary, or its first event alone (a
   * search over many sessions must not fold every log). The task never changes once written.
   */
  async task(record: SessionRecord): Promise<string | null> {
    const cached = this.#cache.get(record.id);
    if (cached !== undefined && cached.state.seq > 0) return cached.task;
    if (this.#tasks.has(record.id)) return this.#tasks.get(record.id) ?? null;
    const [first] = await this.#store.readEvents(record.id, 0, 1);
    const task = first?.type === 'session.created' ? taskOf(first.data.input) : null;
    if (first !== undefined) {
      this.#tasks.set(record.id, task);
      while (this.#tasks.size > this.#maxEntries) {
        const oldest = this.#tasks.keys().next().value;
        if (oldest === undefined) break;
        this.#tasks.delete(oldest);
      }
    }
    return task;
  }

  async pendingApprovals(record: SessionRecord): Promise<PendingApproval[]> {
    return (await this.summary(record)).approvals.pending();
  }

  /** The session's workspace as its log last recorded it (a stored manifest and edits since). */
  async latestSnapshot(record: SessionRecord): Promise<WorkspaceState | null> {
    return (await this.summary(record)).state.workspace ?? null;
  }

  /**
   * The summary folded at least to the record's head seq. One fold per session runs at a time
   * (a second would apply the same events twice); callers wait for it and look again.
   */
  async summary(record: SessionRecord): Promise<Summary> {
    for (let attempt = 0; ; attempt++) {
      const cached = this.#cache.get(record.id);
      if (cached !== undefined && (cached.state.seq >= record.headSeq || attempt >= 5)) {
        this.#touch(record.id, cached);
        return cached;
      }
      const running = this.#inflight.get(record.id);
      if (running !== undefined) {
        await running.catch(() => undefined);
        continue;
      }
      const work = this.#advance(record.id, cached).finally(() => this.#inflight.delete(record.id));
      this.#inflight.set(record.id, work);
      return work;
    }
  }

  /** Folds the log after the cached seq; the summary object is updated in place and re-cached. */
  async #advance(id: SessionId, from: Summary | undefined): Promise<Summary> {
    const summary: Summary = from ?? {
      state: initialState(),
      lastEventAtMs: null,
      costUsd: this.#prices === null ? null : 0,
      approvals: new PendingApprovalTracker(),
      forkedFrom: null,
      schedule: null,
      task: null,
    };
    for (;;) {
      const page = await this.#store.readEvents(id, summary.state.seq, pageSize);
      for (const e of page) this.#apply(summary, e);
      if (page.length < pageSize) break;
    }
    summary.state = { ...summary.state, input: null, output: null, lastResponse: null };
    const size = approximateBytes(summary);
    this.#bytes += size - (this.#sizes.get(id) ?? 0);
    this.#sizes.set(id, size);
    this.#touch(id, summary);
    return summary;
  }

  #apply(summary: Summary, e: StoredEvent): void {
    summary.state = applyEvent(summary.state, e);
    summary.lastEventAtMs = e.atMs;
    summary.approvals.apply(e);
    if (e.type === 'session.created') {
      summary.forkedFrom = e.data.forkedFrom ?? null;
      summary.schedule = e.data.schedule ?? null;
      summary.task = taskOf(e.data.input);
    }
    if (
      (e.type === 'model.responded' || e.type === 'outcome.evaluated') &&
      summary.costUsd !== null
    ) {
      const price = e.data.modelId === undefined ? undefined : this.#prices?.[e.data.modelId];
      summary.costUsd =
        price === undefined
          ? null
          : summary.costUsd +
            (e.data.usage.inputTokens * price.inputUsdPerMTok +
              e.data.usage.outputTokens * price.outputUsdPerMTok) /
              1_000_000;
    }
  }

  #touch(id: string, summary: Summary): void {
    this.#cache.delete(id);
    this.#cache.set(id, summary);
    while (
      this.#cache.size > this.#maxEntries ||
      (this.#bytes > this.#maxBytes && this.#cache.size > 1)
    ) {
      const oldest = this.#cache.keys().next().value;
      if (oldest === undefined) break;
      this.#cache.delete(oldest);
      this.#bytes -= this.#sizes.get(oldest) ?? 0;
      this.#sizes.delete(oldest);
    }
  }

  /** The approximate bytes the cached summaries hold. */
  get cachedBytes(): number {
    return this.#bytes;
  }

  get cachedSessions(): number {
    return this.#cache.size;
  }

  clear(): void {
    this.#cache.clear();
    this.#sizes.clear();
    this.#bytes = 0;
    this.#tasks.clear();
  }
}

/** About what a summary holds in memory: its state as JSON (measured: 1.3 bytes of heap a character), its task, and a fixed part. */
function approximateBytes(summary: Summary): number {
  return Math.ceil(JSON.stringify(summary.state).length * 1.3) + (summary.task?.length ?? 0) + 512;
}
