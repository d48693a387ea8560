/**
 * A worker process running an agent whose model is a raw AI SDK model object pointed at a wire
 * server, for the reasoning-across-a-crash test:
 * `node reasoning-worker-process.ts <storeUrl> <workerId> <dir> <anthropic|openai-responses> <baseURL>`.
 *
 * Its one tool, `read_file`, is an AI SDK `tool({...})` marked idempotent. It blocks until
 * `<dir>/gate` exists, so a test can kill the worker between the first model turn and the second.
 *
 * Reports on stdout, one line each: `ready`, `ack <seq> <type>` for every acknowledged event
 * (startReportingWorker), `tool <attempt>` when the tool starts running.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { tool } from '@ai-sdk/provider-utils';
import { z } from 'zod';
import type { ProviderMetadata, ToolContext } from '@longrun/core';
import { defineAgent, effect, type AgentModel } from '@longrun/runtime';
import { startReportingWorker } from '../reporting-worker.ts';

const [storeUrl = '', id = '', dir = '', protocol = '', baseURL = ''] = process.argv.slice(2);
const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const apiKey = 'sk-wire-test';

/** The provider's model object itself (no longrun wrapper), with its provider's reasoning on. */
function reasoningModel(): {
  model: AgentModel;
  providerOptions: ProviderMetadata;
} {
  if (protocol === 'anthropic') {
    return {
      model: createAnthropic({ apiKey, baseURL })('claude-sonnet-4-5'),
      providerOptions: { anthropic: { thinking: { type: 'enabled', budgetTokens: 2048 } } },
    };
  }
  return {
    model: createOpenAI({ apiKey, baseURL }).responses('gpt-5-mini'),
    // Stateless: the reasoning goes back as its encrypted content, not as a stored item id.
    providerOptions: { openai: { store: false, include: ['reasoning.encrypted_content'] } },
  };
}

const readFile = tool({
  description: 'Read a file of the workspace',
  inputSchema: z.object({ path: z.string() }),
  execute: async (_input, options) => {
    const context = (options as unknown as { context: ToolContext }).context;
    out(`tool ${context.attempt}`);
    while (!existsSync(join(dir, 'gate'))) {
      context.signal.throwIfAborted();
      await new Promise((r) => setTimeout(r, 20));
    }
    return 'export function add(a: number, b: number): number {\n  return a - b;\n}\n';
  },
});

const agent = defineAgent({
  name: 'reasoner',
  instructions: 'You fix failing tests.',
  ...reasoningModel(),
  tools: { read_file: effect('idempotent', readFile) },
  workspaceRoot: join(dir, 'workspaces'),
  workspaceSnapshots: false,
});

await startReportingWorker({ storeUrl, id, agents: [agent], purpose: 'reasoning' });
