import type {
  LanguageModelV4CustomPart,
  LanguageModelV4TextPart,
  SharedV4ProviderMetadata,
} from '@ai-sdk/provider';
import type { ProviderMetadata, ResponsePart } from '@longrun/core';

/**
 * Native compaction, provider by provider: how a provider is asked to compact the transcript
 * itself, how its compaction item is told apart in a response, and how it is sent back. The
 * provider strings and metadata shapes are the AI SDK's (`@ai-sdk/anthropic`, `@ai-sdk/openai`);
 * no other file looks at them.
 */
interface NativeCompaction {
  /** The provider options that ask for a compaction once the input passes `triggerTokens`. */
  options: (triggerTokens: number) => ProviderMetadata;
}

const byProvider: Record<string, NativeCompaction> = {
  // Server-side compaction (beta compact-2026-01-12): a `compaction` block opens the response.
  'anthropic.messages': {
    options: (value) => ({
      anthropic: {
        contextManagement: {
          edits: [{ type: 'compact_20260112', trigger: { type: 'input_tokens', value } }],
        },
      },
    }),
  },
  // Responses context management: a `compaction` output item (encrypted) opens the response.
  'openai.responses': {
    options: (compactThreshold) => ({
      openai: { contextManagement: [{ type: 'compaction', compactThreshold }] },
    }),
  },
};

/** How the AI SDK provider of `provider` (its `provider` string) compacts natively, if it does. */
export function nativeCompactionOf(provider: string): NativeCompaction | undefined {
  return byProvider[provider];
}

/** The stream part kind of an OpenAI Responses compaction item (a `custom` part). */
const openaiCompactionKind = 'openai.compaction';

/** Whether a text block's metadata says it is Anthropic's compaction block, not model text. */
export function isCompactionBlock(metadata: SharedV4ProviderMetadata | undefined): boolean {
  return metadata?.anthropic?.type === 'compaction';
}

/** Whether a `custom` stream part is OpenAI's compaction item. */
export function isCompactionItem(kind: string): boolean {
  return kind === openaiCompactionKind;
}

/**
 * A recorded compaction part as the AI SDK takes it back: Anthropic's as a text part whose
 * options say `compaction` (sent as a `compaction` block, signature included); OpenAI's as the
 * custom part it came as (sent as the compaction item, or a reference to it when stored).
 */
export function compactionPromptPart(
  part: Extract<ResponsePart, { type: 'compaction' }>,
): LanguageModelV4TextPart | LanguageModelV4CustomPart {
  if (part.providerMetadata.anthropic !== undefined) {
    return { type: 'text', text: part.text, providerOptions: part.providerMetadata };
  }
  return { type: 'custom', kind: openaiCompactionKind, providerOptions: part.providerMetadata };
}
