import type { EventType, StoredEvent, TokenUsage } from '@longrun/core';
import type { Attributes } from '@opentelemetry/api';
import { chatAttributes, metricAttr as genAi } from './metric-attributes.ts';
import type { EventInstruments } from './metric-instruments.ts';
import { genAiOperation } from './trace-semconv.ts';

/**
 * The last event of a session's log before a claim: a run stops at one of these on its own
 * (created, waiting, parked by a gate, ended). A claim after any other event continues a run
 * whose holder died or lost its lease mid-step: a takeover.
 */
const stopPoints: ReadonlySet<EventType> = new Set<EventType>([
  'session.created',
  'wait.started',
  'gate.decided',
  'approval.requested',
  'session.completed',
  'session.failed',
  'session.cancelled',
]);

const turnEnds: ReadonlySet<EventType> = new Set<EventType>([
  'session.completed',
  'session.failed',
  'session.cancelled',
]);

/** What this process knows of one session, from the events it committed and its claims. */
interface Track {
  /** Commit time of the latest event that was not a model call's own output (store clock, ms). */
  lastAtMs: number | null;
  /** Commit time of the event that started the current turn, when this process knows it. */
  turnStartMs: number | null;
  /** The model the current attempt was sent to, from its `model.requested`. */
  requestedModelId: string | null;
  /** Tool calls running, `step:callIndex` → commit time of their start (or resume). */
  tools: Map<string, number>;
  /** The current claim: its time (process clock), the first commit after it, and the verdict. */
  claim: { atMs: number; firstCommitMs: number | null; takeover: boolean | null } | null;
}

/** Sessions remembered at most; the oldest is forgotten first (its next claim starts afresh). */
const maxTracked = 10_000;

/**
 * Derives metrics from committed events (DESIGN §8). Only events this process committed are
 * fed in (the worker's `events.committed`), never what a run re-reads when it claims a session:
 * so a recovered session's tokens, tool calls and spend that an earlier holder committed are not
 * counted again, by this process or by a second one. What a recovered run really does again (a
 * model call re-sent after a crash) is new work, committed again, and counted again.
 *
 * Durations are differences of commit times (the store's clock): a model call from the last
 * event before it (or from the claim, when it is the run's first) to its response or failure, a tool call from `tool.started` (or
 * `tool.resumed`) to `tool.completed`, a turn from `session.created` or `user.messaged` to its end.
 * A start this process did not see (committed before a takeover) gives no duration.
 */
export class MetricDerivation {
  readonly #tracks = new Map<string, Track>();
  readonly #instruments: EventInstruments;
  readonly #nowMs: () => number;

  /** `nowMs`: a monotonic clock of this process, for recovery times (default `performance.now`). */
  constructor(instruments: EventInstruments, nowMs: () => number = () => performance.now()) {
    this.#instruments = instruments;
    this.#nowMs = nowMs;
  }

  /** Sessions remembered now (bounded by `maxTracked`). */
  get tracked(): number {
    return this.#tracks.size;
  }

  /**
   * A worker of this process claimed the session at `atMs` (the store's clock): the run's first
   * model call is timed from there.
   */
  claimed(sessionId: string, atMs: number): void {
    const track = this.#track(sessionId);
    track.claim = { atMs: this.#nowMs(), firstCommitMs: null, takeover: null };
    track.lastAtMs = atMs;
  }

  /**
   * What the claimed session's log ended with when it was claimed (`null`: nothing known), read
   * after the claim: decides whether the claim was a takeover, and dates a turn that starts there.
   */
  claimedAfter(sessionId: string, last: StoredEvent | null): void {
    const track = this.#tracks.get(sessionId);
    if (track?.claim == null || track.claim.takeover !== null || last === null) return;
    const takeover = !stopPoints.has(last.type);
    track.claim.takeover = takeover;
    if (last.type === 'session.created') track.turnStartMs ??= last.atMs;
    if (takeover) this.#instruments.takeovers.add(1);
    this.#recordRecovery(track);
  }

  /** Events the store just acknowledged for one session, in seq order (one append). */
  committed(sessionId: string, events: readonly StoredEvent[]): void {
    const track = this.#track(sessionId);
    if (track.claim !== null && track.claim.firstCommitMs === null) {
      track.claim.firstCommitMs = this.#nowMs();
      this.#recordRecovery(track);
    }
    for (const e of events) this.#derive(track, e);
    if (events.some((e) => turnEnds.has(e.type))) this.#tracks.delete(sessionId);
  }

  appendStalled(): void {
    this.#instruments.appendStalls.add(1);
    this.#instruments.appendsStalled.add(1);
  }

  appendRecovered(): void {
    this.#instruments.appendsStalled.add(-1);
  }

  #recordRecovery(track: Track): void {
    const claim = track.claim;
    if (claim === null || claim.takeover !== true || claim.firstCommitMs === null) return;
    this.#instruments.recoveryDuration.record((claim.firstCommitMs - claim.atMs) / 1000);
    track.claim = null;
  }

  #derive(track: Track, e: StoredEvent): void {
    const m = this.#instruments;
    switch (e.type) {
      case 'model.requested':
        track.requestedModelId = e.data.modelId;
        return; // a call's own output: the call started before it
      case 'model.streamed':
        return;
      case 'model.responded': {
        const requested = track.requestedModelId ?? e.data.requestedModelId ?? e.data.modelId ?? '';
        const attributes = chatAttributes(requested, e.data.modelId);
        this.#recordUsage(e.data.usage, attributes);
        this.#recordDuration(m.operationDuration, track.lastAtMs, e.atMs, attributes);
        track.requestedModelId = null;
        break;
      }
      case 'model.failed': {
        const attributes = chatAttributes(track.requestedModelId ?? '');
        attributes[genAi.errorType] = e.data.code;
        this.#recordDuration(m.operationDuration, track.lastAtMs, e.atMs, attributes);
        track.requestedModelId = null;
        break;
      }
      case 'context.compacted':
      case 'outcome.evaluated':
        this.#recordUsage(e.data.usage, chatAttributes(e.data.modelId, e.data.modelId));
        break;
      case 'tool.started':
      case 'tool.resumed':
        track.tools.set(`${e.data.step}:${e.data.callIndex}`, e.atMs);
        break;
      case 'tool.completed': {
        const key = `${e.data.step}:${e.data.callIndex}`;
        const attributes: Attributes = {
          [genAi.operationName]: genAiOperation.executeTool,
          [genAi.toolName]: e.data.tool,
        };
        if (!e.data.ok) attributes[genAi.errorType] = e.data.errorCode ?? 'tool_error';
        this.#recordDuration(m.toolDuration, track.tools.get(key) ?? null, e.atMs, attributes);
        track.tools.delete(key);
        break;
      }
      case 'user.messaged':
        track.turnStartMs = e.atMs;
        break;
      case 'session.completed':
      case 'session.failed':
      case 'session.cancelled': {
        const attributes: Attributes = { [genAi.operationName]: genAiOperation.invokeAgent };
        if (e.type !== 'session.completed') attributes[genAi.errorType] = endReason(e);
        this.#recordDuration(m.agentDuration, track.turnStartMs, e.atMs, attributes);
        track.turnStartMs = null;
        break;
      }
      case 'budget.settled':
        if (e.data.costUsd > 0)
          m.budgetSpend.add(e.data.costUsd, { 'longrun.budget.outcome': e.data.outcome });
        break;
      default:
        break;
    }
    track.lastAtMs = e.atMs;
  }

  #recordUsage(usage: TokenUsage, attributes: Attributes): void {
    const { tokenUsage } = this.#instruments;
    tokenUsage.record(usage.inputTokens, { ...attributes, [genAi.tokenType]: 'input' });
    tokenUsage.record(usage.outputTokens, { ...attributes, [genAi.tokenType]: 'output' });
  }

  #recordDuration(
    histogram: EventInstruments['toolDuration'],
    startMs: number | null,
    endMs: number,
    attributes: Attributes,
  ): void {
    if (startMs === null || endMs < startMs) return;
    histogram.record((endMs - startMs) / 1000, attributes);
  }

  #track(sessionId: string): Track {
    let track = this.#tracks.get(sessionId);
    if (track !== undefined) return track;
    if (this.#tracks.size >= maxTracked) {
      const oldest = this.#tracks.keys().next();
      if (oldest.done !== true) this.#tracks.delete(oldest.value);
    }
    track = {
      lastAtMs: null,
      turnStartMs: null,
      requestedModelId: null,
      tools: new Map(),
      claim: null,
    };
    this.#tracks.set(sessionId, track);
    return track;
  }
}

function endReason(e: StoredEvent): string {
  if (e.type === 'session.failed') return e.data.code;
  return 'cancelled';
}
