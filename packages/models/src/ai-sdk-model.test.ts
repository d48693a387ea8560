import { isLongrunError, type LongrunError, type ModelRequest } from '@longrun/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAnthropic } from '@ai-sdk/anthropic';
import { aiSdkModel, readInvalidToolArgs } from './index.ts';
import {
  exampleFollowUp,
  exampleOpening,
  exampleTexts,
  exampleTools,
  startWireServer,
  wireClients,
  type WireServer,
} from './testing.ts';

let server: WireServer;
beforeAll(async () => {
  server = await startWireServer();
});
afterAll(async () => {
  await server.close();
});
afterEach(() => {
  // Every test leaves no fault unused and no transcript violation behind, unless it says so.
  expect(server.pending()).toBe(0);
  server.violations.length = 0;
  server.requests.length = 0;
});

const opening: ModelRequest = { messages: exampleOpening, tools: exampleTools };

/** Runs one call, keeping the deltas and the error (if any) apart. */
async function attempt(
  name: string,
  request: ModelRequest = opening,
): Promise<{ deltas: string[]; error: LongrunError | null }> {
  const deltas: string[] = [];
  try {
    await wireClients(server)[name]!.client.stream(request, (d) => deltas.push(d));
    return { deltas, error: null };
  } catch (error) {
    if (!isLongrunError(error)) throw error;
    return { deltas, error };
  }
}

const clientNames = ['openai-chat', 'openai-responses', 'anthropic', 'openai-compatible'];
/** Events to send before a fault so that exactly "I'll run the" has been streamed. */
const eventsBeforeFault: Record<string, number> = {
  'openai-chat': 4,
  'openai-responses': 9,
  anthropic: 4,
  'openai-compatible': 4,
};

describe.each(clientNames)('%s over real HTTP', (name) => {
  const { protocol } = wireClients({ baseURL: 'http://127.0.0.1:1/v1' } as WireServer)[name]!;

  it('round-trips text and tool calls: call, tool results, answer', async () => {
    const { client } = wireClients(server)[name]!;
    server.reply({ fixture: `${protocol}/tool-call` }, { fixture: `${protocol}/text` });

    const deltas: string[] = [];
    const first = await client.stream(opening, (d) => deltas.push(d));
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.join('')).toBe(exampleTexts.intro);
    expect(first.text).toBe(exampleTexts.intro);
    expect(first.finishReason).toBe('tool-calls');
    expect(first.toolCalls.map((c) => [c.name, c.args])).toEqual([
      ['run_command', { command: 'npm test -- --reporter=dot' }],
      ['read_file', { path: 'src/math.ts' }],
    ]);
    expect(first.usage.inputTokens).toBeGreaterThan(0);
    expect(first.usage.outputTokens).toBeGreaterThan(0);
    expect(first.modelId).toMatch(/^[a-z-]+:\S+$/);
    // Only the port's fields, plain JSON: the response is logged as it is.
    const portFields = ['finishReason', 'modelId', 'text', 'toolCalls', 'usage'];
    const optionalFields = ['parts', 'providerMetadata'];
    expect(
      Object.keys(first)
        .filter((k) => !optionalFields.includes(k))
        .sort(),
    ).toEqual(portFields);
    expect(JSON.parse(JSON.stringify(first))).toEqual(first);

    const second = await client.stream(
      { messages: exampleFollowUp(first), tools: exampleTools },
      () => {},
    );
    expect(second.text).toBe(exampleTexts.fix);
    expect(second.finishReason).toBe('stop');
    expect(second.toolCalls).toEqual([]);

    // The second request carried both results, in the protocol's own shape, and broke nothing.
    expect(server.violations).toEqual([]);
    const sent = JSON.stringify(server.requests[1]!.body);
    for (const call of first.toolCalls) expect(sent).toContain(call.id);
    expect(sent).toContain('expected -1 to be 5');
  });

  it('a connection cut mid-stream is MODEL_OUTPUT_INVALID, retryable, after the partial text', async () => {
    server.reply({ fixture: `${protocol}/tool-call`, cutAfterEvents: eventsBeforeFault[name] });
    const { deltas, error } = await attempt(name);
    expect(deltas.join('')).toBe("I'll run the");
    expect(error?.code).toBe('MODEL_OUTPUT_INVALID');
    expect(error?.retryable).toBe(true);
  });

  it('a stream that ends without its end markers is MODEL_OUTPUT_INVALID', async () => {
    server.reply({ fixture: `${protocol}/tool-call`, endAfterEvents: eventsBeforeFault[name] });
    const { deltas, error } = await attempt(name);
    expect(deltas.join('')).toBe("I'll run the");
    expect(error?.code).toBe('MODEL_OUTPUT_INVALID');
    expect(error?.retryable).toBe(true);
  });

  it('a malformed chunk is MODEL_OUTPUT_INVALID, retryable', async () => {
    server.reply({ fixture: `${protocol}/tool-call`, malformedEvent: eventsBeforeFault[name] });
    const { deltas, error } = await attempt(name);
    expect(deltas.join('')).toBe("I'll run the");
    expect(error?.code).toBe('MODEL_OUTPUT_INVALID');
    expect(error?.retryable).toBe(true);
  });

  it('429 is MODEL_UNAVAILABLE with the Retry-After the provider sent', async () => {
    server.reply({ status: 429, retryAfter: '7' });
    const { error } = await attempt(name);
    expect(error?.code).toBe('MODEL_UNAVAILABLE');
    expect(error?.retryable).toBe(true);
    expect(error?.details).toMatchObject({ statusCode: 429, retryAfterMs: 7000 });
  });

  it('500 is MODEL_UNAVAILABLE', async () => {
    server.reply({ status: 500 });
    const { error } = await attempt(name);
    expect(error?.code).toBe('MODEL_UNAVAILABLE');
    expect(error?.details).toMatchObject({ statusCode: 500 });
    expect(error?.details?.retryAfterMs).toBeUndefined();
  });

  it('401 is MODEL_REJECTED, not retryable', async () => {
    server.reply({ status: 401, message: 'Incorrect API key provided' });
    const { error } = await attempt(name);
    expect(error?.code).toBe('MODEL_REJECTED');
    expect(error?.retryable).toBe(false);
    expect(error?.message).toContain('401');
  });

  it('a transcript with a tool call left without a result is refused, and the server records it', async () => {
    const first = await (async () => {
      server.reply({ fixture: `${protocol}/tool-call` });
      return wireClients(server)[name]!.client.stream(opening, () => {});
    })();
    const followUp = exampleFollowUp(first);
    const tool = followUp.at(-1)!;
    if (tool.role !== 'tool') throw new Error('expected a tool message last');
    tool.results.pop();
    const { error } = await attempt(name, { messages: followUp, tools: exampleTools });
    expect(error?.code).toBe('MODEL_REJECTED');
    expect(server.violations).toMatchObject([{ request: 2, kind: 'call-without-result' }]);
    expect(server.violations[0]!.message).toContain(first.toolCalls[1]!.id);
    server.violations.length = 0;
  });

  it('an abort mid-stream rejects with the abort reason and stops the stream', async () => {
    server.reply({ fixture: `${protocol}/tool-call`, eventDelayMs: 20 });
    const controller = new AbortController();
    const reason = new Error('session cancelled');
    const deltas: string[] = [];
    const call = wireClients(server)[name]!.client.stream(
      { ...opening, signal: controller.signal },
      (d) => {
        deltas.push(d);
        controller.abort(reason);
      },
    );
    await expect(call).rejects.toBe(reason);
    expect(deltas).toHaveLength(1);
  });
});

describe('failures outside a provider stream', () => {
  it('a server that is not there is MODEL_UNAVAILABLE', async () => {
    const gone = await startWireServer();
    await gone.close();
    const { client } = wireClients(gone)['openai-chat']!;
    const call = client.stream(opening, () => {});
    await expect(call).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE', retryable: true });
  });

  it('arguments that are not JSON are kept raw for the harness to answer with a tool error', async () => {
    server.reply({ fixture: 'openai-chat/bad-args' });
    const response = await wireClients(server)['openai-compatible']!.client.stream(
      opening,
      () => {},
    );
    expect(response.toolCalls).toHaveLength(1);
    const call = response.toolCalls[0]!;
    expect(call.name).toBe('read_file');
    const invalid = readInvalidToolArgs(call.args);
    expect(invalid?.raw).toBe("{'path': src/math.ts");
    expect(invalid?.reason).toContain('not valid JSON');
    expect(response.finishReason).toBe('tool-calls');
  });
});

describe('assistant prefill, a capability of the client', () => {
  it('is on for Anthropic Messages models, off for the others, and can be said either way', () => {
    const clients = wireClients(server);
    expect(
      Object.fromEntries(
        Object.entries(clients).map(([name, c]) => [name, c.client.supportsAssistantPrefill]),
      ),
    ).toEqual({
      'openai-chat': false,
      'openai-responses': false,
      anthropic: true,
      'openai-compatible': false,
    });
    const vertex = { ...anthropicModel(), provider: 'vertex.anthropic.messages' };
    expect(aiSdkModel(vertex).supportsAssistantPrefill).toBe(true);
    expect(aiSdkModel(anthropicModel(), { assistantPrefill: false }).supportsAssistantPrefill).toBe(
      false,
    );
  });
});

function anthropicModel() {
  return createAnthropic({ apiKey: 'sk-wire-test', baseURL: server.baseURL })('claude-sonnet-4-5');
}
