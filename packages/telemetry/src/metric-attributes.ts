import type { Attributes } from '@opentelemetry/api';

// Attribute names of the OpenTelemetry GenAI semantic conventions (the version is
// `semconvVersion`), written out here rather than imported from the conventions' incubating
// entry point, whose names may change between its releases.
export const genAi = {
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  tokenType: 'gen_ai.token.type',
  toolName: 'gen_ai.tool.name',
  agentName: 'gen_ai.agent.name',
  errorType: 'error.type',
} as const;

/**
 * A longrun model id (`<provider family>:<model>`, e.g. `openai:gpt-5-mini`, as @longrun/models
 * writes it) as the conventions' provider and model names. An id without a family (a scripted
 * model) is its own provider name.
 */
export function modelNames(modelId: string): { provider: string; model: string } {
  const colon = modelId.indexOf(':');
  if (colon <= 0) return { provider: modelId === '' ? 'unknown' : modelId, model: modelId };
  return { provider: modelId.slice(0, colon), model: modelId.slice(colon + 1) };
}

/** The attributes of one model call: operation `chat`, provider, requested and answering model. */
export function chatAttributes(requestedModelId: string, responseModelId?: string): Attributes {
  const requested = modelNames(requestedModelId);
  const attributes: Attributes = {
    [genAi.operationName]: 'chat',
    [genAi.providerName]: requested.provider,
    [genAi.requestModel]: requested.model,
  };
  if (responseModelId !== undefined && responseModelId !== '')
    attributes[genAi.responseModel] = modelNames(responseModelId).model;
  return attributes;
}
