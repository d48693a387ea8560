import { isDeepStrictEqual } from 'node:util';
import type { FixtureEvent } from './wire-fixtures.ts';
import type { WireProtocol } from './wire-protocols.ts';

/**
 * The reasoning a reply carried, as the provider requires it back: Anthropic thinking blocks
 * (text and signature) and redacted thinking (data), which must open the assistant turn that
 * made the tool calls; OpenAI Responses reasoning items (id, encrypted content, summary), which
 * must come before the turn's `function_call` items. A client that drops or alters them gets a
 * 400 from the real APIs when thinking is on, and from the wire server when a reply asks.
 */
export interface ServedReasoning {
  protocol: WireProtocol;
  /** In the order served, each as the request must carry it. */
  blocks: Record<string, unknown>[];
  /** Provider ids of the turn's tool calls. */
  callIds: string[];
}

type Item = Record<string, unknown>;

const isItem = (value: unknown): value is Item =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The reasoning in a fixture's events, or null when it has none to send back. */
export function reasoningOf(
  protocol: WireProtocol,
  events: FixtureEvent[],
): ServedReasoning | null {
  const payloads = events.map((e) => JSON.parse(e.data) as Item);
  const served =
    protocol === 'anthropic'
      ? anthropicReasoning(payloads)
      : protocol === 'openai-responses'
        ? responsesReasoning(payloads)
        : null;
  return served === null || served.blocks.length === 0 ? null : { protocol, ...served };
}

function anthropicReasoning(events: Item[]): Omit<ServedReasoning, 'protocol'> {
  const blocks: Item[] = [];
  const byIndex = new Map<unknown, Item>();
  const callIds: string[] = [];
  for (const event of events) {
    const block = event.content_block;
    if (event.type === 'content_block_start' && isItem(block)) {
      if (block.type === 'thinking') {
        const thinking = { type: 'thinking', thinking: '', signature: '' };
        byIndex.set(event.index, thinking);
        blocks.push(thinking);
      }
      if (block.type === 'redacted_thinking') {
        blocks.push({ type: 'redacted_thinking', data: block.data });
      }
      if (block.type === 'tool_use') callIds.push(String(block.id));
    }
    const delta = event.delta;
    const open = byIndex.get(event.index);
    if (event.type === 'content_block_delta' && isItem(delta) && open !== undefined) {
      if (delta.type === 'thinking_delta')
        open.thinking = `${String(open.thinking)}${String(delta.thinking)}`;
      if (delta.type === 'signature_delta') open.signature = delta.signature;
    }
  }
  return { blocks, callIds };
}

function responsesReasoning(events: Item[]): Omit<ServedReasoning, 'protocol'> {
  const blocks: Item[] = [];
  const callIds: string[] = [];
  for (const event of events) {
    const item = event.item;
    if (event.type !== 'response.output_item.done' || !isItem(item)) continue;
    if (item.type === 'reasoning' && typeof item.encrypted_content === 'string') {
      blocks.push({
        type: 'reasoning',
        id: item.id,
        encrypted_content: item.encrypted_content,
        summary: item.summary,
      });
    }
    if (item.type === 'function_call') callIds.push(String(item.call_id));
  }
  return { blocks, callIds };
}

/** What is wrong with how a request carries earlier reasoning back, or null when nothing is. */
export function reasoningProblem(body: unknown, served: ServedReasoning): string | null {
  if (!isItem(body)) return 'the request body is not an object';
  return served.protocol === 'anthropic'
    ? anthropicProblem(body, served)
    : responsesProblem(body, served);
}

const pick = (value: Item, keys: string[]): Item =>
  Object.fromEntries(keys.map((k) => [k, value[k]]));

function anthropicProblem(body: Item, served: ServedReasoning): string | null {
  const messages = Array.isArray(body.messages) ? body.messages.filter(isItem) : [];
  const turn = messages.find(
    (m) =>
      m.role === 'assistant' &&
      Array.isArray(m.content) &&
      m.content.some((b) => isItem(b) && b.type === 'tool_use' && b.id === served.callIds[0]),
  );
  if (turn === undefined) return `no assistant turn carries the tool_use ${served.callIds[0]}`;
  const content = (turn.content as unknown[]).filter(isItem);
  const opening = content.slice(0, served.blocks.length).map((b) =>
    // cache_control and other request-only keys do not change the block.
    pick(b, b.type === 'thinking' ? ['type', 'thinking', 'signature'] : ['type', 'data']),
  );
  if (isDeepStrictEqual(opening, served.blocks)) return null;
  return `the assistant turn with tool_use ${served.callIds[0]} must start with the thinking blocks served, unchanged (signature included); it starts with ${JSON.stringify(content.slice(0, served.blocks.length))}`;
}

function responsesProblem(body: Item, served: ServedReasoning): string | null {
  const input = Array.isArray(body.input) ? body.input.filter(isItem) : [];
  const firstCall = input.findIndex(
    (i) => i.type === 'function_call' && i.call_id === served.callIds[0],
  );
  if (firstCall < 0) return `no function_call item carries the call ${served.callIds[0]}`;
  for (const block of served.blocks) {
    const at = input.findIndex((i) => i.type === 'reasoning' && i.id === block.id);
    const sent = input[at];
    if (sent === undefined) return `the reasoning item ${String(block.id)} was not sent back`;
    if (at > firstCall) {
      return `the reasoning item ${String(block.id)} comes after the function_call it preceded`;
    }
    if (!isDeepStrictEqual(pick(sent, ['type', 'id', 'encrypted_content', 'summary']), block)) {
      return `the reasoning item ${String(block.id)} came back altered: ${JSON.stringify(sent)}`;
    }
  }
  return null;
}
