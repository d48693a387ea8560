/**
 * The OpenTelemetry GenAI semantic conventions longrun's spans follow, pinned.
 *
 * By default the spans follow `semconvVersion` (1.37.0: the first version with
 * `gen_ai.provider.name` and the `invoke_agent`/`execute_tool` spans as emitted here). With
 * `OTEL_SEMCONV_STABILITY_OPT_IN` containing `gen_ai_latest_experimental` (a comma-separated list,
 * as the conventions' transition plan defines it) they follow `latestSemconvVersion` instead: the
 * schema URL changes, and the in-process `invoke_agent` span loses `gen_ai.agent.id` (the latest
 * conventions keep it for remote agents only). Attribute names are written out here rather than
 * imported from `@opentelemetry/semantic-conventions/incubating`, whose GenAI constants are
 * deprecated there (they moved to the GenAI conventions' own repository); `trace-semconv.test.ts`
 * checks each against that package, so a rename is caught.
 */
export const semconvVersion = '1.37.0';
export const latestSemconvVersion = '1.41.0';

export type SemconvStability = 'default' | 'latest';

/** `latest` when `OTEL_SEMCONV_STABILITY_OPT_IN` lists `gen_ai_latest_experimental`. */
export function semconvStabilityFrom(
  env: Readonly<Record<string, string | undefined>>,
): SemconvStability {
  const values = (env.OTEL_SEMCONV_STABILITY_OPT_IN ?? '').split(',').map((v) => v.trim());
  return values.includes('gen_ai_latest_experimental') ? 'latest' : 'default';
}

export function schemaUrlOf(stability: SemconvStability): string {
  const version = stability === 'latest' ? latestSemconvVersion : semconvVersion;
  return `https://opentelemetry.io/schemas/${version}`;
}

/** The `gen_ai.*` (and `error.type`) attribute names the spans carry. */
export const genAi = {
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  responseFinishReasons: 'gen_ai.response.finish_reasons',
  conversationId: 'gen_ai.conversation.id',
  agentName: 'gen_ai.agent.name',
  agentId: 'gen_ai.agent.id',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  cacheReadInputTokens: 'gen_ai.usage.cache_read.input_tokens',
  cacheCreationInputTokens: 'gen_ai.usage.cache_creation.input_tokens',
  toolName: 'gen_ai.tool.name',
  toolCallId: 'gen_ai.tool.call.id',
  toolType: 'gen_ai.tool.type',
  toolCallArguments: 'gen_ai.tool.call.arguments',
  toolCallResult: 'gen_ai.tool.call.result',
  inputMessages: 'gen_ai.input.messages',
  outputMessages: 'gen_ai.output.messages',
  errorType: 'error.type',
} as const;

/** The well-known `gen_ai.operation.name` values used. */
export const genAiOperation = {
  invokeAgent: 'invoke_agent',
  chat: 'chat',
  executeTool: 'execute_tool',
} as const;

/**
 * longrun's model ids are `<provider family>:<model>` (the AI SDK's provider family). The
 * families with a well-known `gen_ai.provider.name` map to it; any other is its own name.
 */
const providerNames: Readonly<Record<string, string>> = {
  openai: 'openai',
  anthropic: 'anthropic',
  google: 'gcp.gemini',
  vertex: 'gcp.vertex_ai',
  'google-vertex': 'gcp.vertex_ai',
  'amazon-bedrock': 'aws.bedrock',
  bedrock: 'aws.bedrock',
  azure: 'azure.ai.openai',
  mistral: 'mistral_ai',
  xai: 'x_ai',
  groq: 'groq',
  deepseek: 'deepseek',
  cohere: 'cohere',
  perplexity: 'perplexity',
};

/** `gen_ai.provider.name` and the model's own name, from a longrun model id. */
export function providerAndModel(modelId: string): { provider: string; model: string } {
  const colon = modelId.indexOf(':');
  if (colon <= 0) return { provider: '_OTHER', model: modelId };
  const family = modelId.slice(0, colon);
  return { provider: providerNames[family] ?? family, model: modelId.slice(colon + 1) };
}
