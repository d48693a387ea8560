import { describe, expect, it } from 'vitest';
import type { Budget } from './budget-spec.ts';
import { startingBudget } from './creation-budget.ts';

const own: Budget = { steps: 3, toolCalls: 2, toolCallsPerTool: { shell: 1, http: 4 } };

describe('startingBudget', () => {
  it('holds a creation budget that may not raise to each limit the agent sets, and names what it lowered', () => {
    const asked: Budget = { steps: 40, toolCalls: 1, costUsd: 2, toolCallsPerTool: { shell: 9 } };
    expect(startingBudget(own, asked, false)).toEqual({
      budget: { steps: 3, toolCalls: 1, costUsd: 2, toolCallsPerTool: { shell: 1, http: 4 } },
      lowered: ['steps', 'toolCallsPerTool.shell'],
    });
  });

  it('lets one who may raise replace the limits it names, and keeps the rest of the agent’s', () => {
    const asked: Budget = { steps: 40, toolCallsPerTool: { shell: 9 } };
    expect(startingBudget(own, asked, true)).toEqual({
      budget: { steps: 40, toolCalls: 2, toolCallsPerTool: { shell: 9, http: 4 } },
      lowered: [],
    });
  });

  it('takes the creation budget whole when the agent sets none', () => {
    const asked: Budget = { steps: 9_000_000 };
    expect(startingBudget(undefined, asked, false)).toEqual({ budget: asked, lowered: [] });
  });
});
