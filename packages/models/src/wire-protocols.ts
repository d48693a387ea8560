import type { TranscriptStep } from './transcript-check.ts';

/**
 * What the wire server needs to know about each provider protocol: where it is served, how its
 * SSE events are framed, how its errors look, and how to read a request body's transcript as
 * transcript steps. Shapes follow the providers' public API references.
 */
export type WireProtocol = 'openai-chat' | 'openai-responses' | 'anthropic';

export const protocolByPath: Record<string, WireProtocol> = {
  '/v1/chat/completions': 'openai-chat',
  '/v1/responses': 'openai-responses',
  '/v1/messages': 'anthropic',
};

/** One SSE event as it goes on the wire; `event` lines only where the protocol uses them. */
export function frameEvent(protocol: WireProtocol, data: string, type: string | undefined): string {
  if (protocol === 'openai-chat' || type === undefined) return `data: ${data}\n\n`;
  return `event: ${type}\ndata: ${data}\n\n`;
}

/** What follows the last event: Chat Completions ends with a `[DONE]` sentinel, the others don't. */
export function streamTrailer(protocol: WireProtocol): string {
  return protocol === 'openai-chat' ? 'data: [DONE]\n\n' : '';
}

/** An error body in the protocol's own shape, with the error type its API uses for the status. */
export function errorBody(protocol: WireProtocol, status: number, message: string): unknown {
  if (protocol === 'anthropic') {
    return { type: 'error', error: { type: anthropicErrorType(status), message } };
  }
  const [type, code] = openaiErrorType(status);
  return { error: { message, type, param: null, code } };
}

function anthropicErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 529) return 'overloaded_error';
  return status >= 500 ? 'api_error' : 'invalid_request_error';
}

function openaiErrorType(status: number): [string, string | null] {
  if (status === 401) return ['invalid_request_error', 'invalid_api_key'];
  if (status === 429) return ['requests', 'rate_limit_exceeded'];
  return status >= 500 ? ['server_error', null] : ['invalid_request_error', null];
}

/** Reads the transcript out of a request body; throws on a body that is not the protocol's shape. */
export function transcriptSteps(protocol: WireProtocol, body: unknown): TranscriptStep[] {
  switch (protocol) {
    case 'openai-chat':
      return chatSteps(listField(body, 'messages'));
    case 'openai-responses':
      return responsesSteps(listField(body, 'input'));
    case 'anthropic':
      return anthropicSteps(listField(body, 'messages'));
  }
}

type Item = Record<string, unknown>;

function listField(body: unknown, field: string): Item[] {
  const list = isItem(body) ? body[field] : undefined;
  if (!Array.isArray(list) || !list.every(isItem)) {
    throw new Error(`request body has no \`${field}\` array of objects`);
  }
  return list;
}

function isItem(value: unknown): value is Item {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Chat Completions: `tool_calls` on assistant messages, one `tool` message per result. */
function chatSteps(messages: Item[]): TranscriptStep[] {
  const steps: TranscriptStep[] = [];
  for (const message of messages) {
    if (message.role === 'user') steps.push({ kind: 'turn', role: 'user' });
    if (message.role === 'assistant') {
      steps.push({ kind: 'turn', role: 'assistant' });
      const calls = Array.isArray(message.tool_calls) ? message.tool_calls.filter(isItem) : [];
      for (const call of calls) steps.push({ kind: 'call', id: text(call.id) });
    }
    if (message.role === 'tool') steps.push({ kind: 'result', id: text(message.tool_call_id) });
  }
  return steps;
}

/**
 * Responses: loose `function_call` / `function_call_output` items between messages. A turn that
 * only called tools has no assistant message, so a call that follows anything but another call
 * or an assistant message opens a new assistant turn.
 */
function responsesSteps(items: Item[]): TranscriptStep[] {
  const steps: TranscriptStep[] = [];
  let previous: 'call' | 'assistant' | 'other' = 'other';
  for (const item of items) {
    if (item.type === 'function_call') {
      if (previous === 'other') steps.push({ kind: 'turn', role: 'assistant' });
      steps.push({ kind: 'call', id: text(item.call_id) });
      previous = 'call';
    } else if (item.type === 'function_call_output') {
      steps.push({ kind: 'result', id: text(item.call_id) });
      previous = 'other';
    } else if (item.role === 'assistant') {
      steps.push({ kind: 'turn', role: 'assistant' });
      previous = 'assistant';
    } else {
      if (item.role === 'user') steps.push({ kind: 'turn', role: 'user' });
      previous = 'other';
    }
  }
  return steps;
}

/** Anthropic: `tool_use` blocks in the assistant turn, `tool_result` blocks opening the next user turn. */
function anthropicSteps(messages: Item[]): TranscriptStep[] {
  const steps: TranscriptStep[] = [];
  for (const message of messages) {
    const blocks = Array.isArray(message.content) ? message.content.filter(isItem) : [];
    if (message.role === 'assistant') {
      steps.push({ kind: 'turn', role: 'assistant' });
      for (const block of blocks) {
        if (block.type === 'tool_use') steps.push({ kind: 'call', id: text(block.id) });
      }
    }
    if (message.role === 'user') {
      for (const block of blocks) {
        if (block.type === 'tool_result')
          steps.push({ kind: 'result', id: text(block.tool_use_id) });
      }
      const saysMore =
        typeof message.content === 'string' || blocks.some((b) => b.type !== 'tool_result');
      if (saysMore) steps.push({ kind: 'turn', role: 'user' });
    }
  }
  return steps;
}
