import { failureCode, type PolicyLayer } from '@longrun/core';
import type { AgentDefinition } from '../agent/define-agent.ts';
import { allow, type Gate } from './gates.ts';
import { policyGate } from './policy-gate.ts';
import { resolveLoopControl } from './loop-control.ts';
import { stuckLoopGate } from './stuck-loop-gate.ts';
import { circuitBreakerGate } from './circuit-breaker-gate.ts';
import { budgetGate } from './budget-gate.ts';

/** Model turns an agent may take when it names no `maxSteps`. */
export const defaultMaxSteps = 100;
/** Model attempts per step an agent may make when it names no `maxModelAttempts`. */
export const defaultMaxModelAttempts = 6;

/** Denies the model call that would take a session past its agent's `maxSteps`. */
export const maxStepsGate: Gate = {
  name: 'maxSteps',
  beforeModelCall: ({ agent, state }) => {
    const maxSteps = agent.maxSteps ?? defaultMaxSteps;
    if (state.steps < maxSteps) return allow;
    return {
      decision: 'deny',
      code: failureCode.stepLimitReached,
      reason: `stopped at the step limit of ${maxSteps} model turns; raise maxSteps of agent ${agent.name} to let it go further`,
    };
  },
};

/**
 * Denies another attempt at a model call the model failed `maxModelAttempts` times in a row
 * (worker crashes mid-call do not count: they are not the model failing).
 */
export const maxModelAttemptsGate: Gate = {
  name: 'maxModelAttempts',
  beforeModelCall: ({ agent, state }) => {
    const failures = state.modelFailures ?? 0;
    if (failures < (agent.maxModelAttempts ?? defaultMaxModelAttempts)) return allow;
    const last = state.lastModelFailure;
    return {
      decision: 'deny',
      code: last?.code ?? 'MODEL_UNAVAILABLE',
      reason: `the model failed ${failures} times in a row; last: ${last?.message ?? 'unknown'}`,
    };
  },
};

/** Asks a person about each call of a tool that declares `needsApproval`. */
export const needsApprovalGate: Gate = {
  name: 'needsApproval',
  beforeToolCall: ({ tool, input }) => {
    const rule = tool.needsApproval;
    const needed = typeof rule === 'function' ? rule(input) : rule === true;
    return needed ? { decision: 'ask', reason: `a person approves each ${tool.name} call` } : allow;
  },
};

/**
 * The chain the harness asks: the limits first, then the policy (when the session has one:
 * `policyLayers`), loop control (unless the agent turned it off: it watches the calls the policy
 * lets through, and comes before `needsApproval` so a person is not asked to approve a call that
 * repeats a loop), the budget (after the policy and loop control: a call they stop is never made,
 * so it spends nothing; before the approvals: a person is not asked about a call the budget
 * would not let run), the tools' own approvals, and the agent's own gates in its order.
 */
export function gateChain(
  agent: AgentDefinition,
  policies: readonly PolicyLayer[] = [],
): readonly Gate[] {
  const loops = resolveLoopControl(agent.name, agent.loopControl);
  return [
    maxStepsGate,
    maxModelAttemptsGate,
    ...(policies.length === 0 ? [] : [policyGate(policies)]),
    ...(loops === null ? [] : [stuckLoopGate(loops), circuitBreakerGate(loops)]),
    budgetGate,
    needsApprovalGate,
    ...(agent.gates ?? []),
  ];
}
