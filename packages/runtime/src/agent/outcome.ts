import { LongrunError, type ModelClient, type Tool } from '@longrun/core';
import { toModelClient, type AgentModel } from '@longrun/models';

/**
 * What an agent declares as its outcome (DESIGN §12): a rubric that a fresh-context evaluator
 * checks the agent's answer against whenever the agent says it is done. The evaluator sees the
 * task, the answer and the workspace — never the agent's transcript — and defaults to FAIL.
 */
export interface OutcomeConfig {
  /** The criteria, each judged pass or fail on its own. At least one. */
  rubric: readonly string[];
  /** Evaluations per turn before the turn ends as `max_iterations_reached` (default 3). */
  maxIterations?: number;
  evaluator?: {
    /** Default: the agent's own model. Same kinds as the agent's `model`. */
    model?: AgentModel | (() => AgentModel);
    /** Added to the evaluator's built-in instructions (what to look at, how strict to be). */
    instructions?: string;
    /**
     * More tools for the evaluator; each must be `pure` (it never changes anything). It always
     * has `read_file` and `list_files`.
     */
    tools?: readonly Tool[];
    /**
     * A `run_command` that runs checks (tests, linters) in a sandbox on a throwaway copy of the
     * workspace: what a command writes is discarded. Default: when the agent has a tool that
     * uses the sandbox.
     */
    commands?: boolean;
    /** Evaluator model calls per evaluation (default 20). */
    maxSteps?: number;
  };
}

/** An outcome as workers run it: its evaluator's model is a `ModelClient` (or a factory of one). */
export interface OutcomeDefinition {
  rubric: readonly string[];
  maxIterations: number;
  model: ModelClient | (() => ModelClient) | undefined;
  instructions: string | undefined;
  tools: readonly Tool[];
  commands: boolean | undefined;
  maxSteps: number;
}

/** The tool the evaluator gives its verdict with. */
export const verdictToolName = 'submit_verdict';
/** Checks an agent's outcome declaration; throws INVALID_ARGUMENT on what cannot work. */
export function defineOutcome(agentName: string, outcome: OutcomeConfig): OutcomeDefinition {
  const where = `the outcome of agent ${agentName}`;
  const rubric: unknown = outcome.rubric;
  if (
    !Array.isArray(rubric) ||
    rubric.length === 0 ||
    !rubric.every((c) => typeof c === 'string' && c.trim() !== '')
  ) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `${where} needs a rubric: a non-empty list of criteria, each a non-empty string`,
    );
  }
  const maxIterations = outcome.maxIterations ?? 3;
  const maxSteps = outcome.evaluator?.maxSteps ?? 20;
  for (const [name, value] of [
    ['maxIterations', maxIterations],
    ['evaluator.maxSteps', maxSteps],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1)
      throw new LongrunError('INVALID_ARGUMENT', `${name} of ${where} must be a positive integer`);
  }
  const tools = outcome.evaluator?.tools ?? [];
  for (const tool of tools) {
    if (tool.effect !== 'pure')
      throw new LongrunError(
        'INVALID_ARGUMENT',
        `evaluator tool ${tool.name} of ${where} is ${tool.effect}: an evaluator never changes anything, so its tools must be pure (checks that run commands go through its run_command, on a copy of the workspace)`,
      );
    if (['read_file', 'list_files', 'run_command', verdictToolName].includes(tool.name))
      throw new LongrunError(
        'INVALID_ARGUMENT',
        `evaluator tool ${tool.name} of ${where} has the name of one of the evaluator's own tools`,
      );
  }
  const model = outcome.evaluator?.model;
  return {
    rubric: rubric as string[],
    maxIterations,
    model:
      model === undefined
        ? undefined
        : typeof model === 'function'
          ? () => toModelClient(model(), `the evaluator model of ${where}`)
          : toModelClient(model, `the evaluator model of ${where}`),
    instructions: outcome.evaluator?.instructions,
    tools,
    commands: outcome.evaluator?.commands,
    maxSteps,
  };
}
