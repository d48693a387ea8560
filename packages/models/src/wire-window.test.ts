import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APICallError } from '@ai-sdk/provider';
import { isLongrunError, type ModelRequest } from '@longrun/core';
import { knownContextWindow, requestError } from './index.ts';
import { startWireServer, wireClients, type WireServer } from './testing.ts';

const windowTokens = 2_000;
let server: WireServer;
beforeAll(async () => {
  server = await startWireServer({
    contextWindowTokens: windowTokens,
    generate: (request) => ({
      text: `answer ${request.index}`,
      toolCalls: [{ id: `call_gen_${request.index}`, name: 'note', args: { line: 'a' } }],
    }),
  });
});
afterAll(async () => {
  await server.close();
});

const tools = [
  {
    name: 'note',
    description: 'notes a line',
    inputSchema: { type: 'object', properties: { line: { type: 'string' } } },
  },
];

function request(chars: number): ModelRequest {
  return {
    messages: [
      { role: 'system', content: 'Note lines.' },
      { role: 'user', content: `note this: ${'y'.repeat(chars)}` },
    ],
    tools,
  };
}

describe('the wire server enforces a context window like the providers', () => {
  it.each(['anthropic', 'openai-chat'])(
    '%s: a generated turn with its own call id, and the counted tokens as its input usage',
    async (name) => {
      const { client } = wireClients(server)[name]!;
      const response = await client.stream(request(100), () => undefined);
      const seen = server.requests.at(-1)!;
      expect(response.toolCalls).toEqual([
        { id: `call_gen_${seen.index}`, name: 'note', args: { line: 'a' } },
      ]);
      expect(response.text).toBe(`answer ${seen.index}`);
      expect(response.usage.inputTokens).toBe(seen.tokens);
      expect(seen.tokens).toBeLessThanOrEqual(windowTokens);
    },
  );

  it.each([
    ['anthropic', /prompt is too long: \d+ tokens > 2000 maximum/],
    ['openai-chat', /maximum context length is 2000 tokens/],
  ])(
    '%s: an over-long request is refused with the provider body and becomes MODEL_CONTEXT_EXCEEDED',
    async (name, words) => {
      const { client } = wireClients(server)[name]!;
      const before = server.violations.length;
      const error = await client.stream(request(10_000), () => undefined).catch((e: unknown) => e);
      expect(isLongrunError(error, 'MODEL_CONTEXT_EXCEEDED')).toBe(true);
      expect((error as Error).message).toMatch(words);
      expect(server.violations.slice(before).map((v) => v.kind)).toEqual(['context-exceeded']);
      server.violations.length = before;
    },
  );
});

describe('context exceeded in provider error bodies', () => {
  const refused = (status: number, responseBody: string) =>
    requestError(
      new APICallError({
        message: 'refused',
        url: 'http://127.0.0.1/v1/x',
        requestBodyValues: {},
        statusCode: status,
        responseBody,
      }),
      'm',
      0,
    ).code;

  it('maps the providers’ too-long answers, and only those, to MODEL_CONTEXT_EXCEEDED', () => {
    expect(
      refused(
        400,
        '{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}',
      ),
    ).toBe('MODEL_CONTEXT_EXCEEDED');
    expect(refused(400, '{"error":{"code":"context_length_exceeded"}}')).toBe(
      'MODEL_CONTEXT_EXCEEDED',
    );
    expect(refused(400, '{"error":{"message":"messages: field required"}}')).toBe('MODEL_REJECTED');
    expect(refused(401, '{"error":{"code":"context_length_exceeded"}}')).toBe('MODEL_REJECTED');
  });
});

describe('the context window table', () => {
  it('knows the models by their ids, with or without the provider prefix', () => {
    expect(knownContextWindow('anthropic:claude-sonnet-4-5')).toBe(200_000);
    expect(knownContextWindow('claude-sonnet-4-5-20250929')).toBe(200_000);
    expect(knownContextWindow('openai.chat:gpt-4o-mini')).toBe(128_000);
    expect(knownContextWindow('scripted:replay')).toBe(128_000);
    expect(knownContextWindow('acme:unheard-of')).toBeNull();
  });
});
