import { evaluatePolicy, writableDirectories, type PolicyLayer } from '@longrun/core';
import type { AgentDefinition } from '../agent/define-agent.ts';
import type { Gate } from './gates.ts';

/**
 * The policies that bound a session's tool calls (DESIGN §7): its tenant's (an upper bound set by
 * the operator) and its agent's. Empty when neither is set: then nothing is checked.
 */
export function policyLayers(
  agent: AgentDefinition,
  tenantPolicy: PolicyLayer['policy'] | undefined,
): PolicyLayer[] {
  const layers: PolicyLayer[] = [];
  if (tenantPolicy !== undefined) layers.push({ name: 'tenant', policy: tenantPolicy });
  if (agent.policy !== undefined) layers.push({ name: 'agent', policy: agent.policy });
  return layers;
}

/**
 * Asks the policy about every tool call, with the workspace paths and hosts the tool says the
 * call touches (`Tool.touches`). Every decision is recorded as `policy.decided`. A tool whose
 * `touches` throws on the input is denied: what it would touch is unknown.
 */
export function policyGate(layers: readonly PolicyLayer[]): Gate {
  return {
    name: 'policy',
    recordsEveryDecision: 'policy.decided',
    beforeToolCall: ({ tool, input }) => {
      let touched;
      try {
        touched = tool.touches?.(input);
      } catch (error) {
        return {
          decision: 'deny',
          reason: `could not tell what the ${tool.name} call touches: ${(error as Error).message}`,
          rule: { layer: 'tool', rule: 'touches' },
        };
      }
      const decided = evaluatePolicy(layers, {
        kind: 'tool',
        tool: tool.name,
        args: input,
        ...touched,
      });
      return {
        decision: decided.decision,
        reason: decided.reason,
        rule: { layer: decided.layer, rule: decided.rule },
      };
    },
  };
}

/**
 * Whether the session's sandbox may share the host's network: only when every policy allows
 * every host (`hosts: ['*']`). Until an egress proxy enforces hosts one by one, a policy that
 * names some hosts gets a sandbox with no network at all.
 */
export function policyAllowsAnyHost(layers: readonly PolicyLayer[]): boolean {
  return layers.every((l) => (l.policy.hosts ?? []).some((h) => h === '*' || h === '**'));
}

/**
 * What a session's sandbox may write under its policies: the directories every policy lets be
 * written whole (`writableDirectories`); the rest of the workspace is mounted read-only. Nothing
 * when there is no policy, or when it allows the whole workspace.
 */
export function writableUnder(layers: readonly PolicyLayer[]): { writableDirs?: string[] } {
  const dirs = writableDirectories(layers);
  return dirs === null || dirs.includes('.') ? {} : { writableDirs: dirs };
}
