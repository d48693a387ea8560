import type {
  LanguageModelV4CustomPart,
  LanguageModelV4FunctionTool,
  LanguageModelV4Message,
  LanguageModelV4Prompt,
  LanguageModelV4ReasoningPart,
  LanguageModelV4TextPart,
  LanguageModelV4ToolCallPart,
  LanguageModelV4ToolResultOutput,
} from '@ai-sdk/provider';
import type {
  ModelAssistantMessage,
  ModelMessage,
  ModelToolCall,
  ModelToolResult,
  ModelToolSpec,
  ProviderMetadata,
} from '@longrun/core';
import { compactionPromptPart } from './native-compaction.ts';

/**
 * longrun's transcript → the AI SDK provider prompt (LanguageModelV4Prompt). Each provider
 * package then turns this into its wire format (Chat Completions `tool` messages, Responses
 * `function_call_output` items, Anthropic `tool_result` blocks in the next user message).
 */
export function toProviderPrompt(messages: ModelMessage[]): LanguageModelV4Prompt {
  return messages.map(toProviderMessage);
}

function toProviderMessage(message: ModelMessage): LanguageModelV4Message {
  switch (message.role) {
    case 'system':
      return { role: 'system', content: message.content };
    case 'user':
      return { role: 'user', content: [{ type: 'text', text: message.content }] };
    case 'assistant':
      return { role: 'assistant', content: assistantContent(message) };
    case 'tool':
      return {
        role: 'tool',
        content: message.results.map((result) => ({
          type: 'tool-result' as const,
          toolCallId: result.id,
          toolName: result.name,
          output: toResultOutput(result),
        })),
      };
  }
}

type AssistantPart =
  | LanguageModelV4TextPart
  | LanguageModelV4ReasoningPart
  | LanguageModelV4ToolCallPart
  | LanguageModelV4CustomPart;

/**
 * The turn's parts in the order the model produced them, each with the provider metadata it came
 * with given back as `providerOptions` — which is where the provider packages read a thinking
 * block's signature (Anthropic) or a reasoning item's id and encrypted content (OpenAI).
 */
function assistantContent(message: ModelAssistantMessage): AssistantPart[] {
  if (message.parts === undefined) {
    return [
      // An empty text part is refused by some providers (Anthropic): a turn that only called
      // tools carries no text part at all.
      ...(message.text === '' ? [] : [{ type: 'text' as const, text: message.text }]),
      ...message.toolCalls.map((call) => toolCallPart(call, call.providerMetadata)),
    ];
  }
  const content: AssistantPart[] = [];
  for (const part of message.parts) {
    if (part.type === 'tool-call') {
      const call = message.toolCalls[part.callIndex];
      if (call !== undefined) content.push(toolCallPart(call, part.providerMetadata));
    } else if (part.type === 'compaction') {
      content.push(compactionPromptPart(part));
    } else if (part.text !== '' || part.providerMetadata !== undefined) {
      content.push({ type: part.type, text: part.text, ...options(part.providerMetadata) });
    }
  }
  return content;
}

function toolCallPart(
  call: ModelToolCall,
  metadata: ProviderMetadata | undefined,
): LanguageModelV4ToolCallPart {
  return {
    type: 'tool-call',
    toolCallId: call.id,
    toolName: call.name,
    input: call.args,
    ...options(metadata),
  };
}

function options(metadata: ProviderMetadata | undefined): { providerOptions?: ProviderMetadata } {
  return metadata === undefined ? {} : { providerOptions: metadata };
}

/** Strings go as text (no JSON quoting for the model to read through); the rest as JSON. */
function toResultOutput(result: ModelToolResult): LanguageModelV4ToolResultOutput {
  const { output, isError } = result;
  if (typeof output === 'string') {
    return isError ? { type: 'error-text', value: output } : { type: 'text', value: output };
  }
  return isError ? { type: 'error-json', value: output } : { type: 'json', value: output };
}

export function toProviderTools(tools: ModelToolSpec[]): LanguageModelV4FunctionTool[] {
  return tools.map((tool) => ({
    type: 'function',
    name: tool.name,
    description: tool.description,
    inputSchema: tool.inputSchema,
  }));
}
