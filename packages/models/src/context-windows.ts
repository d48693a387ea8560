/**
 * Context windows of the models longrun knows, in tokens, by model id as the model client names
 * it (`provider:model`, e.g. `anthropic:claude-sonnet-4-5`, or the bare model name). An agent's
 * `context.windowTokens` overrides this table; a model in neither is never compacted (the
 * provider's refusal, MODEL_CONTEXT_EXCEEDED, is then the only signal). Figures are the
 * providers' published input windows for the default tier.
 */
const knownWindows: readonly (readonly [prefix: string, tokens: number])[] = [
  ['claude-opus-4', 200_000],
  ['claude-sonnet-4', 200_000],
  ['claude-haiku-4', 200_000],
  ['claude-3-7-sonnet', 200_000],
  ['claude-3-5', 200_000],
  ['gpt-5', 400_000],
  ['gpt-4.1', 1_047_576],
  ['gpt-4o', 128_000],
  ['o3', 200_000],
  ['o4-mini', 200_000],
  ['gemini-2.5', 1_048_576],
  ['llama3.1', 128_000],
  // The scripted model and the wire server's default window.
  ['scripted', 128_000],
];

/** Answers already given: the harness asks at every step, for the few models a worker runs. */
const answered = new Map<string, number | null>();

/** The context window of `modelId` in tokens, or null when the table does not know it. */
export function knownContextWindow(modelId: string): number | null {
  const known = answered.get(modelId);
  if (known !== undefined) return known;
  const tokens = lookUpWindow(modelId);
  if (answered.size < 1_000) answered.set(modelId, tokens);
  return tokens;
}

function lookUpWindow(modelId: string): number | null {
  // `anthropic:claude-sonnet-4-5`, `openai.chat:gpt-5-mini`, `scripted:replay`: the model name is
  // after the provider's prefix, when there is one.
  const name = modelId.slice(modelId.indexOf(':') + 1).toLowerCase();
  for (const candidate of [name, modelId.toLowerCase()]) {
    for (const [prefix, tokens] of knownWindows) if (candidate.startsWith(prefix)) return tokens;
  }
  return null;
}
