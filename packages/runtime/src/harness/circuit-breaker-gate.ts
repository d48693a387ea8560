import { allow, type Gate } from './gates.ts';
import type { LoopControl } from './loop-control.ts';

/** Failed runs whose errors the evidence carries (each cut to 200 characters by the fold). */
const errorsShown = 3;

/**
 * A circuit breaker on each tool's error rate: before a call of a tool that failed `failures`
 * of its latest `within` runs (since the session was last resumed), the session is paused with
 * the latest errors as evidence. Only runs count (see `ToolRun`): a call a gate refused or
 * whose arguments did not parse never ran, and a typed refusal is the request's fault, not the
 * tool's. Resuming is the half-open state: the tool gets its next `within` runs afresh.
 */
export function circuitBreakerGate(control: LoopControl): Gate {
  const rule = control.circuitBreaker;
  return {
    name: 'circuitBreaker',
    beforeToolCall: ({ agent, state, tool }) => {
      const loop = state.loop;
      if (rule === null || loop === undefined) return allow;
      const runs = loop.tools.find((t) => t.tool === tool.name)?.runs.slice(-rule.within) ?? [];
      const failed = runs.filter((r) => !r.ok);
      if (failed.length < rule.failures) return allow;
      const errors = failed.slice(-errorsShown).map((r) => ({
        step: r.step,
        callIndex: r.callIndex,
        seq: r.seq,
        error: r.error ?? '',
      }));
      const last = errors.at(-1)?.error ?? '';
      return {
        decision: 'pause',
        reason: `circuit breaker: ${tool.name} failed ${failed.length} of its latest ${runs.length} runs (last: ${last}); fix what it depends on, then resume the session (its runs are counted afresh), or change loopControl.circuitBreaker of agent ${agent.name}`,
        evidence: {
          rule: 'circuitBreaker',
          tool: tool.name,
          failures: failed.length,
          runs: runs.length,
          within: rule.within,
          errors,
        },
      };
    },
  };
}
