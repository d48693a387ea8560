import { LongrunError, event, type NewEvent, type OpenCall } from '@longrun/core';
import type { AgentRunContext } from './agent-context.ts';
import { readDecision } from './approvals.ts';

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
  const call = ctx.writer.state.calls.find(
    (c) => c.approval?.approvalId === wait.waitId && c.approval.status === 'requested',
  );
  const [signal] = await ctx.store.pendingSignals(ctx.writer.lease.sessionId, wait.signal);
  if (signal === undefined) {
    if (wait.untilMs !== undefined && now >= wait.untilMs) {
      const expired: NewEvent[] = [
        event('wait.resolved', { waitId: wait.waitId, signalId: null, payload: null }),
      ];
      if (call)
        expired.push(
          event('approval.denied', {
            approvalId: wait.waitId,
            by: 'longrun',
            reason: 'the approval request expired',
          }),
        );
      await ctx.writer.append(expired);
      return true;
    }
    return park(ctx, { waitingFor: wait.signal, wakeAtMs: wait.untilMs ?? null });
  }
  if (call === undefined) {
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
  return decide(ctx, call, signal.id, signal.payload);
}

/**
 * Applies a person's decision to the approval it names. A decision that is malformed, or made
 * about other arguments than the call's, is consumed and ignored: the session keeps waiting.
 */
async function decide(
  ctx: AgentRunContext,
  call: OpenCall,
  signalId: string,
  payload: Parameters<typeof readDecision>[0],
): Promise<boolean> {
  const approval = call.approval;
  if (approval === undefined)
    throw new LongrunError('INTERNAL', 'deciding a call that asked for no approval');
  const decision = readDecision(payload);
  if (
    decision === null ||
    (decision.argsHash !== undefined && decision.argsHash !== approval.argsHash)
  ) {
    await ctx.writer.append([], { consumeSignals: [signalId] });
    return true; // re-evaluated: parks again if nothing else arrived
  }
  const type = decision.decision === 'granted' ? 'approval.granted' : 'approval.denied';
  await ctx.writer.append(
    [
      event('wait.resolved', { waitId: approval.approvalId, signalId, payload }),
      event(type, { approvalId: approval.approvalId, by: decision.by, reason: decision.reason }),
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
      reason: ctx.writer.state.wait ? `waiting (${ctx.writer.state.wait.waitId})` : null,
    },
    releaseLease: true,
  });
  return false;
}
