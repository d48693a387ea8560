import { LongrunError, type ModelClient } from '@longrun/core';
import { aiSdkModel, type AiSdkLanguageModel } from './ai-sdk-model.ts';

/**
 * What an agent's `model` may be: an AI SDK language model object as the `@ai-sdk/*` provider
 * packages make them (`anthropic('claude-sonnet-4-5')`), or longrun's own `ModelClient` port
 * (`aiSdkModel(…)` with options, the scripted model, your own).
 */
export type AgentModel = ModelClient | AiSdkLanguageModel;

const supportedSpecs: readonly unknown[] = ['v3', 'v4'];

export function isModelClient(value: unknown): value is ModelClient {
  const v = value as Partial<ModelClient> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.id === 'string' &&
    typeof v.stream === 'function'
  );
}

function isLanguageModel(value: unknown): value is AiSdkLanguageModel {
  const v = value as Partial<AiSdkLanguageModel> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    supportedSpecs.includes(v.specificationVersion) &&
    typeof v.provider === 'string' &&
    typeof v.modelId === 'string' &&
    typeof v.doStream === 'function'
  );
}

const wrapped = new WeakMap<AiSdkLanguageModel, ModelClient>();

/**
 * The model client for an agent's `model` (or what its factory or `prepareStep` returned), or an
 * INVALID_ARGUMENT that says what to pass. An AI SDK model is wrapped once per object.
 */
export function toModelClient(value: unknown, where: string): ModelClient {
  if (isModelClient(value)) return value;
  if (isLanguageModel(value)) {
    let client = wrapped.get(value);
    if (client === undefined) {
      client = aiSdkModel(value);
      wrapped.set(value, client);
    }
    return client;
  }
  throw new LongrunError('INVALID_ARGUMENT', `${where} ${whatIsWrong(value)}`);
}

const whatToPass =
  'pass an AI SDK language model (e.g. anthropic("claude-sonnet-4-5") from @ai-sdk/anthropic, openai("gpt-5-mini") from @ai-sdk/openai), a longrun ModelClient (e.g. aiSdkModel(model, options) or scriptedModel(turns)), or a function returning one';

function whatIsWrong(value: unknown): string {
  if (typeof value === 'string') {
    return `is the string ${JSON.stringify(value)}: longrun does not resolve model ids (that is the AI Gateway's job); ${whatToPass}`;
  }
  const spec = (value as { specificationVersion?: unknown } | null)?.specificationVersion;
  if (typeof spec === 'string') {
    return `is an AI SDK model of specification ${spec}; longrun supports v3 (AI SDK 6) and v4 (AI SDK 7) — upgrade its @ai-sdk/* provider package, or ${whatToPass}`;
  }
  const shown = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
  return `is ${shown === 'object' ? 'an object that is no model' : shown}; ${whatToPass}`;
}
