import { LongrunError } from '@longrun/core';

/**
 * How large tool outputs (`defineAgent({ toolResults })`) or large tool call arguments
 * (`defineAgent({ toolInputs })`) are kept.
 */
export interface ToolResultsConfig {
  /** An output whose JSON text is longer goes to the blob store (default 32,000 characters). */
  maxInlineChars?: number;
  /** Characters of it the model sees at once: the first ones, and each page (default 8,000). */
  viewChars?: number;
}

/** The same limits, for the arguments the model writes into a tool call. */
export type ToolInputsConfig = ToolResultsConfig;

export const readToolResultName = 'read_tool_result';
const defaults: Readonly<Required<ToolResultsConfig>> = Object.freeze({
  maxInlineChars: 32_000,
  viewChars: 8_000,
});

/** Limits already checked, by the config they came from (asked for at every step). */
const checkedLimits = new WeakMap<ToolResultsConfig, Readonly<Required<ToolResultsConfig>>>();

export function toolResultLimits(
  config: ToolResultsConfig | undefined,
  field: 'toolResults' | 'toolInputs' = 'toolResults',
): Readonly<Required<ToolResultsConfig>> {
  if (config === undefined) return defaults;
  const known = checkedLimits.get(config);
  // A config changed after it was checked is checked again.
  if (
    known !== undefined &&
    known.maxInlineChars === (config.maxInlineChars ?? defaults.maxInlineChars) &&
    known.viewChars === (config.viewChars ?? defaults.viewChars)
  )
    return known;
  const out = { ...defaults, ...config };
  for (const [key, value] of Object.entries(out)) {
    if (!Number.isSafeInteger(value) || value < 100) {
      throw new LongrunError('INVALID_ARGUMENT', `${field}.${key} must be a whole number ≥ 100`);
    }
  }
  if (out.viewChars > out.maxInlineChars) {
    throw new LongrunError('INVALID_ARGUMENT', `${field}.viewChars must not pass maxInlineChars`);
  }
  checkedLimits.set(config, out);
  return out;
}

/** Checks an agent's `toolResults` and `toolInputs` now (at defineAgent), so a bad one fails early. */
export function checkToolResults(agent: {
  toolResults?: ToolResultsConfig | false;
  toolInputs?: ToolInputsConfig | false;
}): void {
  if (agent.toolResults !== false) toolResultLimits(agent.toolResults);
  if (agent.toolInputs !== false) toolResultLimits(agent.toolInputs, 'toolInputs');
}
