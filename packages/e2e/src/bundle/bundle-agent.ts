/**
 * The agent of the bundle tests, loaded by `longrun worker --agents` and `longrun replay --agents`.
 * Its model is a pure function of the transcript (the number of assistant turns it holds), so a
 * restarted worker answers the same. Its tools write the workspace (notes and PROGRESS.md), read a
 * credential from the environment and echo it (a leak only the bundle's redaction stops), and
 * deploy with a person's approval. Its first call's arguments are too large for the log. The
 * note called with `gate: true` waits, after writing, until `$LONGRUN_BUNDLE_DIR/open` exists:
 * the test kills the worker there.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { ModelClient, ModelResponse } from '@longrun/core';
import { defineAgent, defineTool } from '@longrun/runtime';

export const bundleAgentName = 'bundle-agent';

type Call = { name: string; args: Record<string, string | boolean> };

/**
 * About 48,000 characters: the plan's call has arguments too large for the log, kept in the
 * blob store (`inputRef`), carried by the bundle under `tool-inputs/` and given to the replay.
 */
const checklist = Array.from({ length: 2_000 }, (_, i) => `- [ ] check ${i + 1} of 2000\n`).join(
  '',
);

/** Tool calls per model step (1-based); a step past the script answers with text. */
export const bundleScript: readonly Call[][] = [
  [
    {
      name: 'note',
      args: { path: 'notes/plan.md', text: `# Plan\n\n1. check access\n2. deploy\n${checklist}` },
    },
  ],
  [{ name: 'whoami', args: {} }],
  [
    {
      name: 'note',
      args: { path: 'PROGRESS.md', text: '# Progress\n\n- access checked\n', gate: true },
    },
  ],
  [{ name: 'deploy', args: { service: 'api' } }],
  [
    {
      name: 'note',
      args: { path: 'PROGRESS.md', text: '# Progress\n\n- access checked\n- deployed\n' },
    },
    { name: 'note', args: { path: 'notes/done.md', text: 'done\n' } },
  ],
];

const dir = process.env.LONGRUN_BUNDLE_DIR ?? '.';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const model: ModelClient = {
  id: 'scripted:bundle',
  async stream(request, onTextDelta): Promise<ModelResponse> {
    const step = request.messages.filter((m) => m.role === 'assistant').length + 1;
    const calls = bundleScript[step - 1] ?? [];
    const text = calls.length === 0 ? `Done after ${step - 1} steps.` : `Step ${step}.`;
    onTextDelta(text);
    return {
      text,
      toolCalls: calls.map((c, i) => ({ id: `s${step}c${i}`, name: c.name, args: c.args })),
      finishReason: calls.length === 0 ? 'stop' : 'tool-calls',
      usage: { inputTokens: 100 + step, outputTokens: 10 },
      modelId: 'scripted:bundle',
    };
  },
};

const note = defineTool({
  name: 'note',
  description: 'writes a file of the workspace',
  input: z.object({ path: z.string(), text: z.string(), gate: z.boolean().optional() }),
  effect: 'idempotent',
  async run({ path, text, gate }, { files, signal }) {
    await files.writeFile(path, text);
    const deadline = Date.now() + 60_000;
    while (gate === true && !existsSync(join(dir, 'open'))) {
      if (Date.now() > deadline) throw new Error('the gate never opened');
      signal.throwIfAborted();
      await sleep(10);
    }
    return `wrote ${text.length} characters to ${path}`;
  },
});

const whoami = defineTool({
  name: 'whoami',
  description: 'checks the service credential',
  input: z.object({}),
  effect: 'pure',
  async run() {
    const key = process.env.SERVICE_API_KEY ?? '';
    // Careless on purpose: the credential reaches the log, and only the bundle's redaction keeps
    // it out of a bundle.
    return { user: 'svc-deploy', checkedWith: key };
  },
});

const deploy = defineTool({
  name: 'deploy',
  description: 'deploys a service',
  input: z.object({ service: z.string() }),
  effect: 'keyed',
  needsApproval: true,
  async run({ service }, { idempotencyKey }) {
    return { deployed: service, key: idempotencyKey.slice(-8) };
  },
});

export default defineAgent({
  name: bundleAgentName,
  model,
  instructions: 'Check access, then deploy, keeping PROGRESS.md up to date.',
  tools: [note, whoami, deploy],
  ...(process.env.LONGRUN_BUNDLE_WORKSPACES === undefined
    ? {}
    : { workspaceRoot: process.env.LONGRUN_BUNDLE_WORKSPACES }),
});
