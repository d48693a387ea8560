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

/** Binds an approval to the model call of a step (there are no arguments to hash). */
export function modelCallHash(step: number): string {
  return argsHash('model.call', { step });
}

/** The reason of the `approval.denied` the worker records when nobody decided in time. */
export const expiredReason = 'the approval request expired';

export function newApprovalId(): string {
  return `apr_${randomUUID().replaceAll('-', '')}`;
}

// The approval signal and its payload are in core's signal table.
export {
  approvalSignal,
  approvalSignalPrefix,
  readDecision,
  type ApprovalDecision,
} from '@longrun/core';
