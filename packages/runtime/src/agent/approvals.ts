import { createHash, randomUUID } from 'node:crypto';
import type { JsonValue } from '@longrun/core';

/** JSON with object keys sorted, so equal arguments always hash the same. */
function canonical(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k] as JsonValue)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Binds an approval to a call: the tool's name and the exact arguments. */
export function argsHash(tool: string, args: JsonValue): string {
  return createHash('sha256').update(tool).update('\0').update(canonical(args)).digest('hex');
}

export function newApprovalId(): string {
  return `apr_${randomUUID().replaceAll('-', '')}`;
}

/** What the name of every approval's signal starts with; a session waiting on a person waits for one. */
export const approvalSignalPrefix = 'approval:';

/** The signal a person's decision on an approval arrives as. */
export function approvalSignal(approvalId: string): string {
  return `${approvalSignalPrefix}${approvalId}`;
}

export interface ApprovalDecision {
  decision: 'granted' | 'denied';
  by: string;
  reason: string | null;
  /** If given, must equal the requested call's hash: a decision made about other arguments is refused. */
  argsHash?: string;
}

/** Reads a decision signal's payload; anything malformed counts as no decision at all. */
export function readDecision(payload: JsonValue): ApprovalDecision | null {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return null;
  const { decision, by, reason, argsHash: hash } = payload;
  if (decision !== 'granted' && decision !== 'denied') return null;
  if (typeof by !== 'string') return null;
  return {
    decision,
    by,
    reason: typeof reason === 'string' ? reason : null,
    ...(typeof hash === 'string' ? { argsHash: hash } : {}),
  };
}
