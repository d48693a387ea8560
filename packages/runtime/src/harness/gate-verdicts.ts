import { event, failureCode, type NewEvent, type SessionFailureCode } from '@longrun/core';
import type { AgentRunContext } from '../agent/agent-context.ts';
import type { RunOutcome } from '../run-outcome.ts';
import { modelCallHash } from '../agent/approvals.ts';
import { newApproval, waitForApproval } from '../agent/approval-wait.ts';
import type { GateDecision, Passed, Verdict } from './gates.ts';

/**
 * The record of a decision other than allow: the gate, where, what, why (`tool`: the tool call's
 * tool, for a gate that records as `policy.decided`).
 */
export function gateDecided(
  verdict: Verdict<GateDecision>,
  step: number,
  callIndex?: number,
  tool?: string,
): NewEvent {
  if (verdict.records === 'policy.decided' && callIndex !== undefined && tool !== undefined) {
    const { decision } = verdict;
    if (decision.decision !== 'pause') return policyDecided(decision, step, callIndex, tool, false);
  }
  return event('gate.decided', {
    gate: verdict.gate,
    point: verdict.point,
    decision: verdict.decision.decision,
    reason: verdict.decision.reason,
    step,
    ...(callIndex === undefined ? {} : { callIndex }),
    ...('evidence' in verdict.decision && verdict.decision.evidence !== undefined
      ? { evidence: verdict.decision.evidence }
      : {}),
    ...(verdict.decision.decision === 'pause' && verdict.decision.code !== undefined
      ? { code: verdict.decision.code }
      : {}),
  });
}

/** The records of the decisions that let a tool call go ahead (`checkToolCall`'s `passed`). */
export function passedDecided(
  passed: readonly Passed[],
  step: number,
  callIndex: number,
  tool: string,
): NewEvent[] {
  return passed.map((p) => policyDecided(p.decision, step, callIndex, tool, p.approved));
}

function policyDecided(
  decided: Exclude<GateDecision, { decision: 'pause' }>,
  step: number,
  callIndex: number,
  tool: string,
  approved: boolean,
): NewEvent {
  return event('policy.decided', {
    point: 'tool.call',
    decision: decided.decision,
    layer: decided.rule?.layer ?? 'none',
    rule: decided.rule?.rule ?? 'none',
    reason: decided.reason ?? '',
    step,
    callIndex,
    tool,
    ...(approved ? { approved: true as const } : {}),
  });
}

/** Parks the session as `paused` for a person, with the decision that did it. */
export async function pauseForGate(
  ctx: AgentRunContext,
  decided: readonly NewEvent[],
  reason: string,
): Promise<'paused'> {
  await ctx.writer.append([...decided], {
    status: { status: 'paused', reason },
    releaseLease: true,
  });
  return 'paused';
}

/**
 * Carries out a gate's refusal of the next model call: the session fails, pauses, or waits for a
 * person to approve the call (and fails if the person denies it).
 */
export async function refuseModelCall(
  ctx: AgentRunContext,
  verdict: Verdict<GateDecision>,
): Promise<RunOutcome> {
  const step = ctx.writer.state.steps + 1;
  const decided = gateDecided(verdict, step);
  const { decision } = verdict;
  if (decision.decision === 'pause') return pauseForGate(ctx, [decided], decision.reason);
  if (decision.decision === 'ask') {
    const asked = ctx.writer.state.modelApproval;
    if (asked?.step !== step || asked.status !== 'denied') {
      await askForModelCall(ctx, verdict.gate, decision.reason, step, decided);
      return 'waiting';
    }
    const why = asked.reason === null ? '' : `: ${asked.reason}`;
    return failSession(
      ctx,
      decided,
      failureCode.gateDenied,
      `the model call of step ${step} was not approved (gate ${verdict.gate} asked: ${decision.reason})${why}`,
    );
  }
  return failSession(ctx, decided, decision.code ?? failureCode.gateDenied, decision.reason);
}

async function failSession(
  ctx: AgentRunContext,
  decided: NewEvent,
  code: SessionFailureCode,
  message: string,
): Promise<'failed'> {
  await ctx.writer.append([decided, event('session.failed', { code, message })], {
    status: { status: 'failed', reason: message },
    releaseLease: true,
  });
  return 'failed';
}

/** Parks the session until a person approves or denies the model call of `step`. */
async function askForModelCall(
  ctx: AgentRunContext,
  gate: string,
  reason: string,
  step: number,
  decided: NewEvent,
): Promise<void> {
  const approval = await newApproval(ctx);
  const request = event('approval.requested', {
    ...approval,
    point: 'model.call',
    step,
    gate,
    reason,
    argsHash: modelCallHash(step),
  });
  await waitForApproval(
    ctx,
    approval,
    [decided, request],
    `waiting for approval ${approval.approvalId} of the model call of step ${step}: ${reason}`,
  );
}
