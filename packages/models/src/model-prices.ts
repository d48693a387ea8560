import type { ModelPrice } from '@longrun/core';

/**
 * List prices of the models longrun knows, US dollars per million tokens, by model id prefix as
 * the context-window table names them (`provider:model` or the bare name; the first prefix that
 * matches wins, so a more specific id comes first). Published standard-tier prices for prompts
 * within the base context tier, as of late 2025; cached input is priced as the provider prices a
 * cache read (and, for Anthropic, a 5-minute cache write). An agent's or worker's `prices`
 * override this table; a response that reports its own cost (`usage.costUsd`) overrides both.
 * Models priced by nobody (local models, the scripted model) are absent: a session with a
 * `costUsd` budget on such a model needs a price given, or it is refused (see `priceOf`).
 */
const knownPrices: readonly (readonly [prefix: string, price: ModelPrice])[] = [
  ['claude-opus-4-5', anthropic(5, 25)],
  ['claude-opus-4', anthropic(15, 75)],
  ['claude-sonnet-4', anthropic(3, 15)],
  ['claude-haiku-4', anthropic(1, 5)],
  ['claude-3-7-sonnet', anthropic(3, 15)],
  ['claude-3-5-haiku', anthropic(0.8, 4)],
  ['claude-3-5-sonnet', anthropic(3, 15)],
  ['gpt-5-nano', cachedAt(0.05, 0.4, 0.005)],
  ['gpt-5-mini', cachedAt(0.25, 2, 0.025)],
  ['gpt-5', cachedAt(1.25, 10, 0.125)],
  ['gpt-4.1-nano', cachedAt(0.1, 0.4, 0.025)],
  ['gpt-4.1-mini', cachedAt(0.4, 1.6, 0.1)],
  ['gpt-4.1', cachedAt(2, 8, 0.5)],
  ['gpt-4o-mini', cachedAt(0.15, 0.6, 0.075)],
  ['gpt-4o', cachedAt(2.5, 10, 1.25)],
  ['o3', cachedAt(2, 8, 0.5)],
  ['o4-mini', cachedAt(1.1, 4.4, 0.275)],
  ['gemini-2.5-flash-lite', cachedAt(0.1, 0.4, 0.025)],
  ['gemini-2.5-flash', cachedAt(0.3, 2.5, 0.075)],
  ['gemini-2.5-pro', cachedAt(1.25, 10, 0.31)],
];

/** Anthropic's rates: cache reads at a tenth of input, 5-minute cache writes at 1.25×. */
function anthropic(input: number, output: number): ModelPrice {
  return {
    inputUsdPerMTok: input,
    outputUsdPerMTok: output,
    cacheReadUsdPerMTok: input / 10,
    cacheWriteUsdPerMTok: input * 1.25,
  };
}

/** OpenAI's and Google's rates: cached input at its own price, no charge to write the cache. */
function cachedAt(input: number, output: number, cached: number): ModelPrice {
  return {
    inputUsdPerMTok: input,
    outputUsdPerMTok: output,
    cacheReadUsdPerMTok: cached,
    cacheWriteUsdPerMTok: input,
  };
}

/** The shipped list price of `modelId`, or null when the table does not know it. */
export function knownPrice(modelId: string): ModelPrice | null {
  const name = modelId.slice(modelId.indexOf(':') + 1).toLowerCase();
  for (const candidate of [name, modelId.toLowerCase()]) {
    for (const [prefix, price] of knownPrices) if (candidate.startsWith(prefix)) return price;
  }
  return null;
}

/**
 * The price of `modelId`: from `overrides` (by exact id, then by the id without its provider
 * prefix), else the shipped table; null when neither knows it.
 */
export function priceOf(
  modelId: string,
  overrides: Readonly<Record<string, ModelPrice>> | undefined,
): ModelPrice | null {
  const bare = modelId.slice(modelId.indexOf(':') + 1);
  return overrides?.[modelId] ?? overrides?.[bare] ?? knownPrice(modelId);
}
