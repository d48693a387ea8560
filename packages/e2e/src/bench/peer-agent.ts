/**
 * The peers' workload (issue 12), built with the product API: an agent whose model is
 * zero-latency — each call returns ~200 bytes of text, streamed as one chunk, and one tool call
 * `append_line {step, line}` — and answers without a tool call once it has S tool results. The
 * tool appends one line to a file outside the workspace (effect class `idempotent`), or, for the
 * workspace figure, to a file inside the session's workspace (snapshots on).
 *
 * The model is not `scriptedModel`: that one checks the whole transcript on every call, which a
 * zero-latency peer model does not do, and which would count O(S) of the model's own work in the
 * harness's step time. This one reads the step from the request's context (the harness's step
 * number, the same on every worker that resumes the session) and S from the task message, so it
 * answers a resumed session exactly as the worker before it did.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { LongrunError, type ModelClient, type ModelRequest, type Tool } from '@longrun/core';
import { defineAgent, defineTool, type AgentDefinition } from '@longrun/runtime';

export const peerAgentName = 'peer';
export const peerToolName = 'append_line';
/** The file the tool appends to: under the agent's dir (outside) or in the session's workspace. */
export const peerFileName = 'lines.txt';

export interface PeerAgentOptions {
  /** Where the outside file and the workspaces live. */
  dir: string;
  /** Default `outside`. */
  appendTo?: 'outside' | 'workspace';
  /** Default true, as for any agent; the profile turns it off to price the snapshot check. */
  workspaceSnapshots?: boolean;
  /**
   * Written into every line the model asks for (a crash test gives its process id, so a line in
   * the file says which process's response it came from). Default none.
   */
  lineTag?: string;
}

/** A peer session's input: the tool-calling steps before the closing text. */
export interface PeerInput {
  steps: number;
}

/** ~200 bytes of text for `step` (deterministic, so a resumed session answers the same). */
export function peerText(step: number): string {
  const head = `Step ${step}: appending the next line to the file, as the task asks. `;
  return (
    head +
    'The work continues until every requested line is written.'.padEnd(200 - head.length, '.')
  );
}

/** The line step `step` appends (its newline added by the tool). */
export function peerLine(step: number, tag?: string): string {
  return `line ${step} ${tag === undefined ? '' : `${tag} `}`.padEnd(64, '-');
}

export function peerAgent(options: PeerAgentOptions): AgentDefinition {
  const appendTo = options.appendTo ?? 'outside';
  return defineAgent({
    name: peerAgentName,
    instructions: 'Append one line per step with append_line until the task is done.',
    model: peerModel(options.lineTag),
    tools: [
      appendTo === 'outside' ? outsideAppend(join(options.dir, peerFileName)) : workspaceAppend(),
    ],
    maxSteps: Number.MAX_SAFE_INTEGER,
    workspaceRoot: join(options.dir, 'workspaces'),
    workspaceSnapshots: options.workspaceSnapshots ?? true,
  });
}

const appendInput = z.object({ step: z.number().int(), line: z.string() });

function outsideAppend(file: string): Tool {
  return defineTool({
    name: peerToolName,
    description: 'appends one line to the work file',
    input: appendInput,
    effect: 'idempotent',
    async run({ step, line }) {
      appendFileSync(file, `${line}\n`);
      return { step, appended: line.length + 1 };
    },
  });
}

/** WorkspaceFiles has no append: the file is read and written whole, as an agent's edit would. */
function workspaceAppend(): Tool {
  return defineTool({
    name: peerToolName,
    description: 'appends one line to a file in the workspace',
    input: appendInput,
    effect: 'idempotent',
    async run({ step, line }, context) {
      const before =
        (await context.files.stat(peerFileName)) === null
          ? new Uint8Array()
          : await context.files.readFile(peerFileName);
      const added = Buffer.from(`${line}\n`);
      await context.files.writeFile(peerFileName, Buffer.concat([before, added]));
      return { step, appended: added.length };
    },
  });
}

function peerModel(lineTag: string | undefined): ModelClient {
  const usage = { inputTokens: 50, outputTokens: 60 };
  return {
    id: 'peer:zero-latency',
    async stream(request, onTextDelta) {
      const step = request.context?.step;
      if (step === undefined)
        throw new LongrunError(
          'INVALID_ARGUMENT',
          'the peer model answers only calls made in a session',
        );
      if (step > stepsOf(request)) {
        const text = `Done: ${step - 1} lines appended.`;
        onTextDelta(text);
        return { text, toolCalls: [], finishReason: 'stop', usage, modelId: 'peer:zero-latency' };
      }
      const text = peerText(step);
      onTextDelta(text);
      return {
        text,
        toolCalls: [
          {
            id: `call-${step}`,
            name: peerToolName,
            args: { step, line: peerLine(step, lineTag) },
          },
        ],
        finishReason: 'tool-calls',
        usage,
        modelId: 'peer:zero-latency',
      };
    },
  };
}

/** S, from the task message (the first user message: the session's input as JSON). */
function stepsOf(request: ModelRequest): number {
  const task = request.messages.find((m) => m.role === 'user');
  const steps = (JSON.parse(task?.content ?? 'null') as Partial<PeerInput> | null)?.steps;
  if (typeof steps !== 'number' || !Number.isSafeInteger(steps) || steps < 0)
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `a peer session's input is { steps: <non-negative integer> }; got ${task?.content ?? 'no task'}`,
    );
  return steps;
}
