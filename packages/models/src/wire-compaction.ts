import type { WireProtocol } from './wire-protocols.ts';

/**
 * The wire server's native compaction (Anthropic's `compact_20260112` context management): a
 * request that asks for it and passes its trigger is answered with a `compaction` block ahead of
 * the turn, as the API does. The block's content is a made-up summary and its signature names
 * the request, so a test can check both come back unchanged.
 */
export interface ServedCompaction {
  content: string;
  signature: string;
}

type Body = {
  context_management?: { edits?: { type?: string; trigger?: { value?: number } }[] };
  messages?: unknown[];
};

/** The compaction block for request `index` of `tokens` tokens, or null when none is due. */
export function compactionFor(
  protocol: WireProtocol,
  body: unknown,
  tokens: number,
  index: number,
): ServedCompaction | null {
  if (protocol !== 'anthropic') return null;
  const { context_management, messages = [] } = body as Body;
  const edit = context_management?.edits?.find((e) => e.type === 'compact_20260112');
  // The API's default trigger is 150,000 input tokens.
  if (edit === undefined || tokens <= (edit.trigger?.value ?? 150_000)) return null;
  return {
    content: `Summary of the ${messages.length} messages before request ${index}.`,
    signature: `compaction-signature-${index}`,
  };
}
