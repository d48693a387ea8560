import type { JsonObject, JsonValue } from '@longrun/core';

/**
 * The key under which a tool call's unparseable arguments are kept. A model sometimes streams
 * arguments that are not JSON, or JSON that is not an object (`"src/a.ts"`, `[1]`). The port's
 * `ModelToolCall.args` is a JSON object, so such a call is kept — not dropped, not thrown — as
 * `{ [invalidToolArgsKey]: { raw, reason } }`. The harness checks `readInvalidToolArgs(call.args)`
 * before validating input and, when it is not null, answers the call with a tool error result
 * (`isError: true`) that quotes `reason`, so the model sees its mistake and can try again, and the
 * transcript still has exactly one result per call. The marker object is also what goes back to
 * the provider as that call's input on the next turn: every provider accepts a JSON object there.
 */
export const invalidToolArgsKey = '__longrun_invalid_args';

export interface InvalidToolArgs {
  /** The argument text exactly as the model produced it. */
  raw: string;
  /** Why it is not a JSON object, in words meant for the model. */
  reason: string;
}

/** Parses a tool call's argument text; never throws (see `invalidToolArgsKey`). */
export function parseToolArgs(raw: string): JsonObject {
  // Providers send an empty string for a call to a tool without parameters.
  if (raw.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return invalid(raw, `the arguments are not valid JSON (${detail})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return invalid(raw, 'the arguments must be a JSON object');
  }
  return value as JsonObject;
}

/** The unparseable arguments a call was kept with, or null when its args are a real object. */
export function readInvalidToolArgs(args: JsonObject): InvalidToolArgs | null {
  const marker: JsonValue | undefined = args[invalidToolArgsKey];
  if (marker === null || typeof marker !== 'object' || Array.isArray(marker)) return null;
  const { raw, reason } = marker;
  return typeof raw === 'string' && typeof reason === 'string' ? { raw, reason } : null;
}

function invalid(raw: string, reason: string): JsonObject {
  return { [invalidToolArgsKey]: { raw, reason } };
}
