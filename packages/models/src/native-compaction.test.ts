import { createOpenAI } from '@ai-sdk/openai';
import type { ModelClient, ModelMessage, ModelResponse } from '@longrun/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { aiSdkModel } from './ai-sdk-model.ts';
import { wireClients } from './wire-clients.ts';
import { startWireServer, type WireServer } from './wire-server.ts';

/**
 * A provider's native compaction through the real AI SDK clients and the wire server: the item
 * is read as a `compaction` part (never text, never a delta) and sent back as it came.
 */

const opening: ModelMessage[] = [
  { role: 'system', content: 'You fix failing tests.' },
  { role: 'user', content: 'npm test fails. Find out why.' },
];

let server: WireServer;
beforeEach(async () => {
  server = await startWireServer({ generate: () => ({ text: 'The answer.' }) });
});
afterEach(async () => {
  expect(server.pending()).toBe(0);
  await server.close();
});

/** One call, with the text deltas it reported. */
async function call(
  client: ModelClient,
  messages: ModelMessage[],
  triggerTokens?: number,
): Promise<{ response: ModelResponse; deltas: string }> {
  let deltas = '';
  const response = await client.stream(
    {
      messages,
      tools: [],
      ...(triggerTokens === undefined
        ? {}
        : { providerOptions: client.nativeCompactionOptions!(triggerTokens) }),
    },
    (d) => (deltas += d),
  );
  return { response, deltas };
}

/** The transcript after `response`, with one more user message. */
const after = (response: ModelResponse): ModelMessage[] => [
  ...opening,
  { role: 'assistant', text: response.text, toolCalls: [], parts: response.parts ?? [] },
  { role: 'user', content: 'Go on.' },
];

describe('native compaction through the AI SDK clients', () => {
  it('is offered by the Anthropic Messages and OpenAI Responses clients only', () => {
    const offered = Object.entries(wireClients(server)).map(([name, c]) => [
      name,
      c.client.nativeCompactionOptions !== undefined,
    ]);
    expect(Object.fromEntries(offered)).toEqual({
      'openai-chat': false,
      'openai-responses': true,
      anthropic: true,
      'openai-compatible': false,
    });
  });

  it('Anthropic: the compaction block is a part, not text, and goes back with its signature', async () => {
    const client = wireClients(server).anthropic!.client;
    const { response, deltas } = await call(client, opening, 10);
    expect(server.requests[0]?.body).toMatchObject({
      context_management: {
        edits: [{ type: 'compact_20260112', trigger: { type: 'input_tokens', value: 10 } }],
      },
    });
    const block = {
      type: 'compaction',
      content: 'Summary of the 1 messages before request 1.',
      signature: 'compaction-signature-1',
    };
    expect(response.text).toBe('The answer.');
    expect(deltas).toBe('The answer.');
    expect(response.parts).toEqual([
      {
        type: 'compaction',
        text: block.content,
        providerMetadata: { anthropic: { type: 'compaction', signature: block.signature } },
      },
      { type: 'text', text: 'The answer.' },
    ]);

    await call(client, after(response));
    const messages = (server.requests[1]?.body as { messages: unknown[] }).messages;
    expect(messages[1]).toEqual({
      role: 'assistant',
      content: [block, { type: 'text', text: 'The answer.' }],
    });
  });

  it('OpenAI Responses (stateless): the compaction item is a part and goes back as the item', async () => {
    const model = createOpenAI({ apiKey: 'sk-wire-test', baseURL: server.baseURL });
    const client = aiSdkModel(model.responses('gpt-5-mini'), {
      providerOptions: { openai: { store: false } },
    });
    server.reply({ fixture: 'openai-responses/compaction' }, { fixture: 'openai-responses/text' });
    const { response, deltas } = await call(client, opening, 1_000);
    expect(server.requests[0]?.body).toMatchObject({
      context_management: [{ type: 'compaction', compact_threshold: 1_000 }],
    });
    const item = {
      type: 'compaction',
      id: 'cmp_68fc1a3c4d5e6f7a00c0ffee',
      encrypted_content: 'gAAAAB-compacted-transcript-opaque',
    };
    expect(response.parts?.[0]).toEqual({
      type: 'compaction',
      text: '',
      providerMetadata: {
        openai: { type: 'compaction', itemId: item.id, encryptedContent: item.encrypted_content },
      },
    });
    expect(response.text).not.toBe('');
    expect(deltas).toBe(response.text);

    await call(client, after(response));
    const input = (server.requests[1]?.body as { input: { type?: string; role?: string }[] }).input;
    const at = input.findIndex((i) => i.type === 'compaction');
    expect(input[at]).toEqual(item);
    expect(input.findIndex((i) => i.role === 'assistant')).toBeGreaterThan(at);
  });
});
