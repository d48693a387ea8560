import type { Attributes } from '@opentelemetry/api';
import { genAi, genAiOperation, providerAndModel } from './trace-semconv.ts';

/**
 * The attribute names the metrics carry: the spans' `gen_ai.*` names (trace-semconv.ts, the one
 * place they are written, and checked against the conventions' package), and the metrics' own.
 */
export const metricAttr = {
  ...genAi,
  /** `input` or `output`, on `gen_ai.client.token.usage`. */
  tokenType: 'gen_ai.token.type',
} as const;

/**
 * The attributes of one model call: operation `chat`, provider and requested model (from a
 * longrun model id, as the spans map them), and the model that answered when it is known.
 */
export function chatAttributes(requestedModelId: string, responseModelId?: string): Attributes {
  const requested = providerAndModel(requestedModelId);
  const attributes: Attributes = {
    [genAi.operationName]: genAiOperation.chat,
    [genAi.providerName]: requested.provider,
    [genAi.requestModel]: requested.model,
  };
  if (responseModelId !== undefined && responseModelId !== '')
    attributes[genAi.responseModel] = providerAndModel(responseModelId).model;
  return attributes;
}
