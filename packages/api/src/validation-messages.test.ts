import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionStore } from '@longrun/core';
import { generateApiKey } from './api-keys.ts';
import { createApi } from './create-api.ts';
import type { ErrorBody } from './http-errors.ts';
import { serveApi, type ServedApi } from './serve-api.ts';
import { sqliteStore } from './test-support.ts';

/**
 * Messages a probe found misleading, over real HTTP on loopback: a `costUsd` past 2^53 was
 * called "an integer beyond 2^53 that JSON cannot round-trip; send it as a string", and an
 * `after` of 2^53 − 1 "must be a decimal integer". Each must say what is wrong and what to do.
 */
const maxSafe = Number.MAX_SAFE_INTEGER;
let store: SessionStore;
let drop: () => Promise<void>;
let served: ServedApi;
let key: string;
let id: string;
let head: number;

beforeAll(async () => {
  ({ store, drop } = await sqliteStore());
  served = await serveApi(createApi({ store, auth: 'keys' }), { port: 0 });
  key = (await generateApiKey(store.apiKeys, 'acme', 'ops', 'admin')).key;
  const made = await send('POST', '/v1/sessions', '{"agent":"a","message":"m"}');
  ({ id, headSeq: head } = (
    (await made.json()) as { session: { id: string; headSeq: number } }
  ).session);
});
afterAll(async () => {
  await served.close();
  await drop();
});

function send(
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${served.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body }),
  });
}

async function refusal(response: Response): Promise<ErrorBody['error']> {
  expect(response.status).toBe(400);
  return ((await response.json()) as ErrorBody).error;
}

describe('a costUsd limit past 2^53', () => {
  // Raw JSON: 2^53 + 2 is exact as a double, and 1e300 is no integer at all.
  it.each([String(2 ** 53 + 2), '1e300'])(
    'is refused as too large when a session is created (%s)',
    async (cost) => {
      const error = await refusal(
        await send(
          'POST',
          '/v1/sessions',
          `{"agent":"a","message":"m","budget":{"costUsd":${cost}}}`,
        ),
      );
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toMatch(
        /^body\.budget\.costUsd: must be at most 9007199254740991 \(2\^53 − 1\) US dollars; leave costUsd out for no cost limit/,
      );
      expect(error.message).not.toMatch(/string|round-trip/);
    },
  );

  it('is refused as too large when a budget is raised, saying null removes the limit', async () => {
    const error = await refusal(
      await send('POST', `/v1/sessions/${id}/budget`, `{"budget":{"costUsd":${2 ** 53 + 2}}}`),
    );
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(
      /^body\.budget\.costUsd: must be at most 9007199254740991 \(2\^53 − 1\) US dollars; send null to remove the cost limit/,
    );
  });
});

describe('an after past the session head', () => {
  const past = (name: string, got: number) =>
    new RegExp(
      `^${name} is ${got}, past this session's last event \\(seq ${head}\\): it must be the seq of an event you received from this session, at most ${head}; resume from the last seq you received, or send 0 to read from the start$`,
    );

  it('of 2^53 − 1 is refused as past the head, on the events page and the stream', async () => {
    for (const path of [`/v1/sessions/${id}/events`, `/v1/sessions/${id}/stream`]) {
      const error = await refusal(await send('GET', `${path}?after=${maxSafe}`));
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toMatch(past('after', maxSafe));
    }
    const header = await refusal(
      await send('GET', `/v1/sessions/${id}/stream`, undefined, {
        'last-event-id': String(maxSafe),
      }),
    );
    expect(header.message).toMatch(past('Last-Event-ID', maxSafe));
  });

  it('of head + 1 is refused too (a stream resumed there skipped every event up to it)', async () => {
    const error = await refusal(await send('GET', `/v1/sessions/${id}/events?after=${head + 1}`));
    expect(error.message).toMatch(past('after', head + 1));
    const atHead = await send('GET', `/v1/sessions/${id}/events?after=${head}`);
    expect(atHead.status).toBe(200);
    expect(await atHead.json()).toEqual({ events: [], next: null });
  });

  it('of 2^53 or more is refused as over the most a query integer may be, not as no integer', async () => {
    for (const after of [String(2 ** 53), '9'.repeat(40)]) {
      const error = await refusal(await send('GET', `/v1/sessions/${id}/events?after=${after}`));
      expect(error.message).toMatch(/^query\.after: must be at most 9007199254740991;/);
    }
    const notDigits = await refusal(await send('GET', `/v1/sessions/${id}/events?after=-1`));
    expect(notDigits.message).toMatch(/^query\.after: must be a decimal integer \(digits only\);/);
  });
});
