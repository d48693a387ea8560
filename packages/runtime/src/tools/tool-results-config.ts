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
const defaults = { maxInlineChars: 32_000, viewChars: 8_000 };

export function toolResultLimits(
  config: ToolResultsConfig | undefined,
  field: 'toolResults' | 'toolInputs' = 'toolResults',
): Required<ToolResultsConfig> {
  const out = { ...defaults, ...config };
  for (const [key, value] of Object.entries(out)) {
    if (!Number.isSafeInteger(value) || value < 100) {
      throw new LongrunError('INVALID_ARGUMENT', `${field}.${key} must be a whole number ≥ 100`);
    }
  }
  if (out.viewChars > out.maxInlineChars) {
    throw new LongrunError('INVALID_ARGUMENT', `${field}.viewChars must not pass maxInlineChars`);
  }
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
