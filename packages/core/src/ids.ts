import { randomBytes, randomUUID } from 'node:crypto';
import { LongrunError } from './errors.ts';

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

export type SessionId = Brand<string, 'SessionId'>;
export type WorkerId = Brand<string, 'WorkerId'>;

// Ids are URL- and path-safe so that they can never be used for traversal in a file name or route.
const idPattern = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

function checkId(kind: string, value: unknown): string {
  if (typeof value !== 'string' || !idPattern.test(value) || value.includes('..')) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `${kind} must be 1–128 characters of letters, digits, '_', '-', '.' or ':' (got ${JSON.stringify(String(value)).slice(0, 80)})`,
    );
  }
  return value;
}

export function sessionId(value: unknown): SessionId {
  return checkId('session id', value) as SessionId;
}

export function workerId(value: unknown): WorkerId {
  return checkId('worker id', value) as WorkerId;
}

export function tenantId(value: unknown): string {
  return checkId('tenant id', value);
}

/** The tenant of sessions created without one (the embedded store, `longrun dev` without keys). */
export const defaultTenantId = 'default';

export function newSessionId(): SessionId {
  return `ses_${randomUUID().replaceAll('-', '')}` as SessionId;
}

/** A schedule's id: the same safe alphabet as a session's. */
export function scheduleId(value: unknown): string {
  return checkId('schedule id', value);
}

export function newScheduleId(): string {
  return `sch_${randomUUID().replaceAll('-', '')}`;
}

export function newWorkerId(): WorkerId {
  return `wkr_${randomUUID().replaceAll('-', '').slice(0, 16)}` as WorkerId;
}

/**
 * This process's append ids start with 96 random bits (unique to the process, and to each thread:
 * a module is loaded per thread); a count follows. A fresh UUID per append cost ~5 µs of a step.
 */
const appendIdPrefix = `apd_${randomBytes(12).toString('hex')}_`;
let appendIdCount = 0;

/** A writer's id for one append (AppendRequest.appendId), unique to it across processes. */
export function newAppendId(): string {
  return appendIdPrefix + (appendIdCount++).toString(36);
}
