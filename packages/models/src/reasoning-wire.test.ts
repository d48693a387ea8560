import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { isLongrunError, type ModelMessage, type ModelRequest } from '@longrun/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { aiSdkModel } from './ai-sdk-model.ts';
import { exampleTools } from './example-session.ts';
import { startWireServer, type WireServer } from './wire-server.ts';

const readFile = exampleTools.find((t) => t.name === 'read_file')!;
const opening: ModelMessage[] = [
  { role: 'system', content: 'You fix failing tests.' },
  { role: 'user', content: 'npm test fails. Find out why.' },
];
const source = 'export function add(a: number, b: number): number {\n  return a - b;\n}\n';

let server: WireServer;
beforeEach(async () => {
  server = await startWireServer();
});
afterEach(async () => {
  expect(server.pending()).toBe(0);
  await server.close();
});

const apiKey = 'sk-wire-test';
const clients = {
  // Extended thinking on: the API then requires the thinking blocks back before tool results.
  anthropic: () =>
    aiSdkModel(createAnthropic({ apiKey, baseURL: server.baseURL })('claude-sonnet-4-5'), {
      providerOptions: { anthropic: { thinking: { type: 'enabled', budgetTokens: 2048 } } },
    }),
  // Stateless Responses: reasoning comes back only as its encrypted content.
  'openai-responses': () =>
    aiSdkModel(createOpenAI({ apiKey, baseURL: server.baseURL }).responses('gpt-5-mini'), {
      providerOptions: { openai: { store: false, include: ['reasoning.encrypted_content'] } },
    }),
};

const expectedParts = {
  anthropic: [
    {
      type: 'reasoning',
      text: 'The test fails in src/math.ts, so the bug is in `add`; I should read the module before changing anything.',
      providerMetadata: {
        anthropic: { signature: expect.stringMatching(/^EqQBCkgIBx/) as unknown },
      },
    },
    {
      type: 'reasoning',
      text: '',
      providerMetadata: {
        anthropic: { redactedData: expect.stringMatching(/^EmwKAhgB/) as unknown },
      },
    },
    { type: 'tool-call', callIndex: 0 },
  ],
  'openai-responses': [
    {
      type: 'reasoning',
      text: '**Reading the module first**\n\nThe test fails in src/math.ts; reading `add` shows whether it subtracts.',
      providerMetadata: {
        openai: {
          itemId: 'rs_68fc1b7e9a0b1c2dd4e5f6a7',
          reasoningEncryptedContent: expect.stringMatching(/^gAAAAABo_Bt-/) as unknown,
        },
      },
    },
    {
      type: 'tool-call',
      callIndex: 0,
      providerMetadata: { openai: { itemId: 'fc_68fc1b7e9a0b1c2d8b9c0d1e2' } },
    },
  ],
};

describe.each(['anthropic', 'openai-responses'] as const)('%s reasoning over real HTTP', (name) => {
  const fixture =
    name === 'anthropic' ? 'anthropic/thinking-tool-call' : 'openai-responses/reasoning-tool-call';
  const answer = `${name}/text`;

  async function firstTurn() {
    server.reply({ fixture });
    const first = await clients[name]().stream({ messages: opening, tools: [readFile] }, () => {});
    expect(first.toolCalls.map((c) => [c.name, c.args])).toEqual([
      ['read_file', { path: 'src/math.ts' }],
    ]);
    return first;
  }

  function followUp(
    first: Awaited<ReturnType<typeof firstTurn>>,
    keepParts: boolean,
  ): ModelRequest {
    const call = first.toolCalls[0]!;
    return {
      tools: [readFile],
      messages: [
        ...opening,
        {
          role: 'assistant',
          text: first.text,
          toolCalls: first.toolCalls,
          ...(keepParts && first.parts ? { parts: first.parts } : {}),
        },
        {
          role: 'tool',
          results: [{ id: call.id, name: call.name, output: source, isError: false }],
        },
      ],
    };
  }

  it('reads reasoning with its signature or encrypted content, and sends it back unchanged', async () => {
    const first = await firstTurn();
    expect(first.parts).toEqual(expectedParts[name]);
    // Stored as JSON in the log and read back by another worker: it must survive the trip.
    const stored = JSON.parse(JSON.stringify(first)) as typeof first;
    server.reply({ fixture: answer, expectReasoningBack: true });
    const second = await clients[name]().stream(followUp(stored, true), () => {});
    expect(second.finishReason).toBe('stop');
    expect(server.violations).toEqual([]);
  });

  it('a transcript that lost the reasoning is refused, as the real API refuses it', async () => {
    const first = await firstTurn();
    server.reply({ fixture: answer, expectReasoningBack: true });
    const error: unknown = await clients[name]()
      .stream(followUp(first, false), () => {})
      .catch((e: unknown) => e);
    expect(isLongrunError(error, 'MODEL_REJECTED')).toBe(true);
    expect(server.violations.map((v) => v.kind)).toEqual(['reasoning-dropped']);
    // The refused request left the reply queued; take it so the queue ends empty.
    server.reply();
    await clients[name]().stream(followUp(first, true), () => {});
  });
});
