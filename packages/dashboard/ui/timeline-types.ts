// The items of a session's timeline: what timeline-model builds and timeline-items renders.
import type { JsonObject, JsonValue } from './api-types.ts';
import type { ArgumentsExtent } from './arguments-extent.ts';

export interface ItemBase {
  /** Stable identity of the item, for the view's keyed rendering and for tests. */
  key: string;
  /** Bumped on every change, so a view re-renders only what changed. */
  rev: number;
  /** Commit time of the event that created the item; null for an item made by a live delta. */
  atMs: number | null;
}

export interface UserItem extends ItemBase {
  kind: 'user';
  text: string;
  /** The session's task (from `session.created`) rather than a follow-up message. */
  initial: boolean;
}

export type ModelState = 'streaming' | 'responded' | 'superseded';

export interface ModelItem extends ItemBase {
  kind: 'model';
  step: number;
  attempt: number;
  text: string;
  state: ModelState;
  failure: { code: string; message: string; retryable: boolean; retryInMs: number | null } | null;
  modelId: string | null;
  usage: { inputTokens: number; outputTokens: number } | null;
}

export type ToolState = 'proposed' | 'running' | 'completed' | 'interrupted';

export interface ToolItem extends ItemBase {
  kind: 'tool';
  step: number;
  callIndex: number;
  tool: string;
  /** As the log holds them: a capped view when `keptChars` is not null. */
  args: JsonObject;
  /** Characters of the whole arguments when they were too large for the log; else null. */
  keptChars: number | null;
  state: ToolState;
  ok: boolean | null;
  output: JsonValue;
  /** How many times the tool was started for this call (more than 1 after a resume). */
  attempt: number;
}

export interface ApprovalItem extends ItemBase {
  kind: 'approval';
  approvalId: string;
  point: 'tool.call' | 'model.call';
  step: number;
  /** The tool call asked about; null for a model call. */
  callIndex: number | null;
  tool: string | null;
  args: JsonObject | null;
  /** How much of the whole arguments `args` shows; null with `args`. */
  argumentsExtent: ArgumentsExtent | null;
  /** For a model call: the gate that asked, and why. */
  question: { gate: string; reason: string } | null;
  state: 'requested' | 'granted' | 'denied';
  by: string | null;
  reason: string | null;
  expiresAtMs: number | null;
}

export interface WaitItem extends ItemBase {
  kind: 'wait';
  waitId: string;
  waitKind: 'signal' | 'timer';
  signal: string | null;
  untilMs: number | null;
  resolved: boolean;
}

export interface SnapshotItem extends ItemBase {
  kind: 'snapshot';
  step: number;
  manifestHash: string;
  files: number;
  bytes: number;
  changed: number;
}

/** The lease epoch changed where no worker had let the session go: a worker died or stopped. */
export interface ResumeItem extends ItemBase {
  kind: 'resume';
  fromEpoch: number;
  toEpoch: number;
}

/** A person resumed the session the worker had paused (`session.resumed`); not a takeover. */
export interface SessionResumedItem extends ItemBase {
  kind: 'session-resumed';
  by: string;
  reason: string | null;
}

/**
 * A gate of the harness's chain did not allow a call (`gate.decided`): which gate, at which
 * point, what it decided and why. What the decision did follows it (the failure, the approval,
 * the tool's error result, or the session's pause).
 */
export interface GateItem extends ItemBase {
  kind: 'gate';
  gate: string;
  point: 'model.call' | 'tool.call';
  decision: 'deny' | 'ask' | 'pause';
  reason: string;
  step: number;
  callIndex: number | null;
}

/** A fresh-context evaluator's verdict on the agent's answer (agents that declare an outcome). */
export interface EvaluationItem extends ItemBase {
  kind: 'evaluation';
  iteration: number;
  step: number;
  passed: boolean;
  criteria: { criterion: string; passed: boolean; reason: string }[];
  /** The agent works on the feedback (another iteration follows). */
  continues: boolean;
  error: string | null;
}

/** The older part of the transcript was replaced by a summary (`context.compacted`). */
export interface CompactionItem extends ItemBase {
  kind: 'compaction';
  fromSeq: number;
  throughSeq: number;
  messages: number;
  summary: string;
  tokensBefore: number;
  tokensAfter: number;
  reason: 'threshold' | 'refused';
}

export interface EndItem extends ItemBase {
  kind: 'end';
  outcome: 'completed' | 'failed' | 'cancelled';
  /** For an agent that declares an outcome: how it ended (`satisfied`, …). */
  evaluatedOutcome: string | null;
  /** The output (completed), error code and message (failed), or reason (cancelled). */
  output: JsonValue;
  code: string | null;
  message: string | null;
  by: string | null;
}

export type TimelineItem =
  | UserItem
  | ModelItem
  | ToolItem
  | ApprovalItem
  | WaitItem
  | SnapshotItem
  | ResumeItem
  | GateItem
  | EvaluationItem
  | SessionResumedItem
  | CompactionItem
  | EndItem;
