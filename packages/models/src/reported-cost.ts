import type { ProviderMetadata } from '@longrun/core';

/**
 * What the provider says a call cost, in US dollars, from the response's provider metadata: the
 * AI Gateway's `gateway.cost` (a decimal string) or OpenRouter's `openrouter.usage.cost` (a
 * number). Budgets charge it instead of list price; undefined when the response has none.
 */
export function reportedCostUsd(metadata: ProviderMetadata | undefined): number | undefined {
  const gateway = metadata?.gateway?.cost;
  const openrouterUsage = metadata?.openrouter?.usage;
  const openrouter =
    typeof openrouterUsage === 'object' &&
    openrouterUsage !== null &&
    !Array.isArray(openrouterUsage)
      ? openrouterUsage.cost
      : undefined;
  for (const value of [gateway, openrouter]) {
    const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof n === 'number' && Number.isFinite(n) && n >= 0) return n;
  }
  return undefined;
}
