import type { ProviderMetadata, ResponsePart, TokenUsage } from '../events.ts';
import type { SessionId } from '../ids.ts';
import type { JsonObject, JsonValue } from '../json.ts';

/** One message of the transcript a model call is given. Plain data; stored in the log. */
export type ModelMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string }
  | ModelAssistantMessage
  | { role: 'tool'; results: ModelToolResult[] };

export interface ModelAssistantMessage {
  role: 'assistant';
  text: string;
  toolCalls: ModelToolCall[];
  /**
   * The turn as the model produced it, in order: reasoning (with its signature or encrypted
   * content in `providerMetadata`), text and tool calls (`callIndex` into `toolCalls`). Absent
   * when the turn was plain text then tool calls with no provider metadata. A model client sends
   * every part back, so reasoning models (Anthropic extended thinking, OpenAI reasoning items)
   * continue across turns.
   */
  parts?: ResponsePart[];
}

export interface ModelToolCall {
  /** The provider's id for the call; results name it. */
  id: string;
  name: string;
  args: JsonObject;
  /** What the provider attached to the call (e.g. OpenAI's item id), sent back with it. */
  providerMetadata?: ProviderMetadata;
}

export interface ModelToolResult {
  id: string;
  name: string;
  output: JsonValue;
  isError: boolean;
}

export interface ModelToolSpec {
  name: string;
  description: string;
  /** JSON Schema of the tool's input object. */
  inputSchema: JsonObject;
}

/** How the model may use the tools: as it likes, not at all, some tool, or the named one. */
export type ModelToolChoice = 'auto' | 'none' | 'required' | { type: 'tool'; toolName: string };

/** Per-call settings an agent gives the model (the AI SDK's call settings of the same names). */
export interface ModelCallSettings {
  temperature?: number;
  maxOutputTokens?: number;
  /** Provider-specific options by provider, e.g. `{ anthropic: { thinking: { type: 'enabled', budgetTokens: 4000 } } }`. */
  providerOptions?: ProviderMetadata;
  /** Default `auto`. */
  toolChoice?: ModelToolChoice;
}

/** Which session's call this is: for the client's logs, traces, rate limits and keys. */
export interface ModelRequestContext {
  sessionId: SessionId;
  /** The model turn (1-based), as in `model.requested`. */
  step: number;
  /** The attempt at this step (1-based); a retry or a resume on another worker counts up. */
  attempt: number;
  /**
   * `summary`: the call writes the summary a compaction replaces the older transcript with,
   * before step `step`'s own call (its answer is recorded in `context.compacted`, not in
   * `model.responded`). Absent: the step's own call.
   */
  purpose?: 'summary';
}

export interface ModelRequest extends ModelCallSettings {
  messages: ModelMessage[];
  tools: ModelToolSpec[];
  signal?: AbortSignal;
  /** Set by the harness on every call; absent only for calls made outside a session. */
  context?: ModelRequestContext;
}

export type FinishReason = 'stop' | 'tool-calls' | 'length' | 'content-filter' | 'error' | 'other';

export interface ModelResponse {
  text: string;
  toolCalls: ModelToolCall[];
  /** The turn in order with reasoning and provider metadata; see `ModelAssistantMessage.parts`. */
  parts?: ResponsePart[];
  /** What the provider attached to the response as a whole (e.g. cache usage, response id). */
  providerMetadata?: ProviderMetadata;
  finishReason: FinishReason;
  usage: TokenUsage;
  /** Provider and model that answered, e.g. `openai:gpt-5-mini`. */
  modelId: string;
}

/**
 * One model, one attempt per call: `stream` sends the request, reports text deltas as they
 * arrive, and resolves with the whole response. It never retries; failures are LongrunErrors with
 * code MODEL_UNAVAILABLE (retryable; `details.retryAfterMs` when the provider said when),
 * MODEL_REJECTED (not retryable: bad request, bad key) or MODEL_OUTPUT_INVALID (a malformed or
 * cut stream; retryable). The harness owns retries so that every attempt is recorded.
 */
export interface ModelClient {
  readonly id: string;
  /**
   * The model continues a request whose last message is an assistant message with text only
   * (assistant prefill, as Anthropic's Messages API does): the response holds only what follows
   * that text. The harness then continues a stream that was cut mid-text from its durable text
   * instead of starting the turn again. Absent or false: no such request is ever sent.
   */
  readonly supportsAssistantPrefill?: boolean;
  /**
   * The provider compacts the transcript itself when asked (Anthropic compaction, OpenAI
   * Responses compaction): the provider options that ask it to once a request's input passes
   * `triggerTokens`. Its compaction item then comes back as a `compaction` part of the response,
   * ahead of the turn. Absent: the provider cannot, and the harness writes its own summaries.
   */
  readonly nativeCompactionOptions?: (triggerTokens: number) => ProviderMetadata;
  stream(request: ModelRequest, onTextDelta: (text: string) => void): Promise<ModelResponse>;
}

/**
 * The key under which a tool call's unparseable arguments are kept. A model sometimes streams
 * arguments that are not JSON, or JSON that is not an object. `ModelToolCall.args` is a JSON
 * object, so such a call is kept — not dropped, not thrown — as `{ [invalidToolArgsKey]: { raw,
 * reason } }`. The harness checks `readInvalidToolArgs(call.args)` before validating input and
 * answers such a call with a tool error result quoting `reason`, so the model sees its mistake
 * and the transcript still has exactly one result per call.
 */
export const invalidToolArgsKey = '__longrun_invalid_args';

export interface InvalidToolArgs {
  /** The argument text exactly as the model produced it. */
  raw: string;
  /** Why it is not a JSON object, in words meant for the model. */
  reason: string;
}

/** The unparseable arguments a call was kept with, or null when its args are a real object. */
export function readInvalidToolArgs(args: JsonObject): InvalidToolArgs | null {
  const marker: JsonValue | undefined = args[invalidToolArgsKey];
  if (marker === null || typeof marker !== 'object' || Array.isArray(marker)) return null;
  const { raw, reason } = marker;
  return typeof raw === 'string' && typeof reason === 'string' ? { raw, reason } : null;
}
