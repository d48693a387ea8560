import { z } from 'zod';
import { apiKeyRoles, approvalScopes, sessionStatusNames } from '@longrun/core';
import { wholeArgumentsProblems } from '@longrun/runtime';

import { JsonValue, components, named } from './schema-registry.ts';
import { budgetSchema, costLimit, storedEventVariants } from './event-schemas.ts';

/**
 * The schemas that validate every request and describe every response. The OpenAPI document at
 * /v1/openapi.json is generated from these same objects (openapi.ts), so the two cannot drift.
 * Schemas that the document names as components are registered in `components` with their id.
 */
export { JsonValue, components };

// Strings that end up in text columns and logs: no control characters, no lone surrogates.
export const cleanText = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[^\u0000-\u001f\u007f]*$/, 'must not contain control characters')
    .refine((s) => s.isWellFormed(), 'must be well-formed Unicode (no lone surrogates)');

/**
 * A query parameter holding a decimal integer, documented as one. Digits past `max` are refused
 * as too large, not as "not an integer" (a 16-digit 2^53 − 1 once was), and before `Number()`
 * would round them.
 */
export const intParam = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, { message: 'must be a decimal integer (digits only)', abort: true })
    .refine(
      (s) => s.replace(/^0+(?=\d)/, '').length <= 16 && Number(s) <= max,
      `must be at most ${max}`,
    )
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`))
    .meta({ type: 'integer', minimum: min, maximum: max });

export const sessionStatuses = sessionStatusNames;

export const AgentName = cleanText(200).min(1);

// ---- requests ----

export const CreateSessionBody = named(
  'CreateSessionBody',
  z.strictObject({
    agent: AgentName.describe('Name of a registered agent.'),
    message: z
      .string()
      .max(512 * 1024)
      .describe('The task: the first user message.'),
    input: JsonValue.optional().describe('Extra input handed to the agent with the task.'),
    tenant: cleanText(200)
      .min(1)
      .optional()
      .describe(
        "The tenant the caller means the session for. A session's tenant is always the API key's: a different one is refused (400) before anything is created.",
      ),
    budget: budgetSchema
      .strict()
      .optional()
      .describe(
        "The session's budget; the agent's own budget fills in the limits left out. Passing one pauses the session with BUDGET_EXCEEDED until it is raised.",
      ),
  }),
);

const limitChange = (limit: z.ZodNumber) => limit.min(0).nullable().optional();

export const BudgetBody = named(
  'BudgetBody',
  z.strictObject({
    budget: z
      .strictObject({
        costUsd: costLimit('send null to remove the cost limit').nullable().optional(),
        inputTokens: limitChange(z.number().int()),
        outputTokens: limitChange(z.number().int()),
        cacheTokens: limitChange(z.number().int()),
        toolCalls: limitChange(z.number().int()),
        toolCallsPerTool: z
          .record(z.string(), z.number().int().min(0).nullable())
          .nullable()
          .optional(),
        wallClockMs: limitChange(z.number().int()),
        steps: limitChange(z.number().int()),
        subAgents: limitChange(z.number().int()),
      })
      .describe(
        'The limits to change: a number sets one, null removes it, a limit left out stays.',
      ),
    reason: cleanText(2_000).optional().describe('Why, recorded in the log with who changed it.'),
  }),
);

export const MessageBody = named(
  'MessageBody',
  z.strictObject({
    text: z
      .string()
      .min(1)
      .max(512 * 1024),
  }),
);

export const SignalBody = named(
  'SignalBody',
  z.strictObject({
    name: cleanText(200).min(1).describe('The signal the session waits for.'),
    payload: JsonValue.optional().describe('Handed to the session with the signal (default null).'),
  }),
);

export const CancelBody = named(
  'CancelBody',
  z.strictObject({ reason: cleanText(2_000).optional() }),
);

export const ResumeBody = named(
  'ResumeBody',
  z.strictObject({
    reason: cleanText(2_000)
      .optional()
      .describe('Why it may run again now, recorded in the log with who resumed it.'),
  }),
);

export const DecisionBody = named(
  'DecisionBody',
  z.strictObject({
    decision: z.enum(['approve', 'deny']),
    reason: cleanText(2_000).optional(),
    scope: z
      .enum(approvalScopes)
      .optional()
      .describe(
        'How far an approval reaches: call (default), arguments (this tool with these arguments for the rest of the session), tool (this tool for the rest of the session)',
      ),
  }),
);

export const ListSessionsQuery = z.object({
  status: z.enum(sessionStatuses).optional(),
  agent: AgentName.optional(),
  limit: intParam(1, 200).optional(),
  after: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe('Id of the last session of the previous page.'),
  q: cleanText(200)
    .min(1)
    .optional()
    .describe('Only sessions whose id or task contains this text (case-insensitive).'),
  createdFrom: intParam(0, Number.MAX_SAFE_INTEGER)
    .optional()
    .describe('Only sessions created at or after this time (epoch ms).'),
  createdTo: intParam(0, Number.MAX_SAFE_INTEGER)
    .optional()
    .describe('Only sessions created at or before this time (epoch ms).'),
});

export const EventsQuery = z.object({
  after: intParam(0, Number.MAX_SAFE_INTEGER).optional(),
  limit: intParam(1, 1_000).optional(),
});

export const StreamQuery = z.object({
  after: intParam(0, Number.MAX_SAFE_INTEGER)
    .optional()
    .describe('Seq to resume after; the Last-Event-ID header wins when both are sent.'),
  follow: z
    .enum(['true', 'false'])
    .optional()
    .describe('false: end the stream after a terminal event.'),
  access_token: z
    .string()
    .max(200)
    .optional()
    .describe('The API key, for clients that cannot send headers (EventSource).'),
});

export const ApprovalsQuery = z.object({ limit: intParam(1, 200).optional() });

export const FileContentQuery = z.object({
  path: cleanText(4_096).min(1).describe('Relative path of a file in the latest snapshot.'),
});

export const ForkBody = named(
  'ForkBody',
  z.strictObject({
    atSeq: z
      .number()
      .int()
      .min(1)
      .max(Number.MAX_SAFE_INTEGER)
      .optional()
      .describe("Copy the source's log up to this seq (default: all of it)."),
  }),
);

export const WorkspaceDiffQuery = z.object({
  from: intParam(0, Number.MAX_SAFE_INTEGER)
    .optional()
    .describe(
      'The older side: the last snapshot at or before this seq (default: the one before `to`).',
    ),
  to: intParam(0, Number.MAX_SAFE_INTEGER)
    .optional()
    .describe('The newer side: the last snapshot at or before this seq (default: the latest).'),
  patches: z
    .enum(['true', 'false'])
    .optional()
    .describe('true: unified diffs of small text files.'),
});

export const SessionParams = z.object({ id: z.string() });
export const ApprovalParams = z.object({ id: z.string(), approvalId: z.string() });

// ---- responses ----

const spendView = z.object({
  costUsd: z.number(),
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  cacheTokens: z.number().int(),
  toolCalls: z.number().int(),
  steps: z.number().int(),
  subAgents: z.number().int(),
});

export const BudgetView = named(
  'BudgetView',
  z.object({
    limits: budgetSchema,
    used: spendView.describe(
      'Settled spend plus open reservations, tool calls started, model turns.',
    ),
    reservedUsd: z.number().describe('Of `used.costUsd`, what open reservations hold.'),
    remaining: z
      .record(z.string(), z.number())
      .describe('Room left under each limit set (never negative), by limit name.'),
  }),
);

export const SessionView = named(
  'SessionView',
  z.object({
    id: z.string(),
    tenantId: z.string(),
    agent: z.string(),
    status: z.enum(sessionStatuses),
    statusReason: z.string().nullable(),
    headSeq: z.number().int(),
    createdAtMs: z.number().int(),
    updatedAtMs: z.number().int(),
    lastEventAtMs: z.number().int().nullable(),
    steps: z.number().int(),
    tokens: z.object({ input: z.number().int(), output: z.number().int() }),
    costUsd: z.number().nullable(),
    waitingFor: z.string().nullable(),
    pendingApprovals: z.number().int(),
    forkedFrom: z
      .object({ sessionId: z.string(), seq: z.number().int() })
      .nullable()
      .describe("A fork's source session and the seq its log was copied up to; null otherwise."),
    outcome: z
      .object({
        evaluations: z.number().int(),
        status: z.enum(['pending', 'satisfied', 'failed', 'max_iterations_reached', 'interrupted']),
      })
      .nullable()
      .describe(
        "For an agent that declares an outcome: its evaluator's verdicts in the current turn and how the outcome stands; null before the first evaluation.",
      ),
    schedule: z
      .object({ id: z.string(), tickAtMs: z.number().int(), missedTicks: z.number().int() })
      .nullable()
      .describe(
        'The schedule that started the session and the tick it was for (missedTicks: earlier missed ticks it stands for); null otherwise.',
      ),
    budget: BudgetView.nullable().describe(
      'The budget, what it has used (settled spend plus open reservations) and what remains of each limit set; null for a session without one.',
    ),
    task: z
      .string()
      .nullable()
      .describe(
        'The task the session was started with, as text (cut at 2,000 characters); null when its input had none.',
      ),
  }),
);

export const StoredEvent = named(
  'StoredEvent',
  z.discriminatedUnion('type', storedEventVariants()),
  'A durable event: its `data` has the shape of its `type` (a oneOf discriminated by `type`).',
);

export const Approval = named(
  'Approval',
  z.object({
    approvalId: z.string(),
    sessionId: z.string(),
    agent: z.string(),
    point: z
      .enum(['tool.call', 'model.call'])
      .describe('A tool call, or the model call of `step` that a gate asked a person about.'),
    tool: z.string().nullable().describe('The tool of the call; null for a model call.'),
    args: JsonValue.describe(
      "The tool call's arguments as the log holds them, which `argsHash` binds to; {} for a model call. When `argumentsComplete` is false, only a capped view of them: its note names the sha256 of the whole arguments, and `GET /v1/sessions/{id}/approvals/{approvalId}` returns them whole.",
    ),
    argsHash: z.string().describe('The hash of the tool and `args` that a decision is bound to.'),
    argumentsComplete: z
      .boolean()
      .describe(
        'False when `args` shows only part of the arguments (they were too large for the log): the call would run with all of them. Read them whole (GET /v1/sessions/{id}/approvals/{approvalId}) before deciding.',
      ),
    argumentsChars: z.number().int().describe("Characters of the whole arguments' JSON text."),
    argumentsShownChars: z
      .number()
      .int()
      .describe(
        'Characters of that text `args` shows: argumentsChars when complete, fewer when not.',
      ),
    step: z.number().int(),
    callIndex: z
      .number()
      .int()
      .nullable()
      .describe("The tool call's index; null for a model call."),
    question: z
      .object({ gate: z.string(), reason: z.string() })
      .nullable()
      .describe('For a model call: the gate that asked, and why.'),
    requestedAtMs: z.number().int(),
    expiresAtMs: z.number().int().nullable(),
  }),
);

export const ApprovalDetail = named(
  'ApprovalDetail',
  z.object({
    approval: Approval,
    arguments: JsonValue.nullable().describe(
      'The whole arguments the call runs with if granted (read back from the blob store when they were too large for the log); null when they cannot be given: `problem` says why.',
    ),
    argumentsSha256: z
      .string()
      .describe(
        "The sha256 (hex) of the whole arguments' JSON text. When `approval.args` is a capped view, the view names this hash, so `argsHash` (the decision's binding) covers exactly these arguments.",
      ),
    problem: z
      .object({
        code: z.enum(wholeArgumentsProblems),
        message: z.string(),
      })
      .nullable()
      .describe(
        'Why `arguments` is null: TOO_LARGE (past what one answer carries), MISSING (gone from the blob store), CORRUPT (the stored bytes or the view do not match the hash). Nobody can read them here; deny, unless they can be read another way.',
      ),
  }),
);

export const ErrorBody = named(
  'Error',
  z.object({ error: z.object({ code: z.string(), message: z.string() }) }),
);

export const SessionResponse = named('SessionResponse', z.object({ session: SessionView }));
export const SessionTree = named(
  'SessionTree',
  z.object({
    parent: z
      .object({
        sessionId: z.string(),
        rootSessionId: z.string(),
        step: z.number().int(),
        callIndex: z.number().int(),
      })
      .nullable(),
    children: z.array(
      z.object({
        sessionId: z.string(),
        agent: z.string(),
        status: z.string(),
        step: z.number().int(),
        callIndex: z.number().int(),
      }),
    ),
  }),
);
export const SessionList = named(
  'SessionList',
  z.object({ sessions: z.array(SessionView), next: z.string().nullable() }),
);
export const EventList = named(
  'EventList',
  z.object({ events: z.array(StoredEvent), next: z.number().int().nullable() }),
);
export const ApprovalList = named(
  'ApprovalList',
  z.object({
    approvals: z.array(Approval),
    /**
     * True when pending approvals were left out: past `limit`, or in sessions past the most one
     * request reads (2,000 waiting on a person, oldest made first).
     */
    truncated: z.boolean(),
  }),
);
export const HookParams = z.object({
  token: z.string().describe('The webhook token: the last part of the URL the tool was given.'),
});
export const NamedSignalParams = z.object({
  id: z.string(),
  name: cleanText(200).min(1).describe('The signal the session waits for.'),
});
export const HookDelivery = named(
  'HookDelivery',
  z.object({
    delivered: z.literal(true),
    signalId: z.string().describe('The delivery, as the signal the waiting tool call receives.'),
  }),
);

export const DecisionResponse = named(
  'DecisionResponse',
  z.object({
    approvalId: z.string(),
    decision: z.enum(['approve', 'deny']),
    scope: z.enum(approvalScopes),
  }),
);
export const FileList = named(
  'FileList',
  z.object({
    manifestHash: z
      .string()
      .nullable()
      .describe('The last stored snapshot; null before the first.'),
    step: z.number().int().nullable(),
    edits: z
      .number()
      .int()
      .describe('Edits recorded in tool results since that snapshot, included in `files`.'),
    files: z.array(z.object({ path: z.string(), size: z.number().int(), mode: z.number().int() })),
  }),
);
const SnapshotRef = z.object({
  seq: z.number().int(),
  step: z.number().int(),
  manifestHash: z.string().describe('The last stored snapshot at or before `seq`.'),
  edits: z
    .number()
    .int()
    .describe('Edits recorded in tool results since that snapshot, up to `seq`.'),
});
export const WorkspaceDiff = named(
  'WorkspaceDiff',
  z.object({
    from: SnapshotRef.nullable().describe('Null: the empty workspace before the first snapshot.'),
    to: SnapshotRef,
    changes: z.array(
      z.object({
        path: z.string(),
        change: z.enum(['added', 'removed', 'changed']),
        sizeBefore: z.number().int(),
        sizeAfter: z.number().int(),
        patch: z.string().nullable(),
        noPatchReason: z.string().nullable(),
      }),
    ),
  }),
);
export const Health = named(
  'Health',
  z.object({ ok: z.literal(true), auth: z.enum(['none', 'keys']), version: z.string() }),
);
export const AgentList = named(
  'AgentList',
  z.object({ agents: z.array(z.object({ name: z.string() })) }),
);
export const UsageQuery = z.object({
  day: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'a day is YYYY-MM-DD (UTC)')
    .optional()
    .describe('The UTC day, YYYY-MM-DD; default today by the store clock.'),
});

const dailySpend = z.object({
  costUsd: z.number(),
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  cacheTokens: z.number().int(),
});

export const TenantUsage = named(
  'TenantUsage',
  z.object({
    tenantId: z.string(),
    day: z.string(),
    used: dailySpend.describe(
      "What the tenant's sessions charged that day: settled spend plus open reservations.",
    ),
    calls: z.number().int().describe('Model calls charged that day.'),
    limits: dailySpend
      .partial()
      .nullable()
      .describe("The tenant's daily limits as this server knows them; null: none given to it."),
    remaining: z
      .record(z.string(), z.number())
      .describe('Room left under each daily limit (never negative).'),
  }),
);

export const Ready = named('Ready', z.object({ ready: z.boolean(), store: z.string() }));
export const Figures = named(
  'Figures',
  z.object({
    streams: z.object({
      scope: z
        .enum(['tenant', 'server'])
        .describe(
          "tenant: the caller's tenant's streams (a caller with an API key); server: every stream (a server without keys)",
        ),
      tenantId: z.string().optional().describe('The tenant counted, when `scope` is tenant.'),
      feeds: z.number(),
      subscribers: z.number(),
      reads: z
        .number()
        .optional()
        .describe('Store reads made for streams since the start; server scope only.'),
      cachedSessions: z.number().optional().describe('Server scope only.'),
      caps: z
        .object({
          open: z.number(),
          refused: z.number(),
          maxOpen: z.number(),
          maxPerKey: z.number(),
          maxPerTenant: z.number(),
        })
        .optional()
        .describe(
          'Server scope only: streams open now, refused since the start (429 TOO_MANY_STREAMS or 503 SERVER_BUSY), and the caps.',
        ),
      buffers: z
        .object({
          bufferedBytes: z.number(),
          inFlightBytes: z.number(),
          maxBytes: z.number(),
          evicted: z.number(),
        })
        .optional()
        .describe(
          "Server scope only: bytes streams hold read ahead of their clients (bounded by maxBytes) and in their sockets' buffers; streams ended since the start to keep the bound.",
        ),
    }),
    connections: z
      .object({
        open: z.number(),
        maxOpen: z.number(),
        maxOpenPerAddress: z.number(),
        addresses: z.number(),
        refused: z.number(),
        reaped: z.number(),
        probesOverCap: z.number(),
      })
      .optional()
      .describe(
        "The HTTP server's connections: open now, the caps, remote addresses holding one; since the start, those refused over a cap (503 SERVER_BUSY) and those closed for sending no request while another needed the place.",
      ),
    /** A server without keys only: the pool serves every tenant. */
    sandboxPool: z
      .object({
        size: z.number(),
        ready: z.number(),
        inUse: z.number(),
        queued: z.number(),
        provisioning: z.number(),
        provisioningMsP50: z.number().nullable(),
        provisioningMsP99: z.number().nullable(),
      })
      .nullable()
      .optional(),
    /** The in-process worker's counts since it started; a server without keys only. */
    worker: z
      .object({
        sessionsEnded: z.record(z.string(), z.number()),
        eventsCommitted: z.number(),
        appendStalls: z.number(),
        leasesLost: z.number(),
        livenessDoubts: z.number(),
      })
      .optional(),
  }),
);

export type SessionViewData = z.infer<typeof SessionView>;
export type ApprovalData = z.infer<typeof Approval>;
export type ApprovalDetailData = z.infer<typeof ApprovalDetail>;
export type TenantUsageData = z.infer<typeof TenantUsage>;

// ---- API keys ----

export const KeyParams = z.object({ keyId: z.string() });

export const CreateKeyBody = named(
  'CreateKeyBody',
  z.strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'letters, digits, _ . : - (at most 64)')
      .optional()
      .describe('A name for lists and logs (default `default`)'),
    role: z
      .enum(apiKeyRoles)
      .optional()
      .describe(
        'What the key may do (default operator): viewer reads; operator runs agents; approver decides approvals; admin does everything',
      ),
  }),
);

export const ApiKeyView = named(
  'ApiKeyView',
  z.object({
    id: z.string(),
    tenantId: z.string(),
    name: z.string(),
    role: z.enum(apiKeyRoles),
    createdAtMs: z.number().int(),
    revokedAtMs: z.number().int().nullable(),
  }),
);
export const ApiKeyList = named('ApiKeyList', z.object({ keys: z.array(ApiKeyView) }));
export const CreatedKey = named(
  'CreatedKey',
  z.object({
    key: z.string().describe('lr_<id>_<secret>: shown this once, only its hash is stored'),
    apiKey: ApiKeyView,
  }),
);
export const RevokedKey = named('RevokedKey', z.object({ apiKey: ApiKeyView }));
