import { LongrunError, type ModelClient, type ModelRequest } from '@longrun/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callWithRetries, type RetryOptions } from './index.ts';
import {
  exampleOpening,
  exampleTexts,
  exampleTools,
  scriptedModel,
  startWireServer,
  wireClients,
  type WireServer,
} from './testing.ts';

const request: ModelRequest = { messages: exampleOpening, tools: exampleTools };

/** Records every wait and every attempt instead of sleeping: no real time passes in these tests. */
function recorder(overrides: RetryOptions = {}) {
  const sleeps: number[] = [];
  const attempts: { attempt: number; code: string | null; delayMs: number | null }[] = [];
  const deltas: [number, string][] = [];
  const options: RetryOptions = {
    random: () => 0.5,
    sleep: async (ms) => void sleeps.push(ms),
    onAttempt: (attempt, error, delayMs) =>
      void attempts.push({ attempt, code: error?.code ?? null, delayMs }),
    onTextDelta: (attempt, text) => void deltas.push([attempt, text]),
    ...overrides,
  };
  return { sleeps, attempts, deltas, options };
}

const unavailable = { fail: { code: 'MODEL_UNAVAILABLE' } } as const;

describe('callWithRetries with a scripted model', () => {
  it('backs off exponentially with full jitter, capped', async () => {
    const model = scriptedModel([
      unavailable,
      unavailable,
      unavailable,
      unavailable,
      { text: 'ok' },
    ]);
    const { sleeps, attempts, options } = recorder({ baseMs: 100, capMs: 500, maxAttempts: 5 });
    const response = await callWithRetries(model, request, options);
    expect(response.text).toBe('ok');
    // random() = 0.5 of min(cap, base·2^(n-1)): 100, 200, 400, then the 500 cap.
    expect(sleeps).toEqual([50, 100, 200, 250]);
    expect(attempts.map((a) => a.code)).toEqual([
      'MODEL_UNAVAILABLE',
      'MODEL_UNAVAILABLE',
      'MODEL_UNAVAILABLE',
      'MODEL_UNAVAILABLE',
      null,
    ]);
    expect(attempts.at(-1)).toEqual({ attempt: 5, code: null, delayMs: null });
  });

  it('jitter spans the whole window: random() = 0 retries at once, near 1 waits the ceiling', async () => {
    const low = recorder({ baseMs: 1000, random: () => 0 });
    await callWithRetries(scriptedModel([unavailable, { text: 'ok' }]), request, low.options);
    const high = recorder({ baseMs: 1000, random: () => 0.999 });
    await callWithRetries(scriptedModel([unavailable, { text: 'ok' }]), request, high.options);
    expect(low.sleeps).toEqual([0]);
    expect(high.sleeps).toEqual([999]);
  });

  it('never retries sooner than the provider asked, even when jitter says sooner', async () => {
    const model = scriptedModel([
      { fail: { code: 'MODEL_UNAVAILABLE', retryAfterMs: 4000 } },
      { text: 'ok' },
    ]);
    const { sleeps, attempts, options } = recorder({ baseMs: 100 });
    await callWithRetries(model, request, options);
    expect(sleeps).toEqual([4000]);
    expect(attempts[0]).toEqual({ attempt: 1, code: 'MODEL_UNAVAILABLE', delayMs: 4000 });
  });

  it('gives up at once when the provider asks for longer than maxRetryAfterMs', async () => {
    const model = scriptedModel([
      { fail: { code: 'MODEL_UNAVAILABLE', retryAfterMs: 3_600_000 } },
      { text: 'ok' },
    ]);
    const { sleeps, options } = recorder({ maxRetryAfterMs: 60_000 });
    const call = callWithRetries(model, request, options);
    await expect(call).rejects.toMatchObject({
      code: 'MODEL_UNAVAILABLE',
      details: { retryAfterMs: 3_600_000 },
    });
    expect(sleeps).toEqual([]);
  });

  it('stops on a non-retryable error after one attempt', async () => {
    const model = scriptedModel([{ fail: { code: 'MODEL_REJECTED' } }, { text: 'never' }]);
    const { sleeps, attempts, options } = recorder();
    await expect(callWithRetries(model, request, options)).rejects.toMatchObject({
      code: 'MODEL_REJECTED',
    });
    expect(sleeps).toEqual([]);
    expect(attempts).toEqual([{ attempt: 1, code: 'MODEL_REJECTED', delayMs: null }]);
    expect(model.requests).toHaveLength(1);
  });

  it('throws the last error when the attempts run out', async () => {
    const model = scriptedModel([
      unavailable,
      unavailable,
      { fail: { code: 'MODEL_OUTPUT_INVALID' } },
    ]);
    const { attempts, options } = recorder({ maxAttempts: 3 });
    await expect(callWithRetries(model, request, options)).rejects.toMatchObject({
      code: 'MODEL_OUTPUT_INVALID',
    });
    expect(attempts.map((a) => a.delayMs)).toEqual([250, 500, null]);
  });

  it('tags each delta with its attempt, so a retried attempt supersedes the partial one', async () => {
    const model = scriptedModel(
      [{ text: 'Let me', fail: { code: 'MODEL_OUTPUT_INVALID' } }, { text: 'Let me look.' }],
      { chunkSize: 4 },
    );
    const { deltas, options } = recorder();
    await callWithRetries(model, request, options);
    expect(deltas).toEqual([
      [1, 'Let '],
      [1, 'me'],
      [2, 'Let '],
      [2, 'me l'],
      [2, 'ook.'],
    ]);
  });

  it('awaits onAttempt before the next attempt starts (the record is durable first)', async () => {
    const order: string[] = [];
    const model = scriptedModel((_request, call) => {
      order.push(`call ${call}`);
      return call === 1 ? unavailable : { text: 'ok' };
    });
    await callWithRetries(model, request, {
      random: () => 0,
      sleep: async () => void order.push('sleep'),
      onAttempt: async (attempt) => {
        await new Promise((r) => setTimeout(r, 5));
        order.push(`recorded ${attempt}`);
      },
    });
    expect(order).toEqual(['call 1', 'recorded 1', 'sleep', 'call 2', 'recorded 2']);
  });

  it('an abort during the backoff rejects with the abort reason and makes no further attempt', async () => {
    const controller = new AbortController();
    const reason = new Error('cancelled by the user');
    const model = scriptedModel([unavailable, { text: 'never' }]);
    const call = callWithRetries(
      model,
      { ...request, signal: controller.signal },
      {
        sleep: async () => controller.abort(reason),
      },
    );
    await expect(call).rejects.toBe(reason);
    expect(model.requests).toHaveLength(1);
  });

  it('a client that throws a non-LongrunError is a bug: INTERNAL, never retried', async () => {
    let calls = 0;
    const broken: ModelClient = {
      id: 'broken:model',
      stream: async () => {
        calls++;
        throw new TypeError('cannot read properties of undefined');
      },
    };
    const { attempts, options } = recorder();
    await expect(callWithRetries(broken, request, options)).rejects.toMatchObject({
      code: 'INTERNAL',
    });
    expect(calls).toBe(1);
    expect(attempts).toEqual([{ attempt: 1, code: 'INTERNAL', delayMs: null }]);
  });

  it('a maxAttempts below 1 still makes exactly one attempt', async () => {
    const model = scriptedModel([unavailable]);
    const { attempts, options } = recorder({ maxAttempts: 0 });
    await expect(callWithRetries(model, request, options)).rejects.toBeInstanceOf(LongrunError);
    expect(attempts).toHaveLength(1);
  });
});

describe('callWithRetries over real HTTP', () => {
  let server: WireServer;
  beforeAll(async () => {
    server = await startWireServer();
  });
  afterAll(async () => {
    expect(server.violations).toEqual([]);
    await server.close();
  });

  it.each(['openai-chat', 'openai-responses', 'anthropic'])(
    '%s: 429 with Retry-After is honoured, then the call succeeds',
    async (name) => {
      const { protocol, client } = wireClients(server)[name]!;
      server.reply({ status: 429, retryAfter: '3' }, { fixture: `${protocol}/text` });
      const { sleeps, attempts, options } = recorder({ baseMs: 100 });
      const response = await callWithRetries(client, request, options);
      expect(response.text).toBe(exampleTexts.fix);
      expect(sleeps).toEqual([3000]);
      expect(attempts.map((a) => a.code)).toEqual(['MODEL_UNAVAILABLE', null]);
    },
  );

  it("OpenAI's retry-after-ms is read to the millisecond", async () => {
    const { client } = wireClients(server)['openai-chat']!;
    server.reply({ status: 429, retryAfterMs: 1234.5 }, { fixture: 'openai-chat/text' });
    const { sleeps, options } = recorder({ baseMs: 100 });
    await callWithRetries(client, request, options);
    expect(sleeps).toEqual([1235]);
  });

  it('500s are retried with backoff until the call succeeds', async () => {
    const { client } = wireClients(server)['anthropic']!;
    server.reply({ status: 500 }, { status: 529 }, { fixture: 'anthropic/text' });
    const { sleeps, attempts, options } = recorder({ baseMs: 1000 });
    const response = await callWithRetries(client, request, options);
    expect(response.finishReason).toBe('stop');
    expect(sleeps).toEqual([500, 1000]);
    expect(attempts.map((a) => a.code)).toEqual(['MODEL_UNAVAILABLE', 'MODEL_UNAVAILABLE', null]);
  });

  it('401 is not retried', async () => {
    const { client } = wireClients(server)['openai-responses']!;
    server.reply({ status: 401 }, { fixture: 'openai-responses/text' });
    const { sleeps, attempts, options } = recorder();
    await expect(callWithRetries(client, request, options)).rejects.toMatchObject({
      code: 'MODEL_REJECTED',
    });
    expect(sleeps).toEqual([]);
    expect(attempts).toHaveLength(1);
    // Drain the reply the retry never asked for, so the next test starts clean.
    await client.stream(request, () => {});
    expect(server.pending()).toBe(0);
  });

  it('a stream cut mid-way is retried; the partial text stays tagged with its attempt', async () => {
    const { client } = wireClients(server)['openai-chat']!;
    server.reply(
      { fixture: 'openai-chat/tool-call', cutAfterEvents: 4 },
      { fixture: 'openai-chat/tool-call' },
    );
    const { deltas, attempts, options } = recorder();
    const response = await callWithRetries(client, request, options);
    expect(response.toolCalls).toHaveLength(2);
    expect(attempts.map((a) => a.code)).toEqual(['MODEL_OUTPUT_INVALID', null]);
    const textOf = (n: number) =>
      deltas
        .filter(([a]) => a === n)
        .map(([, t]) => t)
        .join('');
    expect(textOf(1)).toBe("I'll run the");
    expect(textOf(2)).toBe(exampleTexts.intro);
  });
});
