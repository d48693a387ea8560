import { APICallError, AISDKError } from '@ai-sdk/provider';
import { LongrunError } from '@longrun/core';

/**
 * Translation of provider failures into the model port's three codes — the one place where HTTP
 * statuses and SDK error classes become LongrunErrors.
 *
 * | what failed                                    | code                 | retryable |
 * | ---------------------------------------------- | -------------------- | --------- |
 * | HTTP 408, 409, 429, any 5xx                    | MODEL_UNAVAILABLE    | yes       |
 * | no HTTP answer at all (refused, reset, DNS)    | MODEL_UNAVAILABLE    | yes       |
 * | HTTP 400/413 saying the prompt is too long      | MODEL_CONTEXT_EXCEEDED | no      |
 * | any other HTTP 4xx (bad key, bad request)      | MODEL_REJECTED       | no        |
 * | the SDK refused to build the request           | MODEL_REJECTED       | no        |
 * | the stream broke, was cut, or sent an error    | MODEL_OUTPUT_INVALID | yes       |
 *
 * 408 and 409 follow the SDK's own judgement (OpenAI answers 409 to a request that collided with
 * another); everything else 4xx is the request's fault and will fail again unchanged.
 */
const unavailableStatuses = new Set([408, 409, 429]);

export function isUnavailableStatus(status: number): boolean {
  return unavailableStatuses.has(status) || status >= 500;
}

/** Failure of `doStream` itself: the request was refused or never answered. */
export function requestError(error: unknown, what: string, nowMs: number): LongrunError {
  if (APICallError.isInstance(error)) {
    const status = error.statusCode;
    const details: Record<string, unknown> = { statusCode: status ?? null };
    const retryAfterMs = retryAfterFromHeaders(error.responseHeaders, nowMs);
    if (retryAfterMs !== null) details.retryAfterMs = retryAfterMs;
    if (status === undefined || isUnavailableStatus(status)) {
      const why = status === undefined ? 'could not be reached' : `answered ${status}`;
      return new LongrunError('MODEL_UNAVAILABLE', `${what} ${why}: ${error.message}`, {
        cause: error,
        details,
      });
    }
    if (contextExceeded(status, error.responseBody)) {
      return new LongrunError(
        'MODEL_CONTEXT_EXCEEDED',
        `${what} refused the request as longer than its context window (${status}): ${error.message}`,
        { cause: error, details },
      );
    }
    return new LongrunError(
      'MODEL_REJECTED',
      `${what} refused the request (${status}): ${error.message}`,
      {
        cause: error,
        details,
      },
    );
  }
  // Prompt conversion and option checks throw AISDKErrors (InvalidPromptError,
  // UnsupportedFunctionalityError) before anything is sent: the same request fails the same way.
  if (AISDKError.isInstance(error)) {
    return new LongrunError(
      'MODEL_REJECTED',
      `${what} cannot send this request: ${error.message}`,
      {
        cause: error,
      },
    );
  }
  // Anything else (a fetch TypeError the SDK did not wrap, a provider bug) is most likely the
  // network; a retry is the cheap way to find out.
  return new LongrunError(
    'MODEL_UNAVAILABLE',
    `${what} failed before answering: ${message(error)}`,
    {
      cause: error,
    },
  );
}

/**
 * Whether a 4xx answer says the prompt exceeds the model's context window, in the words of the
 * providers' error bodies: OpenAI's `context_length_exceeded` code, Anthropic's
 * `invalid_request_error` "prompt is too long: N tokens > M maximum", and the phrases
 * OpenAI-compatible servers use.
 */
export function contextExceeded(status: number, responseBody: string | undefined): boolean {
  if (status !== 400 && status !== 413) return false;
  if (responseBody === undefined) return false;
  return /context_length_exceeded|prompt is too long|maximum context length|context window/i.test(
    responseBody,
  );
}

/** Failure while reading the stream: the answer started but is not whole. */
export function streamError(error: unknown, what: string): LongrunError {
  return new LongrunError('MODEL_OUTPUT_INVALID', `${what} stream broke off: ${message(error)}`, {
    cause: error,
  });
}

/**
 * How long the provider asked us to wait, in ms, from `retry-after-ms` (OpenAI; fractional ms)
 * or `retry-after` (seconds, or an HTTP date measured against `nowMs`). Null when neither says.
 */
export function retryAfterFromHeaders(
  headers: Record<string, string> | undefined,
  nowMs: number,
): number | null {
  if (headers === undefined) return null;
  const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v.trim()]));
  const ms = Number(lower.get('retry-after-ms') ?? Number.NaN);
  if (Number.isFinite(ms) && ms >= 0) return Math.ceil(ms);
  const value = lower.get('retry-after');
  if (value === undefined || value === '') return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds * 1000);
  const dateMs = Date.parse(value);
  return Number.isNaN(dateMs) ? null : Math.max(0, dateMs - nowMs);
}

function message(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}
