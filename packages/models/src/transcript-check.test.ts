import type { ModelMessage } from '@longrun/core';
import { describe, expect, it } from 'vitest';
import {
  checkTranscript,
  stepsOfModelMessages,
  transcriptSteps,
  type TranscriptStep,
} from './testing.ts';

const user: TranscriptStep = { kind: 'turn', role: 'user' };
const assistant: TranscriptStep = { kind: 'turn', role: 'assistant' };
const call = (id: string): TranscriptStep => ({ kind: 'call', id });
const result = (id: string): TranscriptStep => ({ kind: 'result', id });

describe('checkTranscript', () => {
  it('accepts every call answered once before the next turn', () => {
    expect(
      checkTranscript([user, assistant, call('a'), call('b'), result('b'), result('a'), assistant]),
    ).toEqual([]);
  });

  it('finds a call left open at the next turn', () => {
    const found = checkTranscript([user, assistant, call('a'), call('b'), result('a'), user]);
    expect(found).toMatchObject([{ kind: 'call-without-result', toolCallId: 'b' }]);
    expect(found[0]!.message).toContain('before the next user turn');
  });

  it('finds a call left open at the end (the request about to be sent)', () => {
    expect(checkTranscript([user, assistant, call('a')])).toMatchObject([
      { kind: 'call-without-result', toolCallId: 'a' },
    ]);
  });

  it('finds a duplicate result, a result for no call, a late result and a reused call id', () => {
    expect(checkTranscript([user, assistant, call('a'), result('a'), result('a')])).toMatchObject([
      { kind: 'duplicate-result', toolCallId: 'a' },
    ]);
    expect(checkTranscript([user, assistant, result('x')])).toMatchObject([
      { kind: 'result-without-call', toolCallId: 'x' },
    ]);
    expect(checkTranscript([assistant, call('a'), user, result('a')]).map((v) => v.kind)).toEqual([
      'call-without-result',
      'result-without-call',
    ]);
    expect(
      checkTranscript([assistant, call('a'), result('a'), assistant, call('a'), result('a')]).map(
        (v) => v.kind,
      ),
    ).toEqual(['duplicate-call-id']);
  });

  it("reads longrun's own messages", () => {
    const messages: ModelMessage[] = [
      { role: 'system', content: 's' },
      { role: 'user', content: 'u' },
      { role: 'assistant', text: '', toolCalls: [{ id: 'a', name: 't', args: {} }] },
      { role: 'tool', results: [{ id: 'a', name: 't', output: 'ok', isError: false }] },
    ];
    expect([...stepsOfModelMessages(messages)]).toEqual([user, assistant, call('a'), result('a')]);
  });
});

describe('transcriptSteps reads each wire protocol', () => {
  it('Chat Completions', () => {
    const body = {
      messages: [
        { role: 'developer', content: 's' },
        { role: 'user', content: 'u' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'a', type: 'function', function: { name: 't', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'a', content: 'ok' },
      ],
    };
    expect(transcriptSteps('openai-chat', body)).toEqual([user, assistant, call('a'), result('a')]);
  });

  it('Responses, where a turn that only calls tools has no assistant message', () => {
    const body = {
      input: [
        { role: 'user', content: [{ type: 'input_text', text: 'u' }] },
        { type: 'function_call', call_id: 'a', name: 't', arguments: '{}' },
        { type: 'function_call_output', call_id: 'a', output: 'ok' },
        { type: 'function_call', call_id: 'b', name: 't', arguments: '{}' },
        { role: 'assistant', content: 'done' },
      ],
    };
    const steps = transcriptSteps('openai-responses', body);
    expect(steps).toEqual([
      user,
      assistant,
      call('a'),
      result('a'),
      assistant,
      call('b'),
      assistant,
    ]);
    expect(checkTranscript(steps)).toMatchObject([
      { kind: 'call-without-result', toolCallId: 'b' },
    ]);
  });

  it('Anthropic, where results open the next user message', () => {
    const body = {
      messages: [
        { role: 'user', content: 'u' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'a', name: 't', input: {} }] },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'a', content: 'ok' },
            { type: 'text', text: 'more' },
          ],
        },
      ],
    };
    expect(transcriptSteps('anthropic', body)).toEqual([
      user,
      assistant,
      call('a'),
      result('a'),
      user,
    ]);
  });

  it('a body without the transcript field is refused', () => {
    expect(() => transcriptSteps('anthropic', { prompt: 'x' })).toThrow(/messages/);
  });
});
