import {
  event,
  isLongrunError,
  workerId,
  type ErrorCode,
  type Lease,
  type ManualClock,
  type NewEvent,
  type SessionStore,
} from '@longrun/core';
import type { ContractDatabase } from './harness.ts';

export const workerA = workerId('worker-a');
export const workerB = workerId('worker-b');
export const leaseMs = 10_000;

export async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error: unknown = await promise.then(
    () => new Error(`expected ${code}, but the call succeeded`),
    (e: unknown) => e,
  );
  if (!isLongrunError(error, code)) throw error instanceof Error ? error : new Error(String(error));
}

export function toolEvent(step: number): NewEvent {
  return event('tool.completed', {
    step,
    callIndex: 0,
    tool: 't',
    ok: true,
    output: { step },
    attempt: 1,
  });
}

export interface ContractContext {
  db: ContractDatabase;
  store: SessionStore;
  clock: ManualClock;
}

/** Creates a session and claims it with worker A. */
export async function claimedSession(store: SessionStore): Promise<Lease> {
  const session = await store.createSession({ agent: 'contract', input: { task: 'x' } });
  const lease = await store.claim(session.id, workerA, leaseMs);
  if (lease === null) throw new Error('a new session must be claimable');
  return lease;
}
