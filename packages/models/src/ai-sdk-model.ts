import type {
  LanguageModelV3,
  LanguageModelV4,
  LanguageModelV4CallOptions,
  LanguageModelV4StreamPart,
  LanguageModelV4ToolChoice,
  SharedV4ProviderOptions,
} from '@ai-sdk/provider';
import {
  LongrunError,
  systemClock,
  type Clock,
  type FinishReason,
  type ModelClient,
  type ModelRequest,
  type ModelResponse,
  type ModelToolChoice,
  type ModelToolCall,
} from '@longrun/core';
import { requestError, streamError } from './model-errors.ts';
import { toProviderPrompt, toProviderTools } from './prompt-mapping.ts';
import { isCompactionItem, nativeCompactionOf } from './native-compaction.ts';
import { mergeProviderMetadata, plainMetadata } from './provider-metadata.ts';
import { reportedCostUsd } from './reported-cost.ts';
import { PartsCollector } from './response-parts.ts';
import { parseToolArgs } from './tool-args.ts';

/**
 * An AI SDK language model object as the `@ai-sdk/*` provider packages make them:
 * `anthropic('claude-sonnet-4-5')`, `openai.responses('gpt-5-mini')`. Specification v4 (AI SDK 7)
 * and v3 (AI SDK 6), whose streaming parts and call options longrun uses are the same.
 */
export type AiSdkLanguageModel = LanguageModelV4 | LanguageModelV3;

export interface AiSdkModelOptions {
  /** The client's id, e.g. `openai:gpt-5-mini`; defaults to `<provider family>:<model id>`. */
  id?: string;
  /**
   * Passed to every call as the SDK's `providerOptions` (e.g. `{ openai: { store: false } }`);
   * a request's own `providerOptions` win, provider by provider.
   */
  providerOptions?: SharedV4ProviderOptions;
  /** Measures `Retry-After` dates; injected so tests need no real time. */
  clock?: Clock;
  /**
   * Whether the model continues a last assistant message (`ModelClient.supportsAssistantPrefill`).
   * Default: yes for Anthropic Messages models (`anthropic.messages`, also behind Vertex), no
   * for the rest. Say false for a model that refuses a prefill (extended thinking on, or a model
   * that dropped prefill); one that does anyway costs one refused attempt, then starts over.
   */
  assistantPrefill?: boolean;
}

/** Providers whose API continues a final assistant message (the AI SDK's `provider` string). */
function prefillsByDefault(provider: string): boolean {
  return provider === 'anthropic.messages' || provider.endsWith('.anthropic.messages');
}

/**
 * A model of the AI SDK provider interface (LanguageModelV4 of AI SDK 7, or V3) behind longrun's
 * model port. `doStream` is called directly — one HTTP request per `stream` call, because the
 * SDK's retries live in `generateText`/`streamText`, which this does not use — so the harness's
 * retry policy is the only one and every attempt is seen and recorded. Reasoning parts and
 * provider metadata go both ways: read from the stream into `parts`, sent back from the
 * transcript's `parts` as the SDK's `providerOptions`.
 */
export function aiSdkModel(
  languageModel: AiSdkLanguageModel,
  options: AiSdkModelOptions = {},
): ModelClient {
  // V3 differs from V4 only in parts longrun neither sends nor reads (reasoning files, custom).
  const model = languageModel as LanguageModelV4;
  const family = model.provider.split('.')[0] ?? model.provider;
  const id = options.id ?? `${family}:${model.modelId}`;
  const clock = options.clock ?? systemClock;
  const compaction = nativeCompactionOf(model.provider);
  return {
    id,
    supportsAssistantPrefill: options.assistantPrefill ?? prefillsByDefault(model.provider),
    ...(compaction === undefined ? {} : { nativeCompactionOptions: compaction.options }),
    async stream(request, onTextDelta) {
      const signal = request.signal;
      signal?.throwIfAborted();
      let result: Awaited<ReturnType<LanguageModelV4['doStream']>>;
      try {
        result = await model.doStream(callOptions(request, options.providerOptions));
      } catch (error) {
        // An abort is the caller's decision, not a model failure: it gets its own reason back.
        signal?.throwIfAborted();
        throw requestError(error, id, clock.nowMs());
      }
      const { answeredBy, ...reply } = await readStream(result.stream, onTextDelta, id, signal);
      return { ...reply, modelId: `${family}:${answeredBy ?? model.modelId}` };
    },
  };
}

function callOptions(
  request: ModelRequest,
  clientOptions: SharedV4ProviderOptions | undefined,
): LanguageModelV4CallOptions {
  const options: LanguageModelV4CallOptions = { prompt: toProviderPrompt(request.messages) };
  if (request.tools.length > 0) {
    options.tools = toProviderTools(request.tools);
    options.toolChoice = toolChoice(request.toolChoice ?? 'auto');
  }
  if (request.maxOutputTokens !== undefined) options.maxOutputTokens = request.maxOutputTokens;
  if (request.temperature !== undefined) options.temperature = request.temperature;
  if (request.signal !== undefined) options.abortSignal = request.signal;
  const providerOptions = mergeProviderMetadata(clientOptions, request.providerOptions);
  if (providerOptions !== undefined) options.providerOptions = providerOptions;
  return options;
}

function toolChoice(choice: ModelToolChoice): LanguageModelV4ToolChoice {
  switch (choice) {
    case 'auto':
    case 'none':
    case 'required':
      return { type: choice };
    default:
      return choice;
  }
}

interface StreamedReply extends Omit<ModelResponse, 'modelId'> {
  /** The model the provider says answered (often a dated snapshot of the one asked for). */
  answeredBy: string | undefined;
}

/**
 * Reads the provider's stream to its end. Text deltas go to `onTextDelta` as they arrive, before
 * anything else happens, so a reader sees partial output even when the stream then breaks. The
 * stream must end with exactly one `finish` part that is not `interrupted`; anything else (an
 * `error` part — which is how the SDK reports a malformed chunk —, a broken connection, an end
 * without a finish) is MODEL_OUTPUT_INVALID, and the HTTP response is cancelled at once.
 */
async function readStream(
  stream: ReadableStream<LanguageModelV4StreamPart>,
  onTextDelta: (text: string) => void,
  what: string,
  signal: AbortSignal | undefined,
): Promise<StreamedReply> {
  const reader = stream.getReader();
  let text = '';
  const toolCalls: ModelToolCall[] = [];
  const parts = new PartsCollector();
  let answeredBy: string | undefined;
  let finish: Extract<LanguageModelV4StreamPart, { type: 'finish' }> | undefined;
  let ended = false;
  try {
    for (;;) {
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await reader.read();
      } catch (error) {
        signal?.throwIfAborted();
        throw streamError(error, what);
      }
      if (next.done) {
        ended = true;
        break;
      }
      const part = next.value;
      switch (part.type) {
        case 'text-start':
        case 'text-end':
        case 'reasoning-start':
        case 'reasoning-delta':
        case 'reasoning-end':
          parts.add(part);
          break;
        case 'text-delta':
          // A compaction block's summary is no answer; Chat Completions opens with an empty
          // content delta: readers have no use for either.
          if (parts.add(part) === 'compaction' || part.delta === '') break;
          text += part.delta;
          onTextDelta(part.delta);
          break;
        case 'tool-call':
          // Provider-executed tools (web search and the like) are not longrun's to run.
          if (part.providerExecuted !== true) {
            const call: ModelToolCall = {
              id: part.toolCallId,
              name: part.toolName,
              args: parseToolArgs(part.input),
            };
            const metadata = plainMetadata(part.providerMetadata);
            if (metadata !== undefined) call.providerMetadata = metadata;
            parts.addToolCall(toolCalls.length, part.providerMetadata);
            toolCalls.push(call);
          }
          break;
        case 'custom':
          if (isCompactionItem(part.kind)) parts.addCompaction(part.providerMetadata);
          break;
        case 'response-metadata':
          answeredBy ??= part.modelId;
          break;
        case 'finish':
          finish = part;
          break;
        case 'error':
          throw new LongrunError('MODEL_OUTPUT_INVALID', `${what} stream reported an error`, {
            cause: part.error,
          });
        default:
          // Tool-input deltas, pings, sources: the assembled tool-call parts carry what the
          // port returns.
          break;
      }
    }
  } finally {
    // On an early exit, stop the HTTP stream now rather than leave the provider talking.
    if (!ended) reader.cancel().catch(() => undefined);
  }
  return {
    text,
    toolCalls,
    answeredBy,
    ...parts.result(),
    ...finished(finish, toolCalls.length > 0, what),
  };
}

function finished(
  finish: Extract<LanguageModelV4StreamPart, { type: 'finish' }> | undefined,
  hasToolCalls: boolean,
  what: string,
): Pick<ModelResponse, 'finishReason' | 'usage' | 'providerMetadata'> {
  if (finish === undefined) {
    throw new LongrunError('MODEL_OUTPUT_INVALID', `${what} stream ended without finishing`);
  }
  const unified = finish.finishReason.unified;
  // The SDK reports a stream that closed cleanly but without the provider's end marker as
  // `interrupted`: the output may be cut anywhere, so it is no answer.
  if (unified === 'interrupted') {
    throw new LongrunError(
      'MODEL_OUTPUT_INVALID',
      `${what} stream ended before the model finished`,
    );
  }
  // Some OpenAI-compatible servers (Ollama) say `stop` for a turn that called tools.
  const finishReason: FinishReason = unified === 'stop' && hasToolCalls ? 'tool-calls' : unified;
  const metadata = plainMetadata(finish.providerMetadata);
  const costUsd = reportedCostUsd(metadata);
  return {
    finishReason,
    usage: {
      ...(costUsd === undefined ? {} : { costUsd }),
      inputTokens: finish.usage.inputTokens.total ?? 0,
      outputTokens: finish.usage.outputTokens.total ?? 0,
      // Budgets price cached input at its own rate; recorded only when the provider reports it.
      ...(finish.usage.inputTokens.cacheRead
        ? { cacheReadTokens: finish.usage.inputTokens.cacheRead }
        : {}),
      ...(finish.usage.inputTokens.cacheWrite
        ? { cacheWriteTokens: finish.usage.inputTokens.cacheWrite }
        : {}),
    },
    ...(metadata === undefined ? {} : { providerMetadata: metadata }),
  };
}
