import { describe, expect, it } from 'vitest';
import { reportedCostUsd } from './reported-cost.ts';

describe('the cost a provider reports', () => {
  it('reads the AI Gateway and OpenRouter figures, and nothing else', () => {
    expect(reportedCostUsd({ gateway: { cost: '0.0001395' } })).toBe(0.0001395);
    expect(reportedCostUsd({ openrouter: { usage: { cost: 0.002, totalTokens: 10 } } })).toBe(
      0.002,
    );
    expect(reportedCostUsd({ gateway: { cost: 'n/a' } })).toBeUndefined();
    expect(reportedCostUsd({ gateway: { cost: -1 } })).toBeUndefined();
    expect(reportedCostUsd({ anthropic: { cacheCreationInputTokens: 5 } })).toBeUndefined();
    expect(reportedCostUsd(undefined)).toBeUndefined();
  });
});
