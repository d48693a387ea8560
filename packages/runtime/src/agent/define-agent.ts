import {
  checkToolResults,
  type ToolInputsConfig,
  type ToolResultsConfig,
} from '../tools/tool-results-config.ts';
import { z } from 'zod';
import {
  LongrunError,
  checkPolicy,
  checkBudget,
  type BlobStore,
  type Budget,
  type ModelPrice,
  type JsonObject,
  type JsonValue,
  type ModelCallSettings,
  type ModelClient,
  type ModelMessage,
  type ModelToolSpec,
  type Policy,
  type Tool,
  type ToolContext,
  type ToolInputSchema,
  type WorkspaceFiles,
} from '@longrun/core';
import { defineOutcome, type OutcomeConfig, type OutcomeDefinition } from './outcome.ts';
import type { SubAgentsConfig } from './sub-agents.ts';
import {
  priceOf,
  toModelClient,
  toolsFrom,
  type AgentModel,
  type AiSdkToolLike,
} from '@longrun/models';
import type { AgentSandboxConfig } from './agent-workspace.ts';
import type { Gate } from '../harness/gates.ts';
import { resolveLoopControl, type LoopControlConfig } from '../harness/loop-control.ts';
import { checkToolDefinition, checkToolJsonSchema } from './tool-definition-check.ts';
import { checkAgentNumbers, checkToolNames } from './agent-definition-check.ts';
import { maxChildrenPerCall } from './sub-agent-ids.ts';

/** What a tool's `run` gets besides its validated input. @deprecated Use `ToolContext` from core. */
export type AgentToolContext = ToolContext;

/**
 * @deprecated The one tool type is `Tool` (from `@longrun/core`); this is the same type. Its
 * parameter is ignored so that the `AgentTool<never>` lists written before stay valid.
 */
export type AgentTool<_Input = unknown> = Tool;

/** What `prepareStep` is given before each model call. */
export interface PrepareStepInput {
  /** The model turn about to be made, 1-based (the `step` of `model.requested`). */
  step: number;
  /** The transcript the call will be given: instructions first, then the session so far. */
  messages: readonly ModelMessage[];
  /** The agent's model. */
  model: ModelClient;
}

/**
 * What one model call uses instead of the agent's defaults; everything is optional. Call
 * settings replace the agent's, except `providerOptions`, which are merged over the agent's
 * provider by provider.
 */
export interface PrepareStepResult extends ModelCallSettings {
  /** Another model for this call: an AI SDK language model or a ModelClient. */
  model?: AgentModel;
  /**
   * The names of the tools the model is offered in this call (default: all). A call the model
   * makes to another tool anyway is answered with an error, as if the agent had no such tool
   * (recorded in `model.responded`, so every worker answers it the same way).
   */
  activeTools?: readonly string[];
}

/**
 * How an agent's transcript is kept within its model's context window (DESIGN §12). When the
 * next request would pass `compactAt` of the window, the harness asks a model for a summary of
 * the older part and continues from the summary and the latest turns (a `context.compacted`
 * event). The count starts from the provider's reported usage of the latest call and adds what
 * came after at four characters a token.
 */
export interface AgentContextOptions {
  /**
   * The model's context window in tokens. Default: the window table of `@longrun/models`
   * (`knownContextWindow`) for the model's id; a model it does not know is not compacted until
   * its provider refuses a request as too long (MODEL_CONTEXT_EXCEEDED), which compacts and
   * retries the call once.
   */
  windowTokens?: number;
  /** The share of the window at which to compact, between 0 and 1. Default 0.8. */
  compactAt?: number;
  /**
   * Assistant turns kept as they are (with the tool results and messages after them); fewer
   * when they alone would fill half of what `compactAt` allows. Default 4.
   */
  keepRecentTurns?: number;
  /** The model that writes the summaries (a cheaper one, say). Default: the agent's. */
  summaryModel?: AgentModel;
  /** What the summary call is told to do. Default: `defaultSummaryInstructions`. */
  summaryInstructions?: string;
  /**
   * How the transcript is compacted. `'summary'` (or `true`, the default): the harness asks a
   * model for a summary. `'native'`: the model's provider compacts it itself where it can
   * (Anthropic's compaction, OpenAI Responses' compaction; `ModelClient.nativeCompactionOptions`),
   * asked with every request to compact once the input passes `compactAt` of the window; its
   * compaction item is recorded (`context.compacted` with `native`), sent back as received, and
   * later calls start from it. A model whose provider cannot, or whose window is unknown, gets
   * summaries as with `'summary'`; so does a request refused as too long. `false`: never compact
   * (a long session then fails when the provider refuses it).
   */
  compaction?: 'summary' | 'native' | boolean;
  /**
   * Reset the context with a handoff instead of a model-written summary: when the window fills,
   * the whole transcript is replaced by the task and the progress file the agent keeps in its
   * workspace (`true`: `PROGRESS.md`; or `{ progressFile }`), and no summary call is made — the
   * initializer/progress-file pattern. While the file does not exist yet (or is over 256 KiB), a
   * summary is written as usual.
   */
  handoff?: boolean | { progressFile?: string };
}

/**
 * The fields `defineAgent` takes and its result keeps as they are, among them the call settings
 * (`temperature`, `maxOutputTokens`, `providerOptions`, `toolChoice`) every model call is made
 * with unless `prepareStep` changes them for one.
 */
export interface AgentFields extends ModelCallSettings {
  name: string;
  instructions: string;
  /**
   * Called before every model call (like the AI SDK's `prepareStep`), with the step number and
   * the transcript so far; may choose another model, the tools offered and the call settings
   * for that call. It runs again for each attempt and on every worker that resumes the session,
   * so it should decide from its input alone. A throw fails the session with its message.
   */
  prepareStep?(
    input: PrepareStepInput,
  ): PrepareStepResult | undefined | PromiseLike<PrepareStepResult | undefined>;
  /** Model turns before the session stops with STEP_LIMIT_REACHED. */
  maxSteps?: number;
  /** Model attempts per step before the session fails. */
  maxModelAttempts?: number;
  /** How long an approval request stays open, milliseconds (default: no expiry). */
  approvalTtlMs?: number;
  /**
   * The API's public address (e.g. `https://longrun.example.com`): a tool's webhooks
   * (`context.createWebhook()`) then carry a whole `url`; without it only their `path`.
   */
  webhookBaseUrl?: string;
  /**
   * An `unsafe` call whose worker died while it ran, and whose `verify` cannot tell (or which has
   * none), has an unknown outcome. `ask` (default): a person decides whether to run it again
   * (a durable approval; denying or letting it expire records the outcome as unknown). `fail`:
   * record it as unknown at once; the model is told and the call is never repeated.
   */
  unknownOutcome?: 'ask' | 'fail';
  /** Where each session's workspace directory is created: `<workspaceRoot>/<session id>`. */
  workspaceRoot?: string;
  /**
   * Fills a new session's workspace (e.g. copies a repository in with `copyIntoWorkspace`).
   * Called whenever a worker takes the session up, so it must leave an already prepared
   * workspace alone. It gets the same accessor as tools: a workspace may hold whatever the
   * session's commands left there.
   */
  prepareWorkspace?(files: WorkspaceFiles, input: JsonValue): Promise<void>;
  /**
   * Where commands run (`run_command` and tools that call `context.sandbox()`). Default:
   * bubblewrap where it isolates; where it does not, a worker refuses to start this agent.
   * The plain process driver (`processDriver()`) isolates nothing and must be named here.
   */
  sandbox?: AgentSandboxConfig;
  /**
   * Snapshot the workspace to the blob store after each tool call that may have changed it, so
   * a worker on another machine restores it (default true).
   */
  workspaceSnapshots?: boolean;
  /** Where snapshots go. Default: the session store's own blob table. */
  blobs?: BlobStore;
  /**
   * Gates asked before every model call and tool call, after the built-in limits (`maxSteps`,
   * `maxModelAttempts`, `needsApproval`), in this order. See harness/gates.ts.
   */
  gates?: readonly Gate[];
  /**
   * What the agent may do (DESIGN §7): tool rules with argument matchers, workspace path globs,
   * hosts, secret scopes and sub-agent grants, as data (`Policy` of `@longrun/core`). Checked
   * in runtime code before every tool call, each decision a `policy.decided` event; anything it
   * does not mention is denied. A worker's tenant policy bounds it. Default: no policy.
   */
  policy?: Policy;
  /**
   * The stuck-loop detector and the circuit breaker on tools' error rates, gates that pause the
   * session with their evidence (see `LoopControlConfig` for the rules and their defaults).
   * `false`: neither.
   */
  loopControl?: LoopControlConfig | false;
  /**
   * Tool outputs too large for the transcript (DESIGN §2): one whose JSON text passes
   * `maxInlineChars` (default 32,000) is kept in the blob store, the log holds its hash, and the
   * model sees its first `viewChars` (default 8,000) with a note saying how to read the rest with
   * the built-in `read_tool_result` (offered once the session has such an output; a policy must
   * allow it). `false`: every output stays in the transcript whole.
   */
  toolResults?: ToolResultsConfig | false;
  /**
   * Tool call arguments too large for the transcript (a `write_file` of 2 MB): a call whose
   * arguments' JSON text passes `maxInlineChars` (default 32,000) has them kept in the blob store
   * before its `model.responded` commits; the log, checkpoints and later model requests hold the
   * hash (`inputRef`) and a capped view — the first `viewChars` (default 8,000) and a note saying
   * how to read the rest with `read_tool_result { part: "input" }`. The tool runs with the whole
   * arguments, read back from the blob store. `false`: every call's arguments stay in the log.
   */
  toolInputs?: ToolInputsConfig | false;
  /**
   * Sub-agents it may start (DESIGN §7): it gets the built-in tool `run_subagents`, which starts
   * a child session per task and waits, durably, for all of them. Each child's grants are at
   * most its parent's (its policy the intersection of the parent's, the grant, and what is asked).
   */
  subAgents?: SubAgentsConfig;
  /**
   * The budget of every session of this agent, limit by limit, unless the session was created
   * with its own value for a limit (DESIGN §7). See core's `Budget`; exceeding one pauses the
   * session with BUDGET_EXCEEDED until it is raised.
   */
  budget?: Budget;
  /**
   * Prices by model id (`anthropic:claude-sonnet-4-5` or the bare name) that override the
   * shipped table (`knownPrice`). A `costUsd` budget needs a price for every model the agent
   * calls: a call of an unpriced model under a cost budget fails the session (INVALID_ARGUMENT).
   */
  prices?: Readonly<Record<string, ModelPrice>>;
}

/**
 * An agent as `defineAgent` takes it. `model` and `tools` accept the AI SDK's own objects; the
 * rest is kept as given. Call settings (`temperature`, `maxOutputTokens`, `providerOptions`,
 * `toolChoice`) apply to every model call unless `prepareStep` says otherwise for one.
 */
export interface AgentConfig extends AgentFields {
  /**
   * The model: an AI SDK language model (`anthropic('claude-sonnet-4-5')`, `openai('gpt-5-mini')`
   * — specification v3 or v4), a longrun `ModelClient` (`aiSdkModel(model, options)`,
   * `scriptedModel(turns)`), or a factory of either, called once per worker (so keys are read
   * where the worker runs). Anything else is refused here with INVALID_ARGUMENT.
   */
  model: AgentModel | (() => AgentModel);
  /**
   * Longrun `Tool`s (`defineTool`, the built-in tools), or a tool set `{ name: tool }` whose
   * values are `Tool`s or AI SDK `tool({...})` definitions — an AI SDK tool is `unsafe` unless
   * `aiTool(tool, { effect })` or `effect('keyed', tool)` names its effect class. Default: none.
   */
  tools?: readonly Tool[] | Readonly<Record<string, Tool | AiSdkToolLike>>;
  /**
   * A rubric that a fresh-context evaluator checks the answer against whenever the agent says it
   * is done; a failure gives the agent the evaluator's feedback and another turn, up to
   * `maxIterations` (DESIGN §12). See `OutcomeConfig`.
   */
  outcome?: OutcomeConfig;
  /** How the transcript is kept within the context window: see `AgentContextOptions`. */
  context?: AgentContextOptions;
}

/**
 * A defined agent, as workers run it: its model is a `ModelClient` (or a factory of one) and its
 * tools are longrun `Tool`s, whatever `defineAgent` was given.
 */
export interface AgentDefinition extends AgentFields {
  model: ModelClient | (() => ModelClient);
  tools: readonly Tool[];
  outcome?: OutcomeDefinition;
  /** As given, with `summaryModel` a ModelClient. */
  context?: Omit<AgentContextOptions, 'summaryModel'> & { summaryModel?: ModelClient };
}

/** Declares a tool from a zod schema; its input type is inferred from the schema. */
export function defineTool<S extends z.ZodType>(
  tool: Omit<Tool<z.infer<S>>, 'input'> & { input: S },
): Tool<z.infer<S>> {
  checkToolDefinition(tool);
  let input: ToolInputSchema<z.infer<S>>;
  try {
    input = zodInput(tool.input);
  } catch (error) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `tool ${tool.name}: its input schema cannot be written as JSON Schema, which is what the model is sent (${(error as Error).message})`,
      { cause: error },
    );
  }
  checkToolJsonSchema(tool.name, input.jsonSchema);
  return { ...tool, input };
}

/**
 * A tool input from a zod schema: its JSON Schema (made once, here: zod takes about a
 * millisecond for a small object) and its parser.
 */
export function zodInput<S extends z.ZodType>(schema: S): ToolInputSchema<z.infer<S>> {
  const { $schema: _ignored, ...jsonSchema } = z.toJSONSchema(schema) as JsonObject;
  return {
    jsonSchema,
    parse(input) {
      const parsed = schema.safeParse(input);
      if (parsed.success) return parsed.data;
      const issues = parsed.error.issues.map(
        (i) => `${i.path.length > 0 ? i.path.join('.') : '(input)'}: ${i.message}`,
      );
      throw new LongrunError('INVALID_ARGUMENT', issues.join('; '), { cause: parsed.error });
    },
  };
}

/**
 * Declares an agent, checking what can be checked before any session runs: a model of a kind
 * longrun can call, tools it can run (AI SDK tools become `Tool`s here), unique tool names.
 */
export function defineAgent(agent: AgentConfig): AgentDefinition {
  if (typeof agent.name !== 'string' || agent.name.length === 0) {
    throw new LongrunError('INVALID_ARGUMENT', 'an agent needs a name');
  }
  const tools = toolsFrom(agent.tools ?? [], `agent ${agent.name}`);
  checkToolNames(agent.name, tools);
  checkAgentNumbers(agent);
  if (agent.prepareStep !== undefined && typeof agent.prepareStep !== 'function') {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `prepareStep of agent ${agent.name} must be a function`,
    );
  }
  if (agent.policy !== undefined) checkPolicy(agent.policy, `the policy of agent ${agent.name}`);
  if (agent.subAgents !== undefined) checkSubAgents(agent.name, agent.subAgents);
  resolveLoopControl(agent.name, agent.loopControl);
  checkToolResults(agent);
  if (agent.budget !== undefined) checkBudget(agent.budget, `budget of agent ${agent.name}`);
  const model = agentModel(agent);
  checkPriced(agent, model);
  const { outcome, context: _context, ...fields } = agent;
  return {
    ...fields,
    model,
    tools,
    ...(outcome === undefined ? {} : { outcome: defineOutcome(agent.name, outcome) }),
    ...contextOf(agent),
  };
}

function checkSubAgents(name: string, config: SubAgentsConfig): void {
  const bad = (what: string): never => {
    throw new LongrunError('INVALID_ARGUMENT', `subAgents of agent ${name}: ${what}`);
  };
  if (
    !Array.isArray(config.agents) ||
    config.agents.length === 0 ||
    !config.agents.every((a) => typeof a === 'string' && a.length > 0)
  )
    bad('agents must name at least one agent');
  const max = config.maxParallel;
  if (max !== undefined && (!Number.isSafeInteger(max) || max < 1 || max > maxChildrenPerCall))
    bad(`maxParallel must be a whole number from 1 to ${maxChildrenPerCall}`);
}

/**
 * A cost budget can only be checked for a priced model: an agent whose own model (when it is not
 * a factory) has no price is refused here rather than at its first session's first call.
 */
function checkPriced(agent: AgentConfig, model: AgentDefinition['model']): void {
  if (agent.budget?.costUsd === undefined || typeof model === 'function') return;
  if (priceOf(model.id, agent.prices) !== null) return;
  throw new LongrunError(
    'INVALID_ARGUMENT',
    `agent ${agent.name} has a costUsd budget but model ${model.id} has no known price; give it one in the agent's prices ({ "${model.id}": { inputUsdPerMTok, outputUsdPerMTok } }) or drop costUsd`,
  );
}

function contextOf(agent: AgentConfig): Pick<AgentDefinition, 'context'> {
  const context = agent.context;
  if (context === undefined) return {};
  const bad = (what: string): never => {
    throw new LongrunError('INVALID_ARGUMENT', `context.${what} of agent ${agent.name}`);
  };
  const { windowTokens, compactAt, keepRecentTurns, summaryModel, ...rest } = context;
  if (windowTokens !== undefined && (!Number.isSafeInteger(windowTokens) || windowTokens < 1000))
    bad('windowTokens must be a whole number of tokens, at least 1,000');
  if (compactAt !== undefined && !(compactAt > 0 && compactAt < 1))
    bad('compactAt must be a share of the window, between 0 and 1 (e.g. 0.8)');
  if (
    keepRecentTurns !== undefined &&
    (!Number.isSafeInteger(keepRecentTurns) || keepRecentTurns < 0)
  )
    bad('keepRecentTurns must be a whole number, 0 or more');
  const compaction: unknown = context.compaction;
  if (compaction !== undefined && ![true, false, 'summary', 'native'].includes(compaction as never))
    bad(`compaction must be 'summary', 'native' or false; it is ${JSON.stringify(compaction)}`);
  return {
    context: {
      ...rest,
      ...(windowTokens === undefined ? {} : { windowTokens }),
      ...(compactAt === undefined ? {} : { compactAt }),
      ...(keepRecentTurns === undefined ? {} : { keepRecentTurns }),
      ...(summaryModel === undefined
        ? {}
        : {
            summaryModel: toModelClient(summaryModel, `the summary model of agent ${agent.name}`),
          }),
    },
  };
}

function agentModel(agent: AgentConfig): AgentDefinition['model'] {
  const model: unknown = agent.model;
  const where = `the model of agent ${agent.name}`;
  if (typeof model !== 'function') return toModelClient(model, where);
  const factory = model as () => unknown;
  return () => toModelClient(factory(), `${where} (what its factory returned)`);
}

/** The tool list as the model sees it: names, descriptions and JSON Schemas of the inputs. */
export function toolSpecs(tools: readonly Tool[]): ModelToolSpec[] {
  return tools.map((tool) => ({
    name: tool.name,
    description: tool.description,
    inputSchema: tool.input.jsonSchema,
  }));
}

/** Validates a call's arguments; returns the parsed input or a message for the model. */
export async function parseToolInput(
  tool: Tool,
  args: JsonObject,
): Promise<{ ok: true; input: unknown } | { ok: false; message: string }> {
  try {
    return { ok: true, input: await tool.input.parse(args) };
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      message: `invalid arguments for ${tool.name}: ${why}. Fix them and call the tool again.`,
    };
  }
}
