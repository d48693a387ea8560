import type { ModelMessage, ModelRequest, SessionId } from '@longrun/core';
import { describe, expect, it } from 'vitest';
import { exampleOpening, exampleTools, scriptedModel, type ScriptedTurn } from './testing.ts';

const request: ModelRequest = { messages: exampleOpening, tools: exampleTools };

describe('scriptedModel', () => {
  it('streams text in chunks and returns the whole answer', async () => {
    const model = scriptedModel([{ text: 'Hello, longrun!' }], { chunkSize: 5 });
    const deltas: string[] = [];
    const response = await model.stream(request, (d) => deltas.push(d));
    expect(deltas).toEqual(['Hello', ', lon', 'grun!']);
    expect(response).toMatchObject({
      text: 'Hello, longrun!',
      toolCalls: [],
      finishReason: 'stop',
    });
    expect(response.usage.inputTokens).toBeGreaterThan(0);
    expect(response.modelId).toBe('scripted:replay');
  });

  it('pauses before each chunk through the injected sleep', async () => {
    const sleeps: number[] = [];
    const model = scriptedModel([{ text: 'abcdefgh' }], {
      chunkSize: 3,
      chunkDelayMs: 40,
      sleep: async (ms) => void sleeps.push(ms),
    });
    await model.stream(request, () => {});
    expect(sleeps).toEqual([40, 40, 40]);
  });

  it('replays tool calls with deterministic ids and a tool-calls finish', async () => {
    const model = scriptedModel([
      {
        text: 'Running the tests.',
        toolCalls: [{ name: 'run_command', args: { command: 'npm test' } }],
      },
    ]);
    const response = await model.stream(request, () => {});
    expect(response.toolCalls).toEqual([
      { id: 'call_1_1', name: 'run_command', args: { command: 'npm test' } },
    ]);
    expect(response.finishReason).toBe('tool-calls');
  });

  it('derives default ids from the request, so a fresh model (a restarted worker) repeats none', async () => {
    const turn = {
      toolCalls: [
        { name: 'note', args: {} },
        { name: 'note', args: {} },
      ],
    };
    const script = (): ScriptedTurn => turn;
    // Steps 1 and 2 answered by the first process's model.
    const first = scriptedModel(script);
    const one = await first.stream(request, () => {});
    const after: ModelMessage[] = [
      ...exampleOpening,
      { role: 'assistant', text: '', toolCalls: one.toolCalls },
      {
        role: 'tool',
        results: one.toolCalls.map((c) => ({ id: c.id, name: c.name, output: 1, isError: false })),
      },
    ];
    const two = await first.stream({ messages: after, tools: [] }, () => {});
    // Step 2 again, by a model made anew in another process: the same ids, none of step 1's.
    const restarted = scriptedModel(script);
    const again = await restarted.stream({ messages: after, tools: [] }, () => {});
    expect(one.toolCalls.map((c) => c.id)).toEqual(['call_1_1', 'call_1_2']);
    expect(again.toolCalls.map((c) => c.id)).toEqual(two.toolCalls.map((c) => c.id));
    expect(again.toolCalls.map((c) => c.id)).toEqual(['call_2_1', 'call_2_2']);
    // The harness's step names them when the request carries it (it counts on past a compaction).
    const context = { sessionId: 'ses_1' as SessionId, step: 9, attempt: 2 };
    const ninth = await scriptedModel(script).stream({ ...request, context }, () => {});
    expect(ninth.toolCalls.map((c) => c.id)).toEqual(['call_9_1', 'call_9_2']);
  });

  it('fails a scripted attempt after its partial text, and answers with the next turn on the next call', async () => {
    const model = scriptedModel(
      [
        { text: 'partial', fail: { code: 'MODEL_UNAVAILABLE', retryAfterMs: 250 } },
        { text: 'whole' },
      ],
      { chunkSize: 100 },
    );
    const deltas: string[] = [];
    await expect(model.stream(request, (d) => deltas.push(d))).rejects.toMatchObject({
      code: 'MODEL_UNAVAILABLE',
      retryable: true,
      details: { retryAfterMs: 250 },
    });
    expect(deltas).toEqual(['partial']);
    expect((await model.stream(request, () => {})).text).toBe('whole');
  });

  it('a script function sees the request and the call number', async () => {
    const model = scriptedModel((req, call) => ({
      text: `call ${call} saw ${req.messages.length} messages`,
    }));
    expect((await model.stream(request, () => {})).text).toBe('call 1 saw 2 messages');
    expect((await model.stream(request, () => {})).text).toBe('call 2 saw 2 messages');
    expect(model.requests).toHaveLength(2);
  });

  it('is deterministic: the same script gives the same deltas and responses', async () => {
    const run = async () => {
      const model = scriptedModel([
        { text: 'same every time', toolCalls: [{ name: 'read_file', args: { path: 'a' } }] },
      ]);
      const deltas: string[] = [];
      const response = await model.stream(request, (d) => deltas.push(d));
      return { deltas, response };
    };
    expect(await run()).toEqual(await run());
  });

  it('refuses, like a real provider, a transcript with a tool call left without a result', async () => {
    const model = scriptedModel([{ text: 'never' }]);
    const messages: ModelMessage[] = [
      ...exampleOpening,
      {
        role: 'assistant',
        text: '',
        toolCalls: [{ id: 'c1', name: 'read_file', args: { path: 'a' } }],
      },
      { role: 'user', content: 'and?' },
    ];
    await expect(model.stream({ messages, tools: [] }, () => {})).rejects.toMatchObject({
      code: 'MODEL_REJECTED',
    });
    expect(model.violations).toMatchObject([
      { call: 1, kind: 'call-without-result', toolCallId: 'c1' },
    ]);
  });

  it('a call past the end of the script is an INTERNAL error, not a silent answer', async () => {
    const model = scriptedModel([{ text: 'one' }]);
    await model.stream(request, () => {});
    await expect(model.stream(request, () => {})).rejects.toMatchObject({
      code: 'INTERNAL',
      retryable: false,
    });
  });

  it('an aborted signal stops the stream with the abort reason', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    const model = scriptedModel([{ text: 'abcdefghij' }], { chunkSize: 2 });
    const deltas: string[] = [];
    const call = model.stream({ ...request, signal: controller.signal }, (d) => {
      deltas.push(d);
      controller.abort(reason);
    });
    await expect(call).rejects.toBe(reason);
    expect(deltas).toEqual(['ab']);
  });
});
