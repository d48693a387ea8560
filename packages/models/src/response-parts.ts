import type { LanguageModelV4StreamPart, SharedV4ProviderMetadata } from '@ai-sdk/provider';
import type { ResponsePart } from '@longrun/core';
import { isCompactionBlock } from './native-compaction.ts';
import { mergeProviderMetadata, plainMetadata } from './provider-metadata.ts';

type BlockPart = Extract<
  LanguageModelV4StreamPart,
  {
    type:
      | 'text-start'
      | 'text-delta'
      | 'text-end'
      | 'reasoning-start'
      | 'reasoning-delta'
      | 'reasoning-end';
  }
>;

type Block = Extract<ResponsePart, { type: 'text' | 'reasoning' | 'compaction' }>;

/**
 * Assembles a streamed turn's parts in the order their blocks started: text and reasoning from
 * their start/delta/end events (keyed by block id), tool calls where they completed. Provider
 * metadata may come on any event of a block — Anthropic sends a thinking block's signature on
 * a delta, OpenAI a reasoning item's encrypted content on its end — so it is merged over the
 * block's life, provider by provider. A text block that opens as a provider's compaction block
 * is a `compaction` part, not text.
 */
export class PartsCollector {
  readonly #parts: ResponsePart[] = [];
  /** Open text and reasoning blocks by `<kind>:<id>`. */
  readonly #open = new Map<string, Block>();

  /** Adds a block event; says what the block is (text deltas of a compaction are not text). */
  add(part: BlockPart): Block['type'] {
    const kind = part.type.startsWith('text') ? 'text' : 'reasoning';
    const key = `${kind}:${part.id}`;
    const block = this.#open.get(key) ?? this.#start(key, kind, part.providerMetadata);
    if ('delta' in part) block.text += part.delta;
    if (part.providerMetadata !== undefined) {
      const merged = mergeProviderMetadata(block.providerMetadata, part.providerMetadata);
      if (merged !== undefined) block.providerMetadata = merged;
    }
    // An id may be reused for a later block (Anthropic numbers blocks by index per message).
    if (part.type.endsWith('-end')) this.#open.delete(key);
    return block.type;
  }

  #start(
    key: string,
    kind: 'text' | 'reasoning',
    metadata: SharedV4ProviderMetadata | undefined,
  ): Block {
    const plain = plainMetadata(metadata);
    const block: Block =
      kind === 'text' && plain !== undefined && isCompactionBlock(plain)
        ? { type: 'compaction', text: '', providerMetadata: plain }
        : { type: kind, text: '' };
    this.#open.set(key, block);
    this.#parts.push(block);
    return block;
  }

  /** A compaction item that came whole (OpenAI's), with what identifies it. */
  addCompaction(providerMetadata: SharedV4ProviderMetadata | undefined): void {
    this.#parts.push({
      type: 'compaction',
      text: '',
      providerMetadata: plainMetadata(providerMetadata) ?? {},
    });
  }

  addToolCall(callIndex: number, providerMetadata: SharedV4ProviderMetadata | undefined): void {
    const part: ResponsePart = { type: 'tool-call', callIndex };
    const metadata = plainMetadata(providerMetadata);
    if (metadata !== undefined) part.providerMetadata = metadata;
    this.#parts.push(part);
  }

  /**
   * The parts, or nothing when they say no more than `text` then `toolCalls` would: no
   * reasoning, no provider metadata, text first. Plain turns stay as small in the log as before.
   */
  result(): { parts?: ResponsePart[] } {
    // Chat Completions opens with an empty text block; a part with nothing in it is no part.
    const parts = this.#parts.filter(
      (p) => p.type !== 'text' || p.text !== '' || p.providerMetadata !== undefined,
    );
    const plain = parts.every(
      (p, i) =>
        p.providerMetadata === undefined &&
        p.type !== 'reasoning' &&
        (p.type === 'tool-call' || i === 0),
    );
    return plain ? {} : { parts };
  }
}
