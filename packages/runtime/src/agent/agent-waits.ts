import { LongrunError, event, type NewEvent } from '@longrun/core';
import type { AgentRunContext } from './agent-context.ts';
import { expiredReason, readDecision } from './approvals.ts';
import { subAgentCallOf, subAgentWaitReason } from './held-sub-agents.ts';

/**
 * A claimed session that is waiting: resolves its wait if it can (a due timer, an arrived signal,
 * an approval decided or expired) and returns true, or parks it again and returns false.
 */
export async function resolveWait(ctx: AgentRunContext): Promise<boolean> {
  const wait = ctx.writer.state.wait;
  if (wait === null) throw new LongrunError('INTERNAL', 'waiting state without a wait');
  const now = await ctx.store.nowMs();
  if (wait.kind === 'timer') {
    if (now < wait.untilMs) return park(ctx, { wakeAtMs: wait.untilMs });
    await ctx.writer.append([
      event('wait.resolved', { waitId: wait.waitId, signalId: null, payload: null }),
    ]);
    return true;
  }
  const approval = requestedApproval(ctx, wait.waitId);
  const [signal] = await ctx.store.pendingSignals(ctx.writer.lease.sessionId, wait.signal);
  // A decision sent once the approval had expired does not count: the call is answered as
  // expired, whenever the worker gets to it (decideApproval refuses such a decision too; this
  // covers one sent in the instant between its check and the expiry).
  const late =
    approval !== undefined &&
    signal !== undefined &&
    wait.untilMs !== undefined &&
    signal.createdAtMs >= wait.untilMs;
  if (signal === undefined || late) {
    if (wait.untilMs !== undefined && now >= wait.untilMs) {
      const expired: NewEvent[] = [
        event('wait.resolved', { waitId: wait.waitId, signalId: null, payload: null }),
      ];
      if (approval !== undefined)
        expired.push(
          event('approval.denied', {
            approvalId: wait.waitId,
            by: 'longrun',
            reason: expiredReason,
          }),
        );
      await ctx.writer.append(expired, late ? { consumeSignals: [signal.id] } : {});
      return true;
    }
    return park(ctx, { waitingFor: wait.signal, wakeAtMs: wait.untilMs ?? null });
  }
  if (approval === undefined) {
    await ctx.writer.append(
      [
        event('wait.resolved', {
          waitId: wait.waitId,
          signalId: signal.id,
          payload: signal.payload,
        }),
      ],
      {
        consumeSignals: [signal.id],
      },
    );
    return true;
  }
  return decide(ctx, approval, signal.id, signal.payload);
}

interface RequestedApproval {
  approvalId: string;
  argsHash: string;
  /** A tool call's approval to run it: the only kind a grant can reach past its call. */
  scopable: boolean;
}

/** The approval the wait is for, while it is still requested: a tool call's or a model call's. */
function requestedApproval(ctx: AgentRunContext, waitId: string): RequestedApproval | undefined {
  const state = ctx.writer.state;
  const call = state.calls.find((c) => c.approval?.approvalId === waitId)?.approval;
  if (call !== undefined)
    return call.status === 'requested'
      ? { ...call, scopable: (call.purpose ?? 'run') === 'run' }
      : undefined;
  const model = state.modelApproval?.approvalId === waitId ? state.modelApproval : undefined;
  return model?.status === 'requested' ? { ...model, scopable: false } : undefined;
}

/**
 * Applies a person's decision to the approval it names. A decision that is malformed, or made
 * about other arguments than the call's, is consumed and ignored: the session keeps waiting.
 */
async function decide(
  ctx: AgentRunContext,
  approval: RequestedApproval,
  signalId: string,
  payload: Parameters<typeof readDecision>[0],
): Promise<boolean> {
  const decision = readDecision(payload);
  if (
    decision === null ||
    (decision.argsHash !== undefined && decision.argsHash !== approval.argsHash)
  ) {
    await ctx.writer.append([], { consumeSignals: [signalId] });
    return true; // re-evaluated: parks again if nothing else arrived
  }
  const { approvalId } = approval;
  const decided = { approvalId, by: decision.by, reason: decision.reason };
  // A scope past the call is kept only where it can apply (a tool call's approval to run it).
  const scope = approval.scopable ? (decision.scope ?? 'call') : 'call';
  await ctx.writer.append(
    [
      event('wait.resolved', { waitId: approvalId, signalId, payload }),
      decision.decision === 'granted'
        ? event('approval.granted', { ...decided, scope })
        : event('approval.denied', decided),
    ],
    { consumeSignals: [signalId] },
  );
  return true;
}

async function park(
  ctx: AgentRunContext,
  on: { waitingFor?: string; wakeAtMs?: number | null },
): Promise<false> {
  await ctx.writer.append([], {
    status: {
      status: 'waiting',
      waitingFor: on.waitingFor ?? null,
      wakeAtMs: on.wakeAtMs ?? null,
      reason: await parkedReason(ctx, on.waitingFor ?? null),
    },
    releaseLease: true,
  });
  return false;
}

/**
 * A `run_subagents` call's wait says again what the call said when it started waiting (which
 * sub-agent below it waits for a person, and what to do), derived afresh from the store: a claim
 * that does not end the wait (a worker restarted, a signal for something else) must not erase it.
 */
async function parkedReason(
  ctx: AgentRunContext,
  waitingFor: string | null,
): Promise<string | null> {
  const wait = ctx.writer.state.wait;
  if (wait === null) return null;
  if (waitingFor === null || subAgentCallOf(waitingFor) === null) return `waiting (${wait.waitId})`;
  return subAgentWaitReason(ctx.store, ctx.writer.lease.sessionId, waitingFor);
}
