import { APICallError, InvalidPromptError } from '@ai-sdk/provider';
import { describe, expect, it } from 'vitest';
import { requestError, retryAfterFromHeaders } from './index.ts';

const nowMs = Date.UTC(2025, 9, 25, 12, 0, 0);

function apiError(statusCode: number | undefined, headers?: Record<string, string>): APICallError {
  return new APICallError({
    message: 'boom',
    url: 'http://127.0.0.1/v1/x',
    requestBodyValues: {},
    statusCode,
    responseHeaders: headers,
  });
}

describe('retryAfterFromHeaders', () => {
  it('reads retry-after-ms first, then retry-after in seconds or as an HTTP date', () => {
    expect(retryAfterFromHeaders({ 'retry-after-ms': '250.2', 'retry-after': '9' }, nowMs)).toBe(
      251,
    );
    expect(retryAfterFromHeaders({ 'Retry-After': '1.5' }, nowMs)).toBe(1500);
    const inTenSeconds = new Date(nowMs + 10_000).toUTCString();
    expect(retryAfterFromHeaders({ 'retry-after': inTenSeconds }, nowMs)).toBe(10_000);
    expect(
      retryAfterFromHeaders({ 'retry-after': new Date(nowMs - 5000).toUTCString() }, nowMs),
    ).toBe(0);
  });

  it('is null when no header says, or says nonsense', () => {
    expect(retryAfterFromHeaders(undefined, nowMs)).toBeNull();
    expect(retryAfterFromHeaders({ 'content-type': 'application/json' }, nowMs)).toBeNull();
    expect(
      retryAfterFromHeaders({ 'retry-after': 'soon', 'retry-after-ms': '-3' }, nowMs),
    ).toBeNull();
  });
});

describe('requestError: the status table', () => {
  it.each([
    [408, 'MODEL_UNAVAILABLE'],
    [409, 'MODEL_UNAVAILABLE'],
    [429, 'MODEL_UNAVAILABLE'],
    [500, 'MODEL_UNAVAILABLE'],
    [503, 'MODEL_UNAVAILABLE'],
    [529, 'MODEL_UNAVAILABLE'],
    [400, 'MODEL_REJECTED'],
    [401, 'MODEL_REJECTED'],
    [403, 'MODEL_REJECTED'],
    [404, 'MODEL_REJECTED'],
    [413, 'MODEL_REJECTED'],
    [422, 'MODEL_REJECTED'],
  ])('%i is %s', (status, code) => {
    expect(requestError(apiError(status), 'm', nowMs).code).toBe(code);
  });

  it('no answer at all is MODEL_UNAVAILABLE; a request the SDK cannot build is MODEL_REJECTED', () => {
    expect(requestError(apiError(undefined), 'm', nowMs)).toMatchObject({
      code: 'MODEL_UNAVAILABLE',
    });
    const badPrompt = new InvalidPromptError({ prompt: [], message: 'no messages' });
    expect(requestError(badPrompt, 'm', nowMs)).toMatchObject({
      code: 'MODEL_REJECTED',
      retryable: false,
    });
    expect(requestError(new TypeError('fetch failed'), 'm', nowMs).code).toBe('MODEL_UNAVAILABLE');
  });

  it('keeps the SDK error as the cause and the wait in details', () => {
    const cause = apiError(429, { 'retry-after': '2' });
    const error = requestError(cause, 'openai:gpt-5-mini', nowMs);
    expect(error.cause).toBe(cause);
    expect(error.details).toEqual({ statusCode: 429, retryAfterMs: 2000 });
    expect(error.message).toContain('openai:gpt-5-mini answered 429');
  });
});
