import { describe, expect, it } from 'vitest';
import type { BudgetView } from '../ui/api-types.ts';
import {
  budgetChange,
  budgetRows,
  pausedBudget,
  sessionCost,
  suggestedRaise,
} from '../ui/budget-panel.ts';

const view: BudgetView = {
  limits: { costUsd: 3, steps: 10, toolCallsPerTool: { shell: 4 } },
  used: {
    costUsd: 1.25,
    inputTokens: 900,
    outputTokens: 100,
    cacheTokens: 0,
    toolCalls: 5,
    steps: 7,
  },
  reservedUsd: 0.5,
  remaining: { costUsd: 1.75, steps: 3, 'toolCallsPerTool.shell': 1 },
};

describe('the budget panel', () => {
  it('shows each limit set: used of limit and what is left, and what open reservations hold', () => {
    expect(budgetRows(view)).toEqual([
      ['Budget costUsd', '$1.25 of $3.00 ($1.75 left)', 'budget-costUsd'],
      ['Budget toolCallsPerTool.shell', '3 of 4', 'budget-toolCallsPerTool.shell'],
      ['Budget steps', '7 of 10 (3 left)', 'budget-steps'],
      ['Reserved', '$0.5000', 'budget-reserved'],
    ]);
    expect(budgetRows(null)).toEqual([]);
  });

  it('reads the limit a pause names and builds the raise for it', () => {
    const reason = 'BUDGET_EXCEEDED: the toolCallsPerTool.shell budget of 4 is used up (4 used)';
    expect(pausedBudget(reason)).toBe('toolCallsPerTool.shell');
    expect(pausedBudget('paused for another reason')).toBeNull();
    expect(budgetChange('toolCallsPerTool.shell', 8)).toEqual({ toolCallsPerTool: { shell: 8 } });
    expect(budgetChange('costUsd', 6)).toEqual({ costUsd: 6 });
    expect(suggestedRaise(view, 'toolCallsPerTool.shell')).toBe(8);
    expect(suggestedRaise(view, 'costUsd')).toBe(6);
    expect(suggestedRaise(view, 'inputTokens')).toBe(1);
  });

  it("costs a session at the server's prices, else at what its budget charged", () => {
    expect(sessionCost({ costUsd: 0.5, budget: view })).toBe(0.5);
    expect(sessionCost({ costUsd: null, budget: view })).toBe(1.25);
    expect(sessionCost({ costUsd: null, budget: null })).toBeNull();
  });
});
