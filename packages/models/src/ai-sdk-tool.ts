import { asSchema, type FlexibleSchema } from '@ai-sdk/provider-utils';
import {
  LongrunError,
  toolProblem,
  toolNamePattern,
  type EffectClass,
  type JsonObject,
  type JsonValue,
  type Tool,
  type ToolContext,
  type VerifyOutcome,
} from '@longrun/core';

/**
 * An AI SDK tool as `tool({...})` (from `ai` or `@ai-sdk/provider-utils`) returns it: `tool()` is
 * the identity, so any object of this shape is one. Its `inputSchema` is a zod schema, a
 * Standard Schema, or a `jsonSchema()` Schema object.
 */
export interface AiSdkToolLike {
  type?: unknown;
  description?: unknown;
  inputSchema?: unknown;
  execute?: unknown;
  needsApproval?: unknown;
}

/** What longrun needs to know about an AI SDK tool that the AI SDK does not say. */
export interface AiToolOptions<Input = unknown> {
  /**
   * What a call does to the world (DESIGN §4). Default `unsafe`: a call interrupted by a dead
   * worker is never run again blindly, because nothing says it may be.
   */
  effect?: EffectClass;
  /** For `unsafe` tools: whether an interrupted call took effect (see `Tool.verify`). */
  verify?(input: Input, context: ToolContext): Promise<VerifyOutcome>;
  /** A person approves each call before it runs. Replaces the AI SDK tool's own boolean rule. */
  needsApproval?: boolean | ((input: Input) => boolean);
  /** The tool runs commands through `context.sandbox()` (see `Tool.usesSandbox`). */
  usesSandbox?: boolean;
}

const longrunOptions = Symbol.for('longrun.aiToolOptions');

type Annotated = AiSdkToolLike & { [longrunOptions]?: AiToolOptions<never> };

/** The input type of an AI SDK tool, read from its `execute`. */
export type AiToolInput<T> = T extends {
  execute?: ((input: infer I, ...rest: never[]) => unknown) | undefined;
}
  ? I
  : unknown;

/**
 * Names an AI SDK tool's effect class (and, if it has them, its `verify` and approval rule). The
 * result is still the same AI SDK tool — it can be given to `generateText` too — and becomes a
 * longrun `Tool` when an agent is defined with it:
 *
 * ```ts
 * tools: { charge: aiTool(tool({ description, inputSchema, execute }), { effect: 'keyed' }) }
 * ```
 */
export function aiTool<T extends AiSdkToolLike>(
  tool: T,
  options: AiToolOptions<AiToolInput<T>>,
): T {
  return Object.assign(Object.create(Object.getPrototypeOf(tool) as object) as T, tool, {
    [longrunOptions]: options,
  });
}

/** `aiTool(tool, { effect })`, written the other way round: `effect('keyed', tool({...}))`. */
export function effect<T extends AiSdkToolLike>(effectClass: EffectClass, tool: T): T {
  const named = (tool as Annotated)[longrunOptions] as AiToolOptions<AiToolInput<T>> | undefined;
  return aiTool(tool, { ...named, effect: effectClass });
}

function refuse(name: string, why: string): never {
  throw new LongrunError('INVALID_ARGUMENT', `AI SDK tool ${JSON.stringify(name)} ${why}`);
}

/**
 * An AI SDK tool as a longrun `Tool`, named by its key in the tool set. Refused (INVALID_ARGUMENT)
 * when longrun cannot run it: a provider tool (it runs at the provider), one without `execute`,
 * an approval rule that is a function of the AI SDK's shape (name a synchronous one with
 * `aiTool(…, { needsApproval })`), or a schema whose JSON Schema is only known asynchronously.
 */
export function fromAiSdkTool(name: string, tool: AiSdkToolLike): Tool {
  if (!toolNamePattern.test(name)) {
    refuse(name, `needs a name matching ${toolNamePattern.source} (what model APIs accept)`);
  }
  if (tool.type === 'provider') {
    refuse(name, 'is a provider tool: the provider runs it, so longrun cannot record its effects');
  }
  if (tool.inputSchema === undefined && 'parameters' in tool) {
    refuse(
      name,
      'has `parameters` (AI SDK 4); name its input schema `inputSchema`, as AI SDK 5 and later do',
    );
  }
  const execute = tool.execute;
  if (typeof execute !== 'function') {
    refuse(name, 'has no execute function; longrun runs every tool it offers the model');
  }
  if (tool.description !== undefined && typeof tool.description !== 'string') {
    refuse(name, 'has a description that is not a string; longrun sends the model a fixed one');
  }
  const description = tool.description ?? '';
  const options = ((tool as Annotated)[longrunOptions] ?? {}) as AiToolOptions<unknown>;
  const approval = options.needsApproval ?? tool.needsApproval;
  if (approval !== undefined && typeof approval !== 'boolean' && typeof approval !== 'function') {
    refuse(name, 'has a needsApproval that is neither a boolean nor a function');
  }
  if (typeof approval === 'function' && options.needsApproval === undefined) {
    refuse(
      name,
      'has a needsApproval function of the AI SDK; give longrun a synchronous rule of the input instead: aiTool(tool, { needsApproval: (input) => … })',
    );
  }
  const schema = asSchema(tool.inputSchema as FlexibleSchema<unknown> | undefined);
  const run = execute as (input: unknown, options: object) => unknown;
  const converted: Tool = {
    name,
    description,
    input: {
      parse: (input) => parseInput(name, schema, input),
      jsonSchema: jsonSchemaOf(name, schema),
    },
    effect: options.effect ?? 'unsafe',
    run: async (input, context) => outputOf(await lastValue(run(input, executionOptions(context)))),
    ...(options.verify ? { verify: options.verify.bind(options) } : {}),
    ...(approval === undefined
      ? {}
      : { needsApproval: approval as boolean | ((input: unknown) => boolean) }),
    ...(options.usesSandbox === undefined ? {} : { usesSandbox: options.usesSandbox }),
  };
  return converted;
}

/**
 * An agent's tools, longrun `Tool`s as they are and AI SDK tools (a `ToolSet`'s values, or an
 * array's entries, which must then be longrun tools) each made into one. `owner` (e.g.
 * `agent triage`) starts every refusal, so it says whose tools are wrong.
 */
export function toolsFrom(
  tools: readonly Tool[] | Readonly<Record<string, Tool | AiSdkToolLike>>,
  owner?: string,
): Tool[] {
  const refuseAll = (why: string): never => {
    throw new LongrunError('INVALID_ARGUMENT', `${owner === undefined ? '' : `${owner}: `}${why}`);
  };
  const value: unknown = tools;
  if (Array.isArray(value)) {
    return value.map((tool: unknown, i) => {
      const problem = toolProblem(tool);
      if (problem === null) return tool as Tool;
      const name = (tool as { name?: unknown } | null)?.name;
      return refuseAll(
        `tools[${i}]${typeof name === 'string' ? ` (${JSON.stringify(name)})` : ''} is not a longrun Tool: ${problem}; make it with defineTool, or pass AI SDK tools as a tool set, { name: tool({...}) }`,
      );
    });
  }
  if (typeof value !== 'object' || value === null) {
    return refuseAll(
      `tools must be a list of tools ([defineTool({...})]) or a tool set ({ name: tool({...}) }); it is ${value === null ? 'null' : `a ${typeof value}`}`,
    );
  }
  if (looksLikeOneTool(value)) {
    const { name } = value as { name: string };
    return refuseAll(
      `tools is a single tool (${JSON.stringify(name)}), not a list; put it in one: tools: [${name}]`,
    );
  }
  if (typeof (value as AiSdkToolLike).execute === 'function' || 'inputSchema' in value)
    return refuseAll(
      'tools is a single AI SDK tool, not a tool set; name it by its key: tools: { myTool: tool({...}) }',
    );
  return Object.entries(value as Record<string, unknown>).map(([name, tool]) => {
    if (looksLikeOneTool(tool)) {
      const problem = toolProblem(tool);
      if (problem !== null)
        refuseAll(`the tool set's ${JSON.stringify(name)} is not a longrun Tool: ${problem}`);
      const own = (tool as Tool).name;
      if (own !== name)
        refuseAll(
          `the tool set names tool ${JSON.stringify(own)} ${JSON.stringify(name)}; use its own name as the key`,
        );
      return tool as Tool;
    }
    if (typeof tool !== 'object' || tool === null)
      refuseAll(
        `the tool set's ${JSON.stringify(name)} is ${tool === null ? 'null' : `a ${typeof tool}`}, not a tool`,
      );
    return fromAiSdkTool(name, tool as AiSdkToolLike);
  });
}

/**
 * A longrun `Tool`, or something meant as one (a name and a `run`): never an AI SDK tool, which
 * has `execute` and is named by its key in a tool set.
 */
function looksLikeOneTool(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const t = value as Record<string, unknown>;
  return typeof t.name === 'string' && 'run' in t;
}

/** What the AI SDK's `execute` gets: longrun's tool context is its `context`. */
function executionOptions(context: ToolContext): object {
  return {
    // Stable across every attempt of the call, like the AI SDK's id within one generation.
    toolCallId: context.idempotencyKey,
    // The AI SDK's messages are not longrun's transcript; a tool that needs the conversation
    // asks the session, not its arguments.
    messages: [],
    abortSignal: context.signal,
    context,
    experimental_context: context,
  };
}

function jsonSchemaOf(name: string, schema: ReturnType<typeof asSchema>): JsonObject {
  const value: unknown = schema.jsonSchema;
  if (typeof (value as PromiseLike<unknown> | null)?.then === 'function') {
    refuse(
      name,
      'has a schema whose JSON Schema is asynchronous; longrun needs it when the agent is defined',
    );
  }
  const { $schema: _ignored, ...jsonSchema } = JSON.parse(JSON.stringify(value)) as JsonObject;
  return jsonSchema;
}

async function parseInput(
  name: string,
  schema: ReturnType<typeof asSchema>,
  input: unknown,
): Promise<unknown> {
  if (schema.validate === undefined) return input;
  const result = await schema.validate(input);
  if (result.success) return result.value;
  throw new LongrunError('INVALID_ARGUMENT', issuesText(result.error), { cause: result.error });
}

/** A zod or Standard Schema error as `path: message; …`, or its message. */
function issuesText(error: Error): string {
  const issues =
    (error as { issues?: unknown }).issues ??
    (error.cause as { issues?: unknown } | undefined)?.issues;
  if (!Array.isArray(issues)) return error.message;
  return issues
    .map((issue: { path?: readonly PropertyKey[]; message?: string }) => {
      const path = issue.path?.map((p) => String(p)).join('.') ?? '';
      return `${path === '' ? '(input)' : path}: ${issue.message ?? 'invalid'}`;
    })
    .join('; ');
}

/** An `execute` may stream preliminary results; the last one is the result (as in the AI SDK). */
async function lastValue(result: unknown): Promise<unknown> {
  if (typeof result === 'object' && result !== null && Symbol.asyncIterator in result) {
    let last: unknown = undefined;
    for await (const value of result as AsyncIterable<unknown>) last = value;
    return last;
  }
  return await result;
}

function outputOf(output: unknown): JsonValue {
  // `undefined` (a tool that returns nothing) is no JSON: the model sees null. Anything else that
  // is not plain JSON is refused where every tool output is checked, as the call's error.
  return output === undefined ? null : (output as JsonValue);
}
