import { LongrunError } from '../errors.ts';
import type { BudgetSetter, ScheduleRef, SessionParent } from '../events.ts';
import { checkPolicy } from '../policy/policy-check.ts';
import { checkBudget } from '../budget/budget-spec.ts';
import {
  defaultTenantId,
  newSessionId,
  scheduleId,
  sessionId,
  tenantId,
  workerId,
  type SessionId,
  type WorkerId,
} from '../ids.ts';
import { encodePayload } from '../json.ts';
import { apiKeyRoles, isApiKeyRole, type NewApiKey } from './api-key-store.ts';
import { isBlobHash } from './blob-store.ts';
import type { CreateSessionInput, ListSessionsQuery, SessionStatus } from './session-store.ts';
import { checkCount, checkLeaseMs, checkName, sessionStatuses } from './store-input.ts';

/** A create-session request, checked and encoded the same way by every store. */
export interface EncodedCreateSession {
  id: SessionId;
  tenantId: string;
  agent: string;
  /** The `session.created` event's data, encoded. */
  data: string;
  idempotency: { key: string; requestHash: string } | null;
  /** CreateSessionInput.heldBy, checked. */
  heldBy: { owner: WorkerId; leaseMs: number } | null;
}

export function encodeCreateSession(input: CreateSessionInput): EncodedCreateSession {
  if (typeof input !== 'object' || input === null) {
    throw new LongrunError('INVALID_ARGUMENT', 'createSession needs { agent, input }');
  }
  const agent = checkName('agent', input.agent);
  const key = input.idempotencyKey;
  if (key !== undefined) checkName('idempotencyKey', key);
  if ((key === undefined) !== (input.requestHash === undefined)) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      'idempotencyKey and requestHash go together: pass both (the hash of the request the key names) or neither',
    );
  }
  return {
    id: input.id === undefined ? newSessionId() : sessionId(input.id),
    tenantId: input.tenantId === undefined ? defaultTenantId : tenantId(input.tenantId),
    agent,
    data: encodePayload(
      {
        agent,
        input: input.input,
        ...(input.forkedFrom === undefined
          ? {}
          : { forkedFrom: checkForkedFrom(input.forkedFrom) }),
        ...(input.schedule === undefined ? {} : { schedule: checkScheduleRef(input.schedule) }),
        ...(input.parent === undefined ? {} : { parent: checkParent(input.parent) }),
        ...(input.budget === undefined ? {} : { budget: checkBudget(input.budget) }),
        ...(input.budgetSetBy === undefined
          ? {}
          : { budgetSetBy: checkBudgetSetter(input.budgetSetBy, input.budget) }),
      },
      'session input',
    ),
    idempotency:
      key === undefined ? null : { key, requestHash: checkName('requestHash', input.requestHash) },
    heldBy: input.heldBy === undefined ? null : checkHeldBy(input.heldBy, key),
  };
}

function checkHeldBy(
  value: { owner: WorkerId; leaseMs: number },
  key: string | undefined,
): { owner: WorkerId; leaseMs: number } {
  if (typeof value !== 'object' || value === null)
    throw new LongrunError('INVALID_ARGUMENT', 'heldBy must be { owner, leaseMs }');
  if (key !== undefined)
    throw new LongrunError(
      'INVALID_ARGUMENT',
      'a session created held (heldBy) takes no idempotencyKey: a replay would hand back a session another creator holds',
    );
  return { owner: workerId(value.owner), leaseMs: checkLeaseMs(value.leaseMs) };
}

function checkBudgetSetter(value: BudgetSetter, budget: unknown): BudgetSetter {
  if (budget === undefined) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      'budgetSetBy names who gave a budget: pass budget too',
    );
  }
  if (typeof value !== 'object' || value === null || typeof value.mayRaise !== 'boolean') {
    throw new LongrunError('INVALID_ARGUMENT', 'budgetSetBy must be { by, mayRaise }');
  }
  return { by: checkName('budgetSetBy.by', value.by), mayRaise: value.mayRaise };
}

function checkScheduleRef(value: ScheduleRef): ScheduleRef {
  if (typeof value !== 'object' || value === null) {
    throw new LongrunError('INVALID_ARGUMENT', 'schedule must be { id, tickAtMs, missedTicks }');
  }
  return {
    id: scheduleId(value.id),
    tickAtMs: checkCount('schedule.tickAtMs', value.tickAtMs),
    missedTicks: checkCount('schedule.missedTicks', value.missedTicks),
  };
}

function checkParent(value: SessionParent): SessionParent {
  if (typeof value !== 'object' || value === null || !Array.isArray(value.policies)) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      'parent must be { sessionId, rootSessionId, step, callIndex, policies }',
    );
  }
  return {
    sessionId: sessionId(value.sessionId),
    rootSessionId: sessionId(value.rootSessionId),
    step: checkCount('parent.step', value.step, 1),
    callIndex: checkCount('parent.callIndex', value.callIndex),
    policies: value.policies.map((layer, i) => {
      const name = checkName(`parent.policies[${i}].name`, layer?.name);
      return { name, policy: checkPolicy(layer.policy, `parent.policies[${i}] (${name})`) };
    }),
  };
}

function checkForkedFrom(value: { sessionId: SessionId; seq: number }): {
  sessionId: SessionId;
  seq: number;
} {
  if (typeof value !== 'object' || value === null) {
    throw new LongrunError('INVALID_ARGUMENT', 'forkedFrom must be { sessionId, seq }');
  }
  return { sessionId: sessionId(value.sessionId), seq: checkCount('forkedFrom.seq', value.seq, 1) };
}

export function idempotencyConflict(key: string): LongrunError {
  return new LongrunError(
    'IDEMPOTENCY_CONFLICT',
    `idempotency key ${JSON.stringify(key)} was used before with a different request; send the same request again, or use a new key for a new one`,
  );
}

export interface CheckedListQuery {
  status: SessionStatus | null;
  tenantId: string | null;
  agent: string | null;
  afterId: SessionId | null;
  limit: number;
  newestFirst: boolean;
  waitingForPrefix: string | null;
}

/** The most ids one `getSessions` call takes. */
export const maxSessionsPerRead = 1_000;

/** Checks a `getSessions` id list; repeats are dropped. */
export function checkSessionIds(ids: readonly SessionId[]): SessionId[] {
  if (!Array.isArray(ids) || ids.length > maxSessionsPerRead) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `getSessions takes an array of at most ${maxSessionsPerRead} session ids; read more in several calls`,
    );
  }
  return [...new Set(ids.map((id) => sessionId(id)))];
}

export function checkListQuery(query: ListSessionsQuery = {}): CheckedListQuery {
  if (query.status !== undefined && !sessionStatuses.has(query.status)) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `status must be one of ${[...sessionStatuses].join(', ')}`,
    );
  }
  return {
    status: query.status ?? null,
    tenantId: query.tenantId === undefined ? null : tenantId(query.tenantId),
    agent: query.agent === undefined ? null : checkName('agent', query.agent),
    afterId: query.afterId === undefined ? null : sessionId(query.afterId),
    limit: Math.min(checkCount('limit', query.limit ?? 100, 1), 1000),
    newestFirst: query.newestFirst === true,
    waitingForPrefix:
      query.waitingForPrefix === undefined
        ? null
        : checkName('waitingForPrefix', query.waitingForPrefix),
  };
}

const sha256Hex = /^[0-9a-f]{64}$/;

export function checkNewApiKey(key: NewApiKey): NewApiKey {
  if (typeof key !== 'object' || key === null) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      'an API key needs { id, tenantId, name, secretHash, role }',
    );
  }
  if (!isApiKeyRole(key.role)) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `API key role must be one of ${apiKeyRoles.join(', ')} (got ${JSON.stringify(String(key.role)).slice(0, 40)})`,
    );
  }
  if (typeof key.secretHash !== 'string' || !sha256Hex.test(key.secretHash)) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      'secretHash must be the SHA-256 of the secret, 64 lowercase hex characters',
    );
  }
  return {
    id: checkName('API key id', key.id),
    tenantId: tenantId(key.tenantId),
    name: checkName('API key name', key.name),
    secretHash: key.secretHash,
    role: key.role,
  };
}

export function checkBlobHash(hash: unknown): string {
  if (!isBlobHash(hash)) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `blob hash must be a SHA-256, 64 lowercase hex characters (got ${JSON.stringify(String(hash)).slice(0, 80)})`,
    );
  }
  return hash;
}

export function checkBlobBytes(bytes: unknown): Uint8Array {
  if (!(bytes instanceof Uint8Array)) {
    throw new LongrunError('INVALID_ARGUMENT', 'blob bytes must be a Uint8Array (or Buffer)');
  }
  return bytes;
}
