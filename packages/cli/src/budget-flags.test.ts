import { describe, expect, it } from 'vitest';
import { describeBreach, type Budget, type BudgetChange, type BudgetName } from '@longrun/core';
import { parseFlags, UsageError } from './args.ts';
import { budgetChangeFromFlags, budgetFlagOptions } from './budget-flags.ts';

/**
 * Every limit of a budget, as a pause names it. A `Record` over `keyof Budget`: a limit added to
 * core's Budget fails to compile here until its pause hint is checked too.
 */
const pauseNames: Record<keyof Budget, BudgetName> = {
  costUsd: 'costUsd',
  inputTokens: 'inputTokens',
  outputTokens: 'outputTokens',
  cacheTokens: 'cacheTokens',
  toolCalls: 'toolCalls',
  toolCallsPerTool: 'toolCallsPerTool.run_command',
  wallClockMs: 'wallClockMs',
  steps: 'steps',
  subAgents: 'subAgents',
};

/** The change `longrun sessions budget <id> …` makes from the words after `<id>`. */
function changeOf(words: string[]): BudgetChange {
  const { values } = parseFlags(['budget', 'ses_1', ...words], budgetFlagOptions, 'usage');
  return budgetChangeFromFlags(values);
}

describe('the raise a BUDGET_EXCEEDED pause names', () => {
  it.each(Object.entries(pauseNames))(
    'for %s is a command the CLI parses into a raise of that very limit',
    (limit, budget) => {
      const reason = describeBreach({ budget, limit: 3, used: 3, needed: 1 });
      const hint = /raise it \(longrun sessions budget <id> (.+?), or POST /.exec(reason)?.[1];
      expect(hint, reason).toBeDefined();
      const change = changeOf(hint!.replaceAll('<n>', '7').split(' '));
      expect(change).toEqual(
        limit === 'toolCallsPerTool' ? { toolCallsPerTool: { run_command: 7 } } : { [limit]: 7 },
      );
    },
  );

  it('the parser refuses a flag the CLI does not have (what the per-tool hint once named)', () => {
    expect(() => changeOf(['--tool-calls-per-tool', '7'])).toThrow(UsageError);
  });
});
