import { z } from 'zod';
import {
  LongrunError,
  type BlobStore,
  type EffectClass,
  type Sandbox,
  type JsonObject,
  type JsonValue,
  type ModelClient,
  type ModelToolSpec,
  type WorkspaceFiles,
} from '@longrun/core';
import type { ToolContext, VerifyOutcome } from '../program.ts';
import type { AgentSandboxConfig } from './agent-workspace.ts';

/** What a tool's `run` gets besides its validated input. */
export interface AgentToolContext extends ToolContext {
  /**
   * The session's workspace files: the only way a tool touches them (DESIGN §6). No link is
   * followed, only regular files and directories are opened, writes replace by rename and reads
   * are size-checked first; the host path is deliberately not given.
   */
  files: WorkspaceFiles;
  /** The session's sandbox (the agent's `sandbox` driver), opened on first use. */
  sandbox(): Promise<Sandbox>;
}

export interface AgentTool<Input = unknown> {
  name: string;
  description: string;
  /** Validates the model's arguments before `run`; invalid ones become a tool error the model sees. */
  input: z.ZodType<Input>;
  effect: EffectClass;
  run(input: Input, context: AgentToolContext): Promise<JsonValue>;
  verify?(input: Input, context: AgentToolContext): Promise<VerifyOutcome>;
  /** A person must approve each call (bound to its exact arguments) before it runs. */
  needsApproval?: boolean | ((input: Input) => boolean);
  /**
   * The tool runs commands through `context.sandbox()`. An agent with such a tool and no
   * `sandbox` of its own gets the default isolating driver, and refuses to start without one.
   */
  usesSandbox?: boolean;
}

export interface AgentDefinition {
  name: string;
  /** The model, or a factory called once per worker (so keys are read where the worker runs). */
  model: ModelClient | (() => ModelClient);
  instructions: string;
  tools: readonly AgentTool<never>[];
  /** Model turns before the session stops with STEP_LIMIT_REACHED. */
  maxSteps?: number;
  /** Model attempts per step before the session fails. */
  maxModelAttempts?: number;
  /** How long an approval request stays open, milliseconds (default: no expiry). */
  approvalTtlMs?: number;
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
}

const toolNamePattern = /^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/;

/** Declares a tool; its input type is inferred from the schema. */
export function defineTool<S extends z.ZodType>(
  tool: Omit<AgentTool<z.infer<S>>, 'input'> & { input: S },
): AgentTool<never> {
  if (!toolNamePattern.test(tool.name)) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `tool name ${JSON.stringify(tool.name)} must match ${toolNamePattern.source} (what model APIs accept)`,
    );
  }
  return tool as unknown as AgentTool<never>;
}

/** Declares an agent, checking what can be checked before any session runs. */
export function defineAgent(agent: AgentDefinition): AgentDefinition {
  if (typeof agent.name !== 'string' || agent.name.length === 0) {
    throw new LongrunError('INVALID_ARGUMENT', 'an agent needs a name');
  }
  const seen = new Set<string>();
  for (const tool of agent.tools) {
    if (seen.has(tool.name))
      throw new LongrunError(
        'INVALID_ARGUMENT',
        `agent ${agent.name} declares tool ${tool.name} twice`,
      );
    seen.add(tool.name);
  }
  if (
    agent.maxSteps !== undefined &&
    (!Number.isSafeInteger(agent.maxSteps) || agent.maxSteps < 1)
  ) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `maxSteps of agent ${agent.name} must be a positive integer`,
    );
  }
  return agent;
}

/** The tool list as the model sees it: names, descriptions and JSON Schemas of the inputs. */
export function toolSpecs(tools: readonly AgentTool<never>[]): ModelToolSpec[] {
  return tools.map((tool) => {
    const { $schema: _ignored, ...schema } = z.toJSONSchema(tool.input as z.ZodType) as JsonObject;
    return { name: tool.name, description: tool.description, inputSchema: schema };
  });
}

/** Validates a call's arguments; returns the parsed input or a message for the model. */
export function parseToolInput(
  tool: AgentTool<never>,
  args: JsonObject,
): { ok: true; input: never } | { ok: false; message: string } {
  const parsed = (tool.input as z.ZodType).safeParse(args);
  if (parsed.success) return { ok: true, input: parsed.data as never };
  const issues = parsed.error.issues.map(
    (i) => `${i.path.length > 0 ? i.path.join('.') : '(input)'}: ${i.message}`,
  );
  return {
    ok: false,
    message: `invalid arguments for ${tool.name}: ${issues.join('; ')}. Fix them and call the tool again.`,
  };
}
