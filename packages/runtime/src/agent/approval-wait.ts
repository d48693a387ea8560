import { event, type NewEvent } from '@longrun/core';
import type { AgentRunContext } from './agent-context.ts';
import { approvalSignal, newApprovalId } from './approvals.ts';

/** A new approval's id and when it expires (null: never), by the agent's `approvalTtlMs`. */
export async function newApproval(
  ctx: AgentRunContext,
): Promise<{ approvalId: string; expiresAtMs: number | null }> {
  const ttlMs = ctx.agent.approvalTtlMs;
  return {
    approvalId: newApprovalId(),
    expiresAtMs: ttlMs === undefined ? null : (await ctx.store.nowMs()) + ttlMs,
  };
}

/**
 * Records `events` (the request, and what led to it) and parks the session until a person
 * decides approval `approvalId` or it expires: the lease is released, and the store wakes the
 * session for the decision's signal or at the expiry.
 */
export async function waitForApproval(
  ctx: AgentRunContext,
  approval: { approvalId: string; expiresAtMs: number | null },
  events: NewEvent[],
  reason: string,
): Promise<void> {
  const { approvalId, expiresAtMs } = approval;
  const signal = approvalSignal(approvalId);
  await ctx.writer.append(
    [
      ...events,
      event('wait.started', {
        waitId: approvalId,
        kind: 'signal',
        signal,
        ...(expiresAtMs === null ? {} : { untilMs: expiresAtMs }),
      }),
    ],
    {
      status: { status: 'waiting', waitingFor: signal, wakeAtMs: expiresAtMs, reason },
      releaseLease: true,
    },
  );
}
