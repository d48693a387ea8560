// The shapes of the HTTP API v1 the dashboard reads (see docs/http-api.md). Event
// types come from @longrun/core as type-only imports, which are erased when the file is served.
import type { JsonObject, JsonValue, StoredEvent } from '@longrun/core';

export type { JsonObject, JsonValue, StoredEvent };

export const sessionStatuses = [
  'queued',
  'running',
  'waiting',
  'paused',
  'completed',
  'failed',
  'cancelled',
] as const;
export type SessionStatus = (typeof sessionStatuses)[number];

export interface SessionView {
  id: string;
  tenantId: string;
  agent: string;
  status: SessionStatus;
  statusReason: string | null;
  headSeq: number;
  createdAtMs: number;
  updatedAtMs: number;
  lastEventAtMs: number | null;
  steps: number;
  tokens: { input: number; output: number };
  costUsd: number | null;
  waitingFor: string | null;
  pendingApprovals: number;
  /** For an agent that declares an outcome: its evaluations this turn and how it stands. */
  outcome?: { evaluations: number; status: string } | null;
  /** The session's budget, what it used and what remains; null without one. */
  budget?: BudgetView | null;
  /** The task it was started with, as text (servers before this field: absent). */
  task?: string | null;
}

/** `GET /v1/sessions/{id}/tree`: a sub-agent's parent and root, and the sub-agents it started. */
export interface SessionTreeView {
  parent: { sessionId: string; rootSessionId: string; step: number; callIndex: number } | null;
  children: { sessionId: string; agent: string; status: string; step: number; callIndex: number }[];
}

export interface BudgetLimits {
  costUsd?: number;
  inputTokens?: number;
  outputTokens?: number;
  cacheTokens?: number;
  toolCalls?: number;
  toolCallsPerTool?: Record<string, number>;
  wallClockMs?: number;
  steps?: number;
}

export interface BudgetView {
  limits: BudgetLimits;
  used: {
    costUsd: number;
    inputTokens: number;
    outputTokens: number;
    cacheTokens: number;
    toolCalls: number;
    steps: number;
  };
  reservedUsd: number;
  remaining: Record<string, number>;
}

/** A change to a budget (`POST /v1/sessions/{id}/budget`): a number sets a limit, null removes it. */
export type BudgetChangeBody = Record<string, number | null | Record<string, number | null>>;

export interface Approval {
  approvalId: string;
  sessionId: string;
  agent: string;
  /** A tool call, or the model call of `step` that a gate asked a person about. */
  point: 'tool.call' | 'model.call';
  tool: string | null;
  /** The arguments as the log holds them: a capped view when `argumentsComplete` is false. */
  args: JsonValue;
  argsHash: string;
  argumentsComplete: boolean;
  /** Characters of the whole arguments' JSON text, and of it `args` shows. */
  argumentsChars: number;
  argumentsShownChars: number;
  step: number;
  callIndex: number | null;
  question: { gate: string; reason: string } | null;
  requestedAtMs: number;
  expiresAtMs: number | null;
}

/** `GET /v1/sessions/{id}/approvals/{approvalId}`: the approval with its whole arguments. */
export interface ApprovalDetail {
  approval: Approval;
  /** Null when they cannot be given; `problem` says why. */
  arguments: JsonValue;
  /** The sha256 of the whole arguments' JSON text, which a capped view names. */
  argumentsSha256: string;
  problem: { code: 'TOO_LARGE' | 'MISSING' | 'CORRUPT'; message: string } | null;
}

export interface WorkspaceFile {
  path: string;
  size: number;
  mode: number;
}

export interface WorkspaceChange {
  path: string;
  change: 'added' | 'removed' | 'changed';
  sizeBefore: number;
  sizeAfter: number;
  patch: string | null;
  noPatchReason: string | null;
}

/** Changes between two snapshots; `from` null is the empty workspace before the first. */
export interface WorkspaceDiff {
  from: { seq: number; step: number; manifestHash: string } | null;
  to: { seq: number; step: number; manifestHash: string };
  changes: WorkspaceChange[];
}

export interface WorkspaceListing {
  manifestHash: string | null;
  step: number | null;
  files: WorkspaceFile[];
}

/** A live token delta of one model attempt: `text` belongs at character `offset` of its text. */
export interface ModelDelta {
  step: number;
  attempt: number;
  offset: number;
  text: string;
}

export interface Health {
  ok: boolean;
  auth: 'none' | 'keys';
  version: string;
}

export function isTerminal(status: SessionStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}
