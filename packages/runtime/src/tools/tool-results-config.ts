import { LongrunError } from '@longrun/core';

/** How large tool outputs are kept (`defineAgent({ toolResults })`). */
export interface ToolResultsConfig {
  /** An output whose JSON text is longer goes to the blob store (default 32,000 characters). */
  maxInlineChars?: number;
  /** Characters of it the model sees at once: the first ones, and each page (default 8,000). */
  viewChars?: number;
}

export const readToolResultName = 'read_tool_result';
const defaults = { maxInlineChars: 32_000, viewChars: 8_000 };

export function toolResultLimits(
  config: ToolResultsConfig | undefined,
): Required<ToolResultsConfig> {
  const out = { ...defaults, ...config };
  for (const [key, value] of Object.entries(out)) {
    if (!Number.isSafeInteger(value) || value < 100) {
      throw new LongrunError('INVALID_ARGUMENT', `toolResults.${key} must be a whole number ≥ 100`);
    }
  }
  if (out.viewChars > out.maxInlineChars) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      'toolResults.viewChars must not pass maxInlineChars',
    );
  }
  return out;
}

/** Checks an agent's `toolResults` now (at defineAgent), so a bad one fails early. */
export function checkToolResults(config: ToolResultsConfig | false | undefined): void {
  if (config !== false) toolResultLimits(config);
}
