import type { LanguageModelV4 } from '@ai-sdk/provider';
import { LongrunError, type ModelClient } from '@longrun/core';
import { aiSdkModel } from './ai-sdk-model.ts';

/**
 * `LONGRUN_MODEL=<provider>:<model>` names the model; the provider decides the wire protocol:
 *
 * | provider            | protocol                        | needs                          |
 * | ------------------- | ------------------------------- | ------------------------------ |
 * | `openai`            | OpenAI Responses                | OPENAI_API_KEY                 |
 * | `openai-chat`       | OpenAI Chat Completions         | OPENAI_API_KEY                 |
 * | `anthropic`         | Anthropic Messages              | ANTHROPIC_API_KEY              |
 * | `openai-compatible` | Chat Completions (Ollama, vLLM) | OPENAI_BASE_URL (key optional) |
 *
 * `OPENAI_BASE_URL` / `ANTHROPIC_BASE_URL` point `openai`, `openai-chat` and `anthropic` at a
 * proxy. `LONGRUN_MODEL=scripted` forces the offline model even when keys are set.
 */
export const modelProviders = ['openai', 'openai-chat', 'anthropic', 'openai-compatible'] as const;
export type ModelProvider = (typeof modelProviders)[number];

/** The variable without which a provider cannot be reached. */
const requiredSetting: Record<ModelProvider, string> = {
  openai: 'OPENAI_API_KEY',
  'openai-chat': 'OPENAI_API_KEY',
  anthropic: 'ANTHROPIC_API_KEY',
  'openai-compatible': 'OPENAI_BASE_URL',
};

/** Used when LONGRUN_MODEL is unset and a key says which provider to use. */
export const defaultModels = {
  openai: 'gpt-5-mini',
  anthropic: 'claude-sonnet-4-5',
} as const;

const expectedForm =
  'expected <provider>:<model> with provider one of ' +
  `${modelProviders.join(', ')} (e.g. openai:gpt-5-mini, anthropic:claude-sonnet-4-5, ` +
  'openai-compatible:llama3.1), or `scripted`';

export interface ModelChoice {
  provider: ModelProvider;
  model: string;
}

/**
 * The model the environment asks for, or null when it configures none (no LONGRUN_MODEL, no
 * key, no base URL — or LONGRUN_MODEL=scripted): the caller then uses the scripted model.
 * A LONGRUN_MODEL that is malformed, or names a provider whose key is missing, is an
 * INVALID_ARGUMENT: asking for a real model and silently getting a replay would be worse.
 */
export function chooseModel(env: NodeJS.ProcessEnv = process.env): ModelChoice | null {
  const named = setting(env, 'LONGRUN_MODEL');
  if (named === undefined) {
    if (setting(env, 'OPENAI_API_KEY') !== undefined) {
      return { provider: 'openai', model: defaultModels.openai };
    }
    if (setting(env, 'ANTHROPIC_API_KEY') !== undefined) {
      return { provider: 'anthropic', model: defaultModels.anthropic };
    }
    if (setting(env, 'OPENAI_BASE_URL') !== undefined) {
      throw new LongrunError(
        'INVALID_ARGUMENT',
        'OPENAI_BASE_URL is set but LONGRUN_MODEL is not: name the served model, e.g. LONGRUN_MODEL=openai-compatible:llama3.1',
      );
    }
    return null;
  }
  if (named === 'scripted') return null;
  const match = /^([a-z-]+):(\S+)$/.exec(named);
  const provider = modelProviders.find((p) => p === match?.[1]);
  if (match === null || provider === undefined || match[2] === undefined) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `LONGRUN_MODEL=${JSON.stringify(named)} is malformed: ${expectedForm}`,
    );
  }
  const needs = requiredSetting[provider];
  if (setting(env, needs) === undefined) {
    throw new LongrunError('INVALID_ARGUMENT', `LONGRUN_MODEL=${named} needs ${needs} to be set`);
  }
  return { provider, model: match[2] };
}

/**
 * `chooseModel` made into a client; null means "use the scripted model". The provider's SDK is
 * loaded at the client's first call, not with this package: a process that never calls a model
 * from the environment (a worker whose agents name their own, the API) never pays for it.
 */
export function modelFromEnv(env: NodeJS.ProcessEnv = process.env): ModelClient | null {
  const choice = chooseModel(env);
  if (choice === null) return null;
  const id = `${choice.provider}:${choice.model}`;
  let client: Promise<ModelClient> | undefined;
  return {
    id,
    async stream(request, onTextDelta) {
      client ??= languageModel(choice, env).then((model) => aiSdkModel(model, { id }));
      return (await client).stream(request, onTextDelta);
    },
  };
}

/**
 * Builds the SDK model with every setting passed explicitly (never read from process.env by the
 * SDK), so `env` alone decides. Retries need no switching off: `doStream` has none.
 */
async function languageModel(
  choice: ModelChoice,
  env: NodeJS.ProcessEnv,
): Promise<LanguageModelV4> {
  const openaiBaseURL = setting(env, 'OPENAI_BASE_URL');
  switch (choice.provider) {
    case 'openai':
    case 'openai-chat': {
      const { createOpenAI } = await import('@ai-sdk/openai');
      const openai = createOpenAI({
        apiKey: setting(env, 'OPENAI_API_KEY'),
        baseURL: openaiBaseURL ?? 'https://api.openai.com/v1',
      });
      return choice.provider === 'openai'
        ? openai.responses(choice.model)
        : openai.chat(choice.model);
    }
    case 'anthropic': {
      const { createAnthropic } = await import('@ai-sdk/anthropic');
      return createAnthropic({
        apiKey: setting(env, 'ANTHROPIC_API_KEY'),
        baseURL: setting(env, 'ANTHROPIC_BASE_URL') ?? 'https://api.anthropic.com/v1',
      })(choice.model);
    }
    case 'openai-compatible': {
      const { createOpenAICompatible } = await import('@ai-sdk/openai-compatible');
      return createOpenAICompatible({
        name: 'openai-compatible',
        baseURL: openaiBaseURL ?? '',
        apiKey: setting(env, 'OPENAI_API_KEY'),
        // Without it the server sends no usage while streaming, and every call would log 0 tokens.
        includeUsage: true,
      }).chatModel(choice.model);
    }
  }
}

/** An unset and an empty variable mean the same: `OPENAI_API_KEY= longrun run …` opts out. */
function setting(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}
