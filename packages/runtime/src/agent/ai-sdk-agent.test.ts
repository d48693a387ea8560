import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import { jsonSchema, tool } from '@ai-sdk/provider-utils';
import type { LanguageModelV4, LanguageModelV4StreamPart } from '@ai-sdk/provider';
import {
  isLongrunError,
  modelRequestOf,
  type ModelAssistantMessage,
  type ModelRequest,
  type ResponsePart,
  type SessionId,
  type ToolContext,
} from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { aiTool, effect } from '@longrun/models';
import { scriptedModel, type ScriptedTurns } from '@longrun/models/testing';
import { allEvents, runUntil, tempDir } from '../testing.ts';
import { defineAgent, defineTool, type AgentConfig } from './define-agent.ts';
import { decideApproval } from './session-commands.ts';

function refusal(make: () => unknown): string {
  try {
    make();
  } catch (error) {
    if (isLongrunError(error, 'INVALID_ARGUMENT')) return error.message;
    throw error;
  }
  throw new Error('expected an INVALID_ARGUMENT');
}

const base = { name: 'a', instructions: 'Be brief.' };

/** A LanguageModelV4 as a provider package makes one, answering each call with `answers[n]`. */
function languageModel(answers: LanguageModelV4StreamPart[][]): LanguageModelV4 & {
  calls: Parameters<LanguageModelV4['doStream']>[0][];
} {
  const calls: Parameters<LanguageModelV4['doStream']>[0][] = [];
  return {
    specificationVersion: 'v4',
    provider: 'fake.messages',
    modelId: 'fake-1',
    supportedUrls: {},
    calls,
    doGenerate: () => Promise.reject(new Error('not used')),
    doStream: (options) => {
      calls.push(options);
      const parts = answers[calls.length - 1] ?? [];
      return Promise.resolve({
        stream: new ReadableStream({
          start(controller) {
            for (const part of parts) controller.enqueue(part);
            controller.close();
          },
        }),
      });
    },
  };
}

const finish = (unified: 'stop' | 'tool-calls'): LanguageModelV4StreamPart => ({
  type: 'finish',
  finishReason: { unified, raw: unified },
  usage: {
    inputTokens: { total: 10, noCache: 10, cacheRead: 0, cacheWrite: 0 },
    outputTokens: { total: 5, text: 5, reasoning: 0 },
  },
});

async function setup(config: Partial<AgentConfig> & Pick<AgentConfig, 'model'>) {
  const dir = tempDir('ai-sdk-agent');
  const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
  const agent = defineAgent({ ...base, workspaceRoot: join(dir, 'ws'), ...config });
  const run = (id: SessionId, statuses?: string[]) =>
    runUntil({ store, agents: [agent] }, id, statuses);
  const start = async () =>
    (await store.createSession({ agent: agent.name, input: { task: 'go' } })).id;
  return { store, agent, run, start };
}

describe('defineAgent({ model })', () => {
  it('refuses what is no model at once, saying what to pass', () => {
    for (const model of ['anthropic/claude-sonnet-4-5', {}, null, 42, []]) {
      const message = refusal(() => defineAgent({ ...base, model: model as never }));
      expect(message).toMatch(/^the model of agent a is .*pass an AI SDK language model/);
    }
    const v2 = { specificationVersion: 'v2', provider: 'x', modelId: 'y', doStream: () => {} };
    expect(refusal(() => defineAgent({ ...base, model: v2 as never }))).toMatch(
      /specification v2; longrun supports v3 \(AI SDK 6\) and v4/,
    );
    // A factory is called where the worker runs; what it returns is checked then, as strictly.
    const agent = defineAgent({ ...base, model: (() => 'gpt-5') as never });
    expect(typeof agent.model).toBe('function');
    expect(refusal(() => (agent.model as () => unknown)())).toMatch(
      /what its factory returned\) is the string "gpt-5"/,
    );
  });

  it('runs a session on a raw AI SDK language model object, with no wrapping', async () => {
    const model = languageModel([
      [
        { type: 'text-start', id: 't' },
        { type: 'text-delta', id: 't', delta: 'Done.' },
        { type: 'text-end', id: 't' },
        finish('stop'),
      ],
    ]);
    const { store, run, start } = await setup({ model, temperature: 0.2 });
    const id = await start();
    await run(id);
    expect((await store.getSession(id)).status).toBe('completed');
    expect(model.calls).toHaveLength(1);
    expect(model.calls[0]?.temperature).toBe(0.2);
    const responded = (await allEvents(store, id)).find((e) => e.type === 'model.responded');
    expect(responded?.data).toMatchObject({ text: 'Done.', modelId: 'fake:fake-1' });
  });

  it('takes a specification v3 model (AI SDK 6) as well', async () => {
    const v4 = languageModel([
      [
        { type: 'text-start', id: 't' },
        { type: 'text-delta', id: 't', delta: 'v3.' },
        finish('stop'),
      ],
    ]);
    const model = { ...v4, specificationVersion: 'v3' as const };
    const { store, run, start } = await setup({ model: model as never });
    const id = await start();
    await run(id);
    expect((await store.getSession(id)).status).toBe('completed');
    expect(v4.calls).toHaveLength(1);
  });
});

describe('AI SDK tools', () => {
  const seen: { input: unknown; context: ToolContext }[] = [];
  const weather = tool({
    description: 'the weather in a city',
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }, options) => {
      seen.push({ input: city, context: (options as unknown as { context: ToolContext }).context });
      return { city, celsius: 21 };
    },
  });
  const book = tool({
    description: 'books a table',
    inputSchema: jsonSchema<{ seats: number }>(
      {
        type: 'object',
        properties: { seats: { type: 'integer' } },
        required: ['seats'],
        additionalProperties: false,
      },
      {
        validate: (value) =>
          typeof (value as { seats?: unknown }).seats === 'number'
            ? { success: true, value: value as { seats: number } }
            : { success: false, error: new Error('seats must be a number') },
      },
    ),
    execute: ({ seats }) => `booked ${seats}`,
  });

  it('a tool set of AI SDK tools runs as longrun tools: schemas sent, inputs checked, effects named', async () => {
    const model = scriptedModel([
      {
        toolCalls: [
          { id: 'c1', name: 'weather', args: { city: 'Oslo' } },
          { id: 'c2', name: 'book', args: { seats: 'four' } },
          { id: 'c3', name: 'book', args: { seats: 4 } },
        ],
      },
      { text: 'Booked.' },
    ]);
    const { store, run, start } = await setup({
      model,
      tools: { weather: effect('idempotent', weather), book },
    });
    const id = await start();
    await run(id);
    expect((await store.getSession(id)).status).toBe('completed');
    expect(model.requests[0]?.tools).toEqual([
      {
        name: 'weather',
        description: 'the weather in a city',
        inputSchema: expect.objectContaining({
          type: 'object',
          properties: { city: { type: 'string' } },
        }) as unknown,
      },
      {
        name: 'book',
        description: 'books a table',
        inputSchema: {
          type: 'object',
          properties: { seats: { type: 'integer' } },
          required: ['seats'],
          additionalProperties: false,
        },
      },
    ]);
    const events = await allEvents(store, id);
    // An AI SDK tool is unsafe unless its effect class is named.
    const started = events.flatMap((e) => (e.type === 'tool.started' ? [e.data] : []));
    expect(started.map((d) => [d.tool, d.effect])).toEqual([
      ['weather', 'idempotent'],
      ['book', 'unsafe'],
    ]);
    const results = events.flatMap((e) => (e.type === 'tool.completed' ? [e.data] : []));
    expect(results.map((d) => [d.ok, d.output])).toEqual([
      [true, { city: 'Oslo', celsius: 21 }],
      [
        false,
        'invalid arguments for book: seats must be a number. Fix them and call the tool again.',
      ],
      [true, 'booked 4'],
    ]);
    // `execute` is given longrun's tool context as the AI SDK's `context`.
    expect(seen.at(-1)?.context.idempotencyKey).toBe(`${id}:1:0`);
    expect(typeof seen.at(-1)?.context.files.readFile).toBe('function');
  });

  it('refuses, when the agent is defined, AI SDK tools longrun cannot run', () => {
    const tools = (set: Record<string, unknown>) => () =>
      defineAgent({ ...base, model: scriptedModel([]), tools: set as never });
    expect(refusal(tools({ w: { ...weather, execute: undefined } }))).toMatch(/has no execute/);
    expect(refusal(tools({ 'bad name': weather }))).toMatch(/needs a name matching/);
    const { inputSchema, ...v4 } = weather;
    expect(refusal(tools({ w: { ...v4, parameters: inputSchema } }))).toMatch(/has `parameters`/);
    expect(refusal(tools({ w: { ...weather, needsApproval: async () => true } }))).toMatch(
      /needsApproval function of the AI SDK/,
    );
    const search = { type: 'provider', id: 'openai.web_search', args: {}, inputSchema: {} };
    expect(refusal(tools({ search }))).toMatch(/is a provider tool/);
    expect(
      refusal(() => defineAgent({ ...base, model: scriptedModel([]), tools: [weather as never] })),
    ).toMatch(/tools\[0\] is not a longrun Tool/);
    // With a synchronous rule of its own, an approval-gated AI SDK tool is accepted.
    const gated = aiTool(
      { ...weather, needsApproval: async () => true },
      { needsApproval: () => true, effect: 'keyed' },
    );
    const agent = defineAgent({ ...base, model: scriptedModel([]), tools: { gated } });
    expect(agent.tools.map((t) => [t.name, t.effect, t.needsApproval !== undefined])).toEqual([
      ['gated', 'keyed', true],
    ]);
  });
});

describe('call settings, prepareStep and the request context', () => {
  it('every call gets the agent settings, the context, and what prepareStep chose for its step', async () => {
    const add = defineTool({
      name: 'add',
      description: 'adds',
      input: z.object({ a: z.number(), b: z.number() }),
      effect: 'pure',
      run: async ({ a, b }) => a + b,
    });
    const noop = defineTool({
      name: 'noop',
      description: 'does nothing',
      input: z.object({}),
      effect: 'pure',
      run: async () => null,
    });
    // Step 1 offers only `add`; the model calls `noop` anyway, and is told it has no such tool.
    const first = scriptedModel(
      [
        {
          toolCalls: [
            { name: 'noop', args: {} },
            { name: 'add', args: { a: 1, b: 2 } },
          ],
        },
      ],
      { id: 'scripted:first' },
    );
    const second = scriptedModel([{ text: '3' }], { id: 'scripted:second' });
    const steps: { step: number; messages: number }[] = [];
    const { store, run, start } = await setup({
      model: first,
      tools: [add, noop],
      temperature: 0,
      maxOutputTokens: 500,
      toolChoice: 'required',
      providerOptions: { anthropic: { sendReasoning: true }, openai: { store: false } },
      prepareStep: ({ step, messages }) => {
        steps.push({ step, messages: messages.length });
        if (step === 1) return { activeTools: ['add'] };
        return {
          model: second,
          toolChoice: 'none',
          temperature: 0.7,
          providerOptions: { openai: { reasoningEffort: 'low' } },
        };
      },
    });
    const id = await start();
    await run(id);
    expect((await store.getSession(id)).status).toBe('completed');
    expect(steps).toEqual([
      { step: 1, messages: 2 },
      { step: 2, messages: 4 },
    ]);
    const settings = (r: ModelRequest | undefined) => {
      const { messages: _m, signal: _s, ...rest } = r ?? ({} as ModelRequest);
      return { ...rest, tools: rest.tools?.map((t) => t.name) };
    };
    expect(settings(first.requests[0])).toEqual({
      tools: ['add'],
      temperature: 0,
      maxOutputTokens: 500,
      toolChoice: 'required',
      providerOptions: { anthropic: { sendReasoning: true }, openai: { store: false } },
      context: { sessionId: id, step: 1, attempt: 1 },
    });
    expect(settings(second.requests[0])).toEqual({
      tools: ['add', 'noop'],
      temperature: 0.7,
      maxOutputTokens: 500,
      toolChoice: 'none',
      providerOptions: {
        anthropic: { sendReasoning: true },
        openai: { store: false, reasoningEffort: 'low' },
      },
      context: { sessionId: id, step: 2, attempt: 1 },
    });
    const events = await allEvents(store, id);
    const requested = events.flatMap((e) => modelRequestOf(e)?.modelId ?? []);
    expect(requested).toEqual(['scripted:first', 'scripted:second']);
    const results = events.flatMap((e) => (e.type === 'tool.completed' ? [e.data] : []));
    expect(results.map((r) => [r.tool, r.ok, r.output])).toEqual([
      ['noop', false, 'there is no tool named "noop"; the tools are: add'],
      ['add', true, 3],
    ]);
  });

  it('a prepareStep that throws or names a tool the agent lacks fails the session with why', async () => {
    const { store, run, start } = await setup({
      model: scriptedModel([]),
      prepareStep: () => ({ activeTools: ['nope'] }),
    });
    const id = await start();
    await run(id);
    const session = await store.getSession(id);
    expect(session.status).toBe('failed');
    expect(session.statusReason).toBe(
      'prepareStep of agent a failed at step 1: activeTools names nope, which the agent does not have',
    );
    const types = (await allEvents(store, id)).map((e) => e.type);
    expect(types).toEqual(['session.created', 'session.failed']);
  });
});

describe('reasoning across turns', () => {
  const thinking: ResponsePart[] = [
    {
      type: 'reasoning',
      text: 'Deploying needs approval.',
      providerMetadata: { anthropic: { signature: 'sig-1' } },
    },
    {
      type: 'reasoning',
      text: '',
      providerMetadata: { anthropic: { redactedData: 'cmVkYWN0ZWQ=' } },
    },
    { type: 'text', text: 'Deploying.' },
    { type: 'tool-call', callIndex: 0, providerMetadata: { openai: { itemId: 'fc_1' } } },
  ];

  it('is recorded with its metadata and given back on the next turn, by another worker after a wait', async () => {
    const deploy = defineTool({
      name: 'deploy',
      description: 'deploys',
      input: z.object({}),
      effect: 'keyed',
      needsApproval: true,
      run: async () => 'deployed',
    });
    const turns: ScriptedTurns = [
      {
        text: 'Deploying.',
        toolCalls: [{ id: 'toolu_1', name: 'deploy', args: {} }],
        parts: thinking,
      },
      { text: 'Deployed.' },
    ];
    const model = scriptedModel(turns);
    const { store, run, start } = await setup({ model, tools: [deploy] });
    const id = await start();
    await run(id, ['waiting']);
    const responded = (await allEvents(store, id)).find((e) => e.type === 'model.responded');
    expect(responded?.type === 'model.responded' && responded.data.parts).toEqual(thinking);
    await decideApproval(store, id, { decision: 'granted', by: 'test', reason: null });
    // A new worker: the transcript is folded from the log again.
    await run(id);
    expect((await store.getSession(id)).status).toBe('completed');
    const assistant = model.requests[1]?.messages.find(
      (m): m is ModelAssistantMessage => m.role === 'assistant',
    );
    expect(assistant?.parts).toEqual(thinking);
  });
});
