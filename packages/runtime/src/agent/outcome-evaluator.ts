import { cp, lstat, rm } from 'node:fs/promises';
import { constants } from 'node:fs';
import {
  LongrunError,
  event,
  isLongrunError,
  type CriterionVerdict,
  type JsonObject,
  type JsonValue,
  type ModelClient,
  type ModelMessage,
  type ModelResponse,
  type ModelToolSpec,
  type ModelToolResult,
  type NewEvent,
  type OutcomeStatus,
  type SessionState,
  type Tool,
  type ToolContext,
  type WorkspaceFiles,
} from '@longrun/core';
import { verdictToolName, type OutcomeDefinition } from './outcome.ts';
import { backoffMs, pause } from '../backoff.ts';
import { listFilesTool, readFileTool } from '../tools/file-tools.ts';
import { shellTool } from '../tools/shell-tool.ts';
import type { AgentRunContext } from './agent-context.ts';
import { noWaits } from '../call-waits.ts';
import { budgetStopOf, chargedCall, estimateRequestTokens } from '../harness/budget-charge.ts';
import { AgentWorkspace, WorkspaceTracker } from './agent-workspace.ts';
import { sessionSecretsOf } from './agent-secrets.ts';

const modelAttempts = 3;

const evaluatorModels = new WeakMap<() => ModelClient, ModelClient>();

function evaluatorModel(ctx: AgentRunContext, outcome: OutcomeDefinition): ModelClient {
  const model = outcome.model;
  if (model === undefined) return ctx.model;
  if (typeof model !== 'function') return model;
  let client = evaluatorModels.get(model);
  if (client === undefined) evaluatorModels.set(model, (client = model()));
  return client;
}

/** What an evaluation found, before it is recorded. */
interface Evaluation {
  criteria: CriterionVerdict[];
  steps: number;
  usage: { inputTokens: number; outputTokens: number };
  modelId: string;
  error?: string;
}

/**
 * Runs the evaluator on the turn's answer and records its verdict. Returns `continue` when the
 * agent gets the feedback and works on (the verdict's event is in its transcript), `completed`
 * when the session completed with its outcome, or `stopped` when the run was stopped (nothing is
 * recorded: the evaluation runs again on the worker that resumes — it changes nothing, so running
 * it twice is safe).
 */
export async function evaluateOutcome(
  ctx: AgentRunContext,
  outcome: OutcomeDefinition,
  state: SessionState,
  answer: string,
): Promise<'continue' | 'completed' | 'stopped'> {
  const iteration = (state.outcome?.evaluations ?? 0) + 1;
  const found = await runEvaluator(ctx, outcome, state.input, answer);
  if (found === null) return 'stopped';
  const passed = found.error === undefined && found.criteria.every((c) => c.passed);
  const continues = !passed && found.error === undefined && iteration < outcome.maxIterations;
  const verdict: NewEvent = event('outcome.evaluated', {
    iteration,
    step: state.steps,
    passed,
    criteria: found.criteria,
    feedback: passed ? '' : feedbackFor(found, iteration, outcome.maxIterations),
    continues,
    evaluatorSteps: found.steps,
    usage: found.usage,
    modelId: found.modelId,
    ...(found.error === undefined ? {} : { error: found.error }),
  });
  if (continues) {
    await ctx.writer.append([verdict]);
    return 'continue';
  }
  const status: OutcomeStatus = passed
    ? 'satisfied'
    : found.error !== undefined
      ? 'failed'
      : 'max_iterations_reached';
  await ctx.writer.append(
    [verdict, event('session.completed', { output: answer, outcome: status })],
    { status: { status: 'completed' } },
  );
  return 'completed';
}

function feedbackFor(found: Evaluation, iteration: number, maxIterations: number): string {
  if (found.error !== undefined) return `The evaluator could not check the work: ${found.error}`;
  const lines = found.criteria.map(
    (c) => `- [${c.passed ? 'PASS' : 'FAIL'}] ${c.criterion}: ${c.reason}`,
  );
  return [
    `An evaluator checked your work against the rubric in a fresh context, and it did not pass (evaluation ${iteration} of ${maxIterations}):`,
    ...lines,
    'Fix what failed, check it yourself, then give your final answer again.',
  ].join('\n');
}

function evaluatorInstructions(outcome: OutcomeDefinition): string {
  const base = [
    "You are an evaluator. Another agent was given a task and says it is done; you check its work against a rubric. You did not do the work and you do not see the agent's reasoning: trust nothing it claims that you have not checked yourself.",
    'Inspect the workspace with your tools. They are read-only: you cannot change anything, and commands you run work on a throwaway copy of the workspace.',
    `Judge every criterion on its own, strictly. A criterion you could not verify FAILS. When you are done, call ${verdictToolName} once with a verdict and a short, concrete reason for every criterion (the agent reads the reasons to fix its work).`,
  ].join('\n');
  return outcome.instructions === undefined ? base : `${base}\n\n${outcome.instructions}`;
}

function taskOf(input: JsonValue): string {
  if (typeof input === 'string') return input;
  if (input !== null && typeof input === 'object' && !Array.isArray(input)) {
    const task = input.task;
    if (typeof task === 'string') return task;
  }
  return JSON.stringify(input);
}

function verdictSpec(criteria: number): ModelToolSpec {
  return {
    name: verdictToolName,
    description: `Gives your verdict: one entry per criterion of the rubric (numbered 1 to ${criteria}).`,
    inputSchema: {
      type: 'object',
      properties: {
        verdicts: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              criterion: { type: 'integer', minimum: 1, maximum: criteria },
              passed: { type: 'boolean' },
              reason: { type: 'string' },
            },
            required: ['criterion', 'passed', 'reason'],
          },
        },
      },
      required: ['verdicts'],
    },
  };
}

/**
 * The rubric's verdicts from a `submit_verdict` call's arguments. A criterion without a valid
 * verdict fails: the evaluator defaults to FAIL.
 */
export function readVerdicts(rubric: readonly string[], args: JsonObject): CriterionVerdict[] {
  const given = new Map<number, { passed: boolean; reason: string }>();
  const verdicts = Array.isArray(args.verdicts) ? args.verdicts : [];
  for (const v of verdicts) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) continue;
    const { criterion, passed, reason } = v;
    if (typeof criterion !== 'number' || typeof passed !== 'boolean') continue;
    if (!given.has(criterion))
      given.set(criterion, { passed, reason: typeof reason === 'string' ? reason : '' });
  }
  return rubric.map((criterion, i) => {
    const v = given.get(i + 1);
    return v === undefined
      ? { criterion, passed: false, reason: 'the evaluator gave no verdict on it (default: FAIL)' }
      : { criterion, ...v };
  });
}

function noVerdict(rubric: readonly string[], why: string): CriterionVerdict[] {
  return rubric.map((criterion) => ({ criterion, passed: false, reason: why }));
}

/** A workspace accessor that refuses every change: the evaluator reads, it never writes. */
function readOnly(files: WorkspaceFiles): WorkspaceFiles {
  const refuse = (): never => {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      'the evaluator cannot change the workspace: its tools are read-only',
    );
  };
  return {
    stat: (path) => files.stat(path),
    readFile: (path, options) => files.readFile(path, options),
    list: (path, options) => files.list(path, options),
    writeFile: async () => refuse(),
    mkdir: async () => refuse(),
    remove: async () => refuse(),
  };
}

/**
 * A throwaway copy of the session's workspace, made when the evaluator first looks: its tools
 * and its commands see the files as the agent left them, and nothing they do reaches the agent's.
 */
class WorkspaceCopy {
  readonly #ctx: AgentRunContext;
  readonly #dir: string;
  #workspace: Promise<AgentWorkspace> | null = null;

  constructor(ctx: AgentRunContext) {
    this.#ctx = ctx;
    this.#dir = `${ctx.workspace.dir}.evaluator`;
  }

  open(): Promise<AgentWorkspace> {
    this.#workspace ??= this.#copy();
    return this.#workspace;
  }

  async #copy(): Promise<AgentWorkspace> {
    await rm(this.#dir, { recursive: true, force: true });
    await cp(this.#ctx.workspace.dir, this.#dir, {
      recursive: true,
      verbatimSymlinks: true,
      mode: constants.COPYFILE_FICLONE,
      // Only what a workspace holds: directories, regular files and links (kept as links).
      filter: async (source) => {
        const entry = await lstat(source);
        return entry.isDirectory() || entry.isFile() || entry.isSymbolicLink();
      },
    });
    const sandbox = this.#ctx.agent.sandbox;
    return new AgentWorkspace({
      dir: this.#dir,
      blobs: this.#ctx.store.blobs,
      tracker: new WorkspaceTracker(),
      ...(sandbox === undefined ? {} : { sandbox }),
    });
  }

  async close(): Promise<void> {
    const opened = this.#workspace;
    this.#workspace = null;
    if (opened !== null) await (await opened.catch(() => null))?.close();
    await rm(this.#dir, { recursive: true, force: true });
  }
}

/**
 * The evaluator's run, in a context of its own: the task, the answer and the rubric; its tools on
 * a copy of the workspace. Null when the run was stopped (lease lost, worker stopping).
 */
async function runEvaluator(
  ctx: AgentRunContext,
  outcome: OutcomeDefinition,
  input: JsonValue,
  answer: string,
): Promise<Evaluation | null> {
  const model = evaluatorModel(ctx, outcome);
  const commands = outcome.commands ?? ctx.agent.tools.some((t) => t.usesSandbox === true);
  const tools: Tool[] = [
    readFileTool,
    listFilesTool,
    ...(commands ? [shellTool({ effect: 'pure' })] : []),
    ...outcome.tools,
  ];
  const byName = new Map(tools.map((t) => [t.name, t]));
  const specs: ModelToolSpec[] = [
    ...tools.map((t) => ({
      name: t.name,
      description: t.description,
      inputSchema: t.input.jsonSchema,
    })),
    verdictSpec(outcome.rubric.length),
  ];
  const rubric = outcome.rubric.map((c, i) => `${i + 1}. ${c}`).join('\n');
  const messages: ModelMessage[] = [
    { role: 'system', content: evaluatorInstructions(outcome) },
    {
      role: 'user',
      content: `The task the agent was given:\n${taskOf(input)}\n\nThe agent's final answer:\n${answer}\n\nThe rubric (judge every criterion):\n${rubric}`,
    },
  ];
  const usage = { inputTokens: 0, outputTokens: 0 };
  const copy = new WorkspaceCopy(ctx);
  let steps = 0;
  let reminded = false;
  try {
    while (steps < outcome.maxSteps) {
      if (ctx.signal.aborted) return null;
      steps += 1;
      // A copy: what this call was given stays as it was when the transcript grows.
      const response = await callModel(ctx, model, { messages: messages.slice(), tools: specs });
      if (response === null) return null;
      if ('error' in response) {
        const error = response.error;
        return {
          criteria: noVerdict(outcome.rubric, `the evaluator could not run: ${error}`),
          steps,
          usage,
          modelId: model.id,
          error,
        };
      }
      usage.inputTokens += response.usage.inputTokens;
      usage.outputTokens += response.usage.outputTokens;
      const verdict = response.toolCalls.find((c) => c.name === verdictToolName);
      if (verdict !== undefined) {
        return {
          criteria: readVerdicts(outcome.rubric, verdict.args),
          steps,
          usage,
          modelId: response.modelId,
        };
      }
      messages.push({ role: 'assistant', text: response.text, toolCalls: response.toolCalls });
      if (response.toolCalls.length === 0) {
        if (reminded) break;
        reminded = true;
        messages.push({
          role: 'user',
          content: `Give your verdict now: call ${verdictToolName} with a verdict for every criterion.`,
        });
        continue;
      }
      const results: ModelToolResult[] = [];
      // The evaluator's tools read the workspace, which may hold a secret a tool of the agent
      // wrote there: its model sees them masked, as the agent's does.
      const { mask } = await sessionSecretsOf(ctx);
      for (const [callIndex, call] of response.toolCalls.entries()) {
        const tool = byName.get(call.name);
        const { output, isError } =
          tool === undefined
            ? { output: `unknown tool ${call.name}`, isError: true }
            : await runEvaluatorTool(ctx, copy, tool, call.args, steps, callIndex);
        if (ctx.signal.aborted) return null;
        results.push({ id: call.id, name: call.name, output: mask.json(output), isError });
      }
      messages.push({ role: 'tool', results });
    }
    return {
      criteria: noVerdict(
        outcome.rubric,
        `the evaluator gave no verdict within ${steps} model calls (default: FAIL)`,
      ),
      steps,
      usage,
      modelId: model.id,
    };
  } finally {
    await copy.close();
  }
}

/** One evaluator model call, retried while the provider is unavailable; null when stopped. */
async function callModel(
  ctx: AgentRunContext,
  model: ModelClient,
  request: { messages: ModelMessage[]; tools: ModelToolSpec[] },
): Promise<ModelResponse | { error: string } | null> {
  const state = ctx.writer.state;
  for (let attempt = 1; ; attempt++) {
    try {
      const charge = {
        kind: 'evaluator' as const,
        step: state.steps,
        attempt,
        modelId: model.id,
        inputTokens: estimateRequestTokens(request.messages, request.tools),
        maxOutputTokens: undefined,
      };
      return await chargedCall(ctx, charge, () =>
        model.stream({ ...request, signal: ctx.signal }, () => undefined),
      );
    } catch (error) {
      if (ctx.signal.aborted) return null;
      // The runner pauses the session (or fails it, for a model with no price).
      if (budgetStopOf(error) !== null) throw error;
      const retryable = isLongrunError(error) && error.retryable;
      const message = error instanceof Error ? error.message : String(error);
      if (!retryable || attempt >= modelAttempts) return { error: message };
      await pause(backoffMs(attempt, 500, 10_000), ctx.signal);
    }
  }
}

async function runEvaluatorTool(
  ctx: AgentRunContext,
  copy: WorkspaceCopy,
  tool: Tool,
  args: JsonObject,
  step: number,
  callIndex: number,
): Promise<{ output: JsonValue; isError: boolean }> {
  let input: unknown;
  try {
    input = await tool.input.parse(args);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return { output: `invalid arguments for ${tool.name}: ${why}`, isError: true };
  }
  try {
    const workspace = await copy.open();
    const context: ToolContext = {
      sessionId: ctx.writer.lease.sessionId,
      step,
      callIndex,
      idempotencyKey: `${ctx.writer.lease.sessionId}:evaluator:${step}:${callIndex}`,
      attempt: 1,
      signal: ctx.signal,
      holding: ctx.holding,
      files: readOnly(workspace.files),
      sandbox: () => workspace.sandbox(),
      ...noWaits,
      secret: () =>
        Promise.reject(
          new LongrunError(
            'PERMISSION_DENIED',
            'the evaluator reads and checks: it gets no secrets',
          ),
        ),
    };
    return { output: (await tool.run(input, context)) ?? null, isError: false };
  } catch (error) {
    const code = isLongrunError(error) ? `${error.code}: ` : '';
    return {
      output: `${code}${error instanceof Error ? error.message : String(error)}`,
      isError: true,
    };
  }
}
