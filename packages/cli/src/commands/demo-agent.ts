import { randomUUID, createHash } from 'node:crypto';
import { appendFileSync, linkSync, mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  LongrunError,
  type JsonObject,
  type JsonValue,
  type ModelClient,
  type ModelRequest,
  type ModelResponse,
  type Tool,
  type ToolContext,
} from '@longrun/core';
import { defineAgent, pause, type AgentDefinition } from '@longrun/runtime';

/** What a demo session is created with; the demo model reads it from the task message. */
export interface DemoInput {
  /** Model turns that each call one tool; one more turn gives the final answer. */
  steps: number;
  /** Simulated latency of each tool call, milliseconds. */
  toolDelayMs: number;
}

export const demoAgentName = 'ledger-demo';

/**
 * The agent `longrun demo` runs: a deterministic local model (no network) that, at every step,
 * asks for one tool call — a keyed effect on an external ledger (`ledger_apply`) at odd steps, an
 * idempotent append to a work file (`work_append`) at even ones — and answers after `steps` of
 * them. Both live under `dir`, outside longrun, where a crashed run's effects can be counted.
 */
export function demoAgent(dir: string): AgentDefinition {
  return defineAgent({
    name: demoAgentName,
    instructions: 'Call one tool per step, as the task says, then report.',
    model: demoModel(),
    tools: [ledgerApply(join(dir, 'ledger')), workAppend(join(dir, 'work.log'))],
    maxSteps: 100_001,
    workspaceRoot: join(dir, 'workspaces'),
    workspaceSnapshots: false,
  });
}

/** A model that decides from the transcript alone, so every worker that resumes it decides alike. */
function demoModel(): ModelClient {
  return {
    id: 'longrun:demo',
    stream(request: ModelRequest): Promise<ModelResponse> {
      const input = readInput(request);
      const step =
        request.context?.step ?? request.messages.filter((m) => m.role === 'assistant').length + 1;
      const usage = { inputTokens: 12, outputTokens: 8 };
      const answer = (text: string, toolCalls: ModelResponse['toolCalls']): ModelResponse => ({
        text,
        toolCalls,
        finishReason: toolCalls.length > 0 ? 'tool-calls' : 'stop',
        usage,
        modelId: 'longrun:demo',
      });
      if (step > input.steps) {
        return Promise.resolve(answer(`done: ${input.steps} steps`, []));
      }
      const [name, args]: [string, JsonObject] =
        step % 2 === 0
          ? ['work_append', { line: `step ${step}`, delayMs: input.toolDelayMs }]
          : ['ledger_apply', { entry: `step-${step}`, delayMs: input.toolDelayMs }];
      const call = { id: `call_${step}`, name, args };
      return Promise.resolve(answer(`step ${step}: calling ${name}`, [call]));
    },
  };
}

function readInput(request: ModelRequest): DemoInput {
  const task = request.messages.find((m) => m.role === 'user');
  try {
    const input = JSON.parse(task?.content ?? '') as Partial<DemoInput>;
    if (Number.isSafeInteger(input.steps) && Number.isSafeInteger(input.toolDelayMs))
      return input as DemoInput;
  } catch {
    // refused below
  }
  throw new LongrunError(
    'MODEL_REJECTED',
    'the demo model reads its task as JSON {"steps": N, "toolDelayMs": N}; start the session with `longrun demo`',
  );
}

/**
 * A demo tool: its input is one text field and a simulated latency, waited out before `apply`
 * (which is not reached once the worker stopped holding the session).
 */
function delayedTool(
  tool: Pick<Tool, 'name' | 'description' | 'effect'> & { field: string },
  apply: (text: string, context: ToolContext) => JsonValue,
): Tool<{ text: string; delayMs: number }> {
  const { field, ...described } = tool;
  return {
    ...described,
    input: {
      jsonSchema: {
        type: 'object',
        properties: { [field]: { type: 'string' }, delayMs: { type: 'integer', minimum: 0 } },
        required: [field, 'delayMs'],
      },
      parse(input) {
        const value = (input as Record<string, unknown>)[field];
        const delayMs = (input as Record<string, unknown>).delayMs;
        if (typeof value !== 'string' || !Number.isSafeInteger(delayMs) || (delayMs as number) < 0)
          throw new LongrunError(
            'INVALID_ARGUMENT',
            `pass {"${field}": "<text>", "delayMs": <integer ≥ 0>}`,
          );
        return { text: value, delayMs: delayMs as number };
      },
    },
    async run({ text, delayMs }, context) {
      await pause(delayMs, context.signal);
      context.signal.throwIfAborted();
      return apply(text, context);
    },
  };
}

/** The keyed effect: applies an entry to the ledger once per idempotency key. */
function ledgerApply(ledgerDir: string): Tool<{ text: string; delayMs: number }> {
  const described = {
    name: 'ledger_apply',
    description: 'Applies an entry to the external ledger, once per idempotency key.',
    effect: 'keyed' as const,
    field: 'entry',
  };
  return delayedTool(described, (entry, context) => ({
    entry,
    applied: applyOnce(ledgerDir, context.idempotencyKey, entry),
  }));
}

/** The idempotent effect: appends a line to the work file (a repeat appends the same line). */
function workAppend(file: string): Tool<{ text: string; delayMs: number }> {
  const described = {
    name: 'work_append',
    description: 'Appends a line to the work file.',
    effect: 'idempotent' as const,
    field: 'line',
  };
  return delayedTool(described, (line) => {
    appendFileSync(file, `${line}\n`);
    return { appended: line };
  });
}

/**
 * The external ledger, a stand-in for a payment API that honours idempotency keys: a key's record
 * is written whole under a temporary name and hard-linked into `applied/`; link() fails when the
 * name exists, so one attempt per key wins and a killed process never leaves half a record.
 */
function applyOnce(dir: string, key: string, entry: string): boolean {
  mkdirSync(join(dir, 'applied'), { recursive: true });
  const temporary = join(dir, `.pending-${randomUUID()}`);
  writeFileSync(temporary, `${key}\t${entry}\n`);
  try {
    linkSync(temporary, join(dir, 'applied', createHash('sha256').update(key).digest('hex')));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(temporary);
  }
}
