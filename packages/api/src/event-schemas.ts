import { z } from 'zod';
import { approvalScopes, eventTypes, type EventType } from '@longrun/core';
import { JsonValue } from './schema-registry.ts';

/**
 * The data of each durable event type, as the OpenAPI document describes it: a StoredEvent is a
 * oneOf discriminated by `type`, so a generated client narrows `data` by the event's type. The
 * map is keyed by core's closed event table: an event type added there without a schema here
 * fails the type check. Objects are open (more fields may come in later schema versions).
 */
const json = JsonValue;
const nullableText = z.string().nullable();
const step = z.number().int();
/** Content kept in the blob store instead of the log (`inputRef`, `outputRef`). */
const blobRef = z.object({ hash: z.string(), chars: z.number().int() });
/** A workspace change carried in a tool's result (WorkspaceEdit in @longrun/core). */
const workspaceEdit = z.union([
  z.object({
    path: z.string(),
    at: z.number().int(),
    text: z.string(),
    mode: z.number().int().optional(),
  }),
  z.object({
    path: z.string(),
    at: z.number().int(),
    base64: z.string(),
    mode: z.number().int().optional(),
  }),
  z.object({ path: z.string(), removed: z.literal(true) }),
]);
/** The tool call a wait suspends, and the wait's ordinal among the call's durable operations. */
const waitCall = z.object({ step, callIndex: z.number().int(), ordinal: z.number().int() });
const metadata = z.record(z.string(), z.record(z.string(), json));
const effectClass = z.enum(['pure', 'idempotent', 'keyed', 'unsafe']);
const tokenUsage = z.object({
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  cacheReadTokens: z.number().int().optional(),
  cacheWriteTokens: z.number().int().optional(),
  costUsd: z.number().optional(),
});
/**
 * A cost limit in US dollars. Bounded here so that a limit past 2^53 − 1 is refused as too
 * large; unbounded, it reached the log's plain-JSON check, which called it an integer JSON
 * cannot round-trip and said to send it as a string (a string is no cost limit either).
 */
export const costLimit = (noLimit: string) =>
  z
    .number()
    .min(0, 'must be ≥ 0')
    .max(
      Number.MAX_SAFE_INTEGER,
      `must be at most ${Number.MAX_SAFE_INTEGER} (2^53 − 1) US dollars; ${noLimit}`,
    );
/** A session's budget: each limit optional (see core's `Budget`). */
export const budgetSchema = z.object({
  costUsd: costLimit('leave costUsd out for no cost limit').optional(),
  inputTokens: z.number().int().min(0).optional(),
  outputTokens: z.number().int().min(0).optional(),
  cacheTokens: z.number().int().min(0).optional(),
  toolCalls: z.number().int().min(0).optional(),
  toolCallsPerTool: z.record(z.string(), z.number().int().min(0)).optional(),
  wallClockMs: z.number().int().min(0).optional(),
  steps: z.number().int().min(0).optional(),
  subAgents: z.number().int().min(0).optional(),
});
const spendFields = {
  costUsd: z.number(),
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  cacheTokens: z.number().int(),
};

const responsePart = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('reasoning'),
    text: z.string(),
    providerMetadata: metadata.optional(),
  }),
  z.object({ type: z.literal('text'), text: z.string(), providerMetadata: metadata.optional() }),
  z.object({
    type: z.literal('tool-call'),
    callIndex: z.number().int(),
    providerMetadata: metadata.optional(),
  }),
  z.object({ type: z.literal('compaction'), text: z.string(), providerMetadata: metadata }),
]);

export const eventDataSchemas = {
  'session.created': z.object({
    agent: z.string(),
    input: json,
    forkedFrom: z.object({ sessionId: z.string(), seq: z.number().int() }).optional(),
    schedule: z
      .object({ id: z.string(), tickAtMs: z.number().int(), missedTicks: z.number().int() })
      .optional(),
    parent: z
      .object({
        sessionId: z.string(),
        rootSessionId: z.string(),
        step,
        callIndex: z.number().int(),
        policies: z.array(z.object({ name: z.string(), policy: json })),
      })
      .optional(),
    budget: budgetSchema.optional(),
    budgetSetBy: z.object({ by: z.string(), mayRaise: z.boolean() }).optional(),
  }),
  'user.messaged': z.object({ text: z.string(), signalId: nullableText }),
  'model.requested': z.object({
    step,
    attempt: z.number().int(),
    modelId: z.string(),
    transcriptSeq: z.number().int(),
    continues: z.object({ attempt: z.number().int(), chars: z.number().int() }).optional(),
  }),
  'model.streamed': z.object({ step, attempt: z.number().int(), text: z.string() }),
  'model.failed': z.object({
    step,
    attempt: z.number().int(),
    code: z.string(),
    message: z.string(),
    retryable: z.boolean(),
    retryInMs: z.number().int().nullable(),
  }),
  'model.responded': z.object({
    step,
    text: z.string(),
    toolCalls: z.array(
      z.object({
        callIndex: z.number().int(),
        tool: z.string(),
        args: z.record(z.string(), json),
        id: z.string().optional(),
        inputRef: blobRef.optional(),
      }),
    ),
    usage: tokenUsage,
    finishReason: z.string().optional(),
    attempt: z.number().int().optional(),
    modelId: z.string().optional(),
    transcriptSeq: z.number().int().optional(),
    requestedModelId: z.string().optional(),
    parts: z.array(responsePart).optional(),
    providerMetadata: metadata.optional(),
    activeTools: z.array(z.string()).optional(),
  }),
  'gate.decided': z.object({
    gate: z.string(),
    point: z.enum(['model.call', 'tool.call']),
    decision: z.enum(['deny', 'ask', 'pause']),
    reason: z.string(),
    step,
    callIndex: z.number().int().optional(),
    evidence: z.record(z.string(), json).optional(),
    code: z.string().optional(),
  }),
  'policy.decided': z.object({
    point: z.literal('tool.call'),
    decision: z.enum(['allow', 'deny', 'ask']),
    layer: z.string(),
    rule: z.string(),
    reason: z.string(),
    step,
    callIndex: z.number().int(),
    tool: z.string(),
    approved: z.literal(true).optional(),
    secret: z.string().optional(),
  }),
  'approval.requested': z.union([
    z.object({
      approvalId: z.string(),
      point: z.literal('tool.call').optional(),
      step,
      callIndex: z.number().int(),
      tool: z.string(),
      argsHash: z.string(),
      expiresAtMs: z.number().int().nullable(),
      purpose: z.enum(['run', 'rerun']).optional(),
    }),
    z.object({
      approvalId: z.string(),
      point: z.literal('model.call'),
      step,
      gate: z.string(),
      reason: z.string(),
      argsHash: z.string(),
      expiresAtMs: z.number().int().nullable(),
    }),
  ]),
  'approval.granted': z.object({
    approvalId: z.string(),
    by: z.string(),
    reason: nullableText,
    scope: z.enum(approvalScopes).optional(),
  }),
  'approval.denied': z.object({ approvalId: z.string(), by: z.string(), reason: nullableText }),
  'tool.started': z.object({
    step,
    callIndex: z.number().int(),
    tool: z.string(),
    effect: effectClass,
    idempotencyKey: z.string().optional(),
  }),
  'tool.completed': z.object({
    step,
    callIndex: z.number().int(),
    tool: z.string(),
    ok: z.boolean(),
    output: json,
    attempt: z.number().int(),
    errorCode: z.string().optional(),
    outputRef: blobRef.optional(),
    workspaceEdits: z.array(workspaceEdit).optional(),
  }),
  'tool.interrupted': z.object({
    step,
    callIndex: z.number().int(),
    tool: z.string(),
    outcome: z.literal('unknown'),
  }),
  'tool.resumed': z.object({ step, callIndex: z.number().int(), tool: z.string() }),
  'wait.started': z.union([
    z.object({
      waitId: z.string(),
      kind: z.literal('signal'),
      signal: z.string(),
      untilMs: z.number().int().optional(),
      call: waitCall.optional(),
    }),
    z.object({
      waitId: z.string(),
      kind: z.literal('timer'),
      untilMs: z.number().int(),
      call: waitCall.optional(),
    }),
  ]),
  'wait.resolved': z.object({ waitId: z.string(), signalId: nullableText, payload: json }),
  'workspace.snapshotted': z.object({
    step,
    manifestHash: z.string(),
    files: z.number().int(),
    bytes: z.number().int(),
    changed: z.number().int(),
    skipped: z.array(z.object({ path: z.string(), reason: z.string() })).optional(),
  }),
  'outcome.evaluated': z.object({
    iteration: z.number().int(),
    step,
    passed: z.boolean(),
    criteria: z.array(z.object({ criterion: z.string(), passed: z.boolean(), reason: z.string() })),
    feedback: z.string(),
    continues: z.boolean(),
    evaluatorSteps: z.number().int(),
    usage: tokenUsage,
    modelId: z.string(),
    error: z.string().optional(),
  }),
  'session.completed': z.object({
    output: json,
    outcome: z.enum(['satisfied', 'failed', 'max_iterations_reached', 'interrupted']).optional(),
  }),
  'context.compacted': z.object({
    fromSeq: z.number().int(),
    throughSeq: z.number().int(),
    messages: z.number().int(),
    summary: z.string(),
    modelId: z.string(),
    usage: tokenUsage,
    tokensBefore: z.number().int(),
    tokensAfter: z.number().int(),
    reason: z.enum(['threshold', 'refused']),
    handoff: z.object({ file: z.string(), bytes: z.number().int() }).optional(),
    native: z
      .object({ provider: z.string(), step: z.number().int(), part: z.number().int() })
      .optional(),
  }),
  'session.failed': z.object({ code: z.string(), message: z.string() }),
  'session.cancelled': z.object({ reason: nullableText, by: z.string() }),
  'session.resumed': z.object({ by: z.string(), reason: nullableText }),
  'budget.set': z.object({
    budget: budgetSchema,
    by: z.string(),
    reason: nullableText,
    change: z.record(z.string(), json).optional(),
  }),
  'budget.reserved': z.object({
    reservationId: z.string(),
    kind: z.enum(['step', 'compaction', 'evaluator', 'subagent']),
    step,
    attempt: z.number().int(),
    modelId: z.string(),
    ...spendFields,
    toolCalls: z.number().int().optional(),
    children: z.number().int().optional(),
  }),
  'budget.settled': z.object({
    reservationId: z.string(),
    outcome: z.enum(['responded', 'failed', 'interrupted']),
    ...spendFields,
    toolCalls: z.number().int().optional(),
    subAgents: z.number().int().optional(),
  }),
} satisfies Record<EventType, z.ZodType>;

/** One stored event of each type: the envelope with that type's data. */
export function storedEventVariants(): [z.ZodObject, ...z.ZodObject[]] {
  const [first, ...rest] = eventTypes.map((type) =>
    z.object({
      sessionId: z.string(),
      seq: z.number().int().min(1),
      type: z.literal(type),
      v: z.number().int(),
      data: eventDataSchemas[type],
      atMs: z.number().int(),
      epoch: z.number().int(),
      parentSessionId: z
        .string()
        .optional()
        .describe("A sub-agent session's events: the session that started it."),
      rootSessionId: z
        .string()
        .optional()
        .describe("A sub-agent session's events: the root of its tree of sessions."),
    }),
  );
  if (first === undefined) throw new Error('core names no event types');
  return [first, ...rest];
}
