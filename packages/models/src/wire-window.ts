import type { ServedCompaction } from './wire-compaction.ts';
import type { FixtureEvent } from './wire-fixtures.ts';
import type { WireProtocol } from './wire-protocols.ts';

/**
 * The wire server's context window: how it counts a request's tokens, the error bodies the real
 * providers answer an over-long request with, and streams it makes up for generated turns (so a
 * session of thousands of steps, each with its own call ids and a usage that follows the
 * request's size, can run against it).
 */

/**
 * A request's tokens as the server counts them: the whole body (messages, system prompt, tool
 * definitions) at four characters a token. Real tokenizers differ; what matters is that the
 * server's count is fixed and that it reports it back as the response's input usage, as the
 * providers report theirs.
 */
export function requestTokens(body: unknown): number {
  return Math.ceil(JSON.stringify(body).length / 4);
}

/** The provider's own answer to a request longer than its window: status 400 and its body. */
export function contextExceededBody(
  protocol: WireProtocol,
  tokens: number,
  windowTokens: number,
): unknown {
  if (protocol === 'anthropic') {
    return {
      type: 'error',
      error: {
        type: 'invalid_request_error',
        message: `prompt is too long: ${tokens} tokens > ${windowTokens} maximum`,
      },
    };
  }
  return {
    error: {
      message: `This model's maximum context length is ${windowTokens} tokens. However, your messages resulted in ${tokens} tokens. Please reduce the length of the messages.`,
      type: 'invalid_request_error',
      param: 'messages',
      code: 'context_length_exceeded',
    },
  };
}

/** A turn a test's generator makes up for one request (see `WireServerOptions.generate`). */
export interface GeneratedTurn {
  text?: string;
  toolCalls?: { id: string; name: string; args: Record<string, unknown> }[];
  /** A native compaction block to open the turn with (Anthropic; see `compactionFor`). */
  compaction?: ServedCompaction;
}

/**
 * The stream a provider would send for `turn`, with `inputTokens` as the reported input usage
 * and the output at four characters a token. Anthropic Messages and OpenAI Chat Completions.
 */
export function generatedEvents(
  protocol: WireProtocol,
  turn: GeneratedTurn,
  inputTokens: number,
  n: number,
): FixtureEvent[] {
  const text = turn.text ?? '';
  const calls = turn.toolCalls ?? [];
  const outputTokens = Math.max(1, Math.ceil((text.length + JSON.stringify(calls).length) / 4));
  const events: unknown[] = [];
  if (protocol === 'anthropic') {
    events.push({
      type: 'message_start',
      message: {
        model: 'claude-sonnet-4-5-20250929',
        id: `msg_generated_${n}`,
        type: 'message',
        role: 'assistant',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: inputTokens, output_tokens: 1 },
      },
    });
    let index = 0;
    if (turn.compaction !== undefined) {
      const { content, signature } = turn.compaction;
      events.push({
        type: 'content_block_start',
        index,
        content_block: { type: 'compaction', content: null, signature },
      });
      events.push({
        type: 'content_block_delta',
        index,
        delta: { type: 'compaction_delta', content },
      });
      events.push({ type: 'content_block_stop', index });
      index++;
    }
    if (text !== '') {
      events.push({
        type: 'content_block_start',
        index,
        content_block: { type: 'text', text: '' },
      });
      events.push({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } });
      events.push({ type: 'content_block_stop', index });
      index++;
    }
    for (const call of calls) {
      events.push({
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: call.id, name: call.name, input: {} },
      });
      events.push({
        type: 'content_block_delta',
        index,
        delta: { type: 'input_json_delta', partial_json: JSON.stringify(call.args) },
      });
      events.push({ type: 'content_block_stop', index });
      index++;
    }
    events.push({
      type: 'message_delta',
      delta: { stop_reason: calls.length > 0 ? 'tool_use' : 'end_turn', stop_sequence: null },
      usage: { input_tokens: inputTokens, output_tokens: outputTokens },
    });
    events.push({ type: 'message_stop' });
  } else if (protocol === 'openai-chat') {
    const chunk = (delta: unknown, finish: string | null = null, usage: unknown = null) => ({
      id: `chatcmpl-generated-${n}`,
      object: 'chat.completion.chunk',
      created: 1761400112,
      model: 'gpt-5-mini-2025-08-07',
      choices: usage === null ? [{ index: 0, delta, finish_reason: finish }] : [],
      usage,
    });
    events.push(chunk({ role: 'assistant', content: '' }));
    if (text !== '') events.push(chunk({ content: text }));
    calls.forEach((call, index) =>
      events.push(
        chunk({
          tool_calls: [
            {
              index,
              id: call.id,
              type: 'function',
              function: { name: call.name, arguments: JSON.stringify(call.args) },
            },
          ],
        }),
      ),
    );
    events.push(chunk({}, calls.length > 0 ? 'tool_calls' : 'stop'));
    events.push(
      chunk(null, null, {
        prompt_tokens: inputTokens,
        completion_tokens: outputTokens,
        total_tokens: inputTokens + outputTokens,
      }),
    );
  } else {
    throw new Error(`the wire server generates no ${protocol} turns (anthropic, openai-chat)`);
  }
  return events.map((e) => ({
    type: protocol === 'anthropic' ? (e as { type: string }).type : undefined,
    data: JSON.stringify(e),
  }));
}
