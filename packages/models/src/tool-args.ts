import { invalidToolArgsKey, type JsonObject } from '@longrun/core';

export { invalidToolArgsKey, readInvalidToolArgs, type InvalidToolArgs } from '@longrun/core';

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

function invalid(raw: string, reason: string): JsonObject {
  return { [invalidToolArgsKey]: { raw, reason } };
}
