import { event, failureCode, type NewEvent } from '@longrun/core';
import type { AgentRunContext } from '../agent/agent-context.ts';
import type { RunOutcome } from '../session-runner.ts';
import type { GateDecision, ModelGateDecision, Verdict } from './gates.ts';

/** The record of a decision other than allow: the gate, where, what, why. */
export function gateDecided(
  verdict: Verdict<GateDecision>,
  step: number,
  callIndex?: number,
): NewEvent {
  return event('gate.decided', {
    gate: verdict.gate,
    point: verdict.point,
    decision: verdict.decision.decision,
    reason: verdict.decision.reason,
    step,
    ...(callIndex === undefined ? {} : { callIndex }),
  });
}

/** Parks the session as `paused` for a person, with the decision that did it. */
export async function pauseForGate(
  ctx: AgentRunContext,
  decided: NewEvent,
  reason: string,
): Promise<'paused'> {
  await ctx.writer.append([decided], {
    status: { status: 'paused', reason },
    releaseLease: true,
  });
  return 'paused';
}

/** Carries out a gate's refusal of the next model call: the session fails, or pauses. */
export async function refuseModelCall(
  ctx: AgentRunContext,
  verdict: Verdict<ModelGateDecision>,
): Promise<RunOutcome> {
  const step = ctx.writer.state.steps + 1;
  const decided = gateDecided(verdict, step);
  const { decision } = verdict;
  if (decision.decision === 'pause') return pauseForGate(ctx, decided, decision.reason);
  await ctx.writer.append(
    [
      decided,
      event('session.failed', {
        code: decision.code ?? failureCode.gateDenied,
        message: decision.reason,
      }),
    ],
    { status: { status: 'failed', reason: decision.reason }, releaseLease: true },
  );
  return 'failed';
}
