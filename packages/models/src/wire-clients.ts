import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { Clock, ModelClient } from '@longrun/core';
import { aiSdkModel } from './ai-sdk-model.ts';
import type { WireProtocol } from './wire-protocols.ts';
import type { WireServer } from './wire-server.ts';

export interface WireClient {
  /** The protocol its requests speak (and so which fixtures to queue for it). */
  protocol: WireProtocol;
  client: ModelClient;
}

/**
 * The real SDK provider clients, pointed at a wire server: OpenAI Chat Completions, OpenAI
 * Responses, Anthropic Messages, and an OpenAI-compatible server (Chat Completions again, through
 * the separate @ai-sdk/openai-compatible package that Ollama and vLLM users get).
 */
export function wireClients(server: WireServer, clock?: Clock): Record<string, WireClient> {
  const apiKey = 'sk-wire-test';
  const baseURL = server.baseURL;
  const openai = createOpenAI({ apiKey, baseURL });
  const options = clock === undefined ? {} : { clock };
  return {
    'openai-chat': {
      protocol: 'openai-chat',
      client: aiSdkModel(openai.chat('gpt-5-mini'), options),
    },
    'openai-responses': {
      protocol: 'openai-responses',
      client: aiSdkModel(openai.responses('gpt-5-mini'), options),
    },
    anthropic: {
      protocol: 'anthropic',
      client: aiSdkModel(createAnthropic({ apiKey, baseURL })('claude-sonnet-4-5'), options),
    },
    'openai-compatible': {
      protocol: 'openai-chat',
      client: aiSdkModel(
        createOpenAICompatible({ name: 'ollama', baseURL, includeUsage: true }).chatModel(
          'llama3.1',
        ),
        options,
      ),
    },
  };
}
