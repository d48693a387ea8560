import { performance } from 'node:perf_hooks';
import type { ModelClient, Tool } from '@longrun/core';
import type { AgentDefinition, Worker } from '@longrun/runtime';

/**
 * The harness's own time per step of the sessions a worker runs: a step's wall time (from one
 * committed `model.responded` of a session to its next) minus the time spent inside the model
 * client and inside the tool call between them. Times the agent's model and tools by wrapping
 * them, so it needs no hook in the harness.
 */
export class StepTimer {
  readonly #modelMs = new Map<string, number>();
  readonly #toolMs = new Map<string, number>();
  readonly #respondedAt = new Map<string, number[]>();

  /** The agent with its model and tools timed. Its model must be a client, not a factory. */
  timed(agent: AgentDefinition): AgentDefinition {
    if (typeof agent.model === 'function')
      throw new Error(`${agent.name}: StepTimer times a model client, not a model factory`);
    return {
      ...agent,
      model: this.#timedModel(agent.model),
      tools: agent.tools.map(this.#timedTool),
    };
  }

  /** Records when each step's response was committed. */
  watch(worker: Worker): void {
    worker.on('events.committed', ({ sessionId, events }) => {
      for (const e of events) {
        if (e.type !== 'model.responded') continue;
        const times = this.#respondedAt.get(sessionId) ?? [];
        times[e.data.step - 1] = performance.now();
        this.#respondedAt.set(sessionId, times);
      }
    });
  }

  /** The overhead of every step but each session's first (which has no step before it). */
  overheadsMs(): number[] {
    const overheads: number[] = [];
    for (const [sessionId, times] of this.#respondedAt) {
      for (let step = 2; step <= times.length; step++) {
        const wall = (times[step - 1] ?? Number.NaN) - (times[step - 2] ?? Number.NaN);
        const inModel = this.#modelMs.get(`${sessionId}:${step}`) ?? 0;
        const inTool = this.#toolMs.get(`${sessionId}:${step - 1}`) ?? 0;
        overheads.push(wall - inModel - inTool);
      }
    }
    return overheads;
  }

  /** Forgets what was timed so far (after a warm-up). */
  clear(): void {
    this.#modelMs.clear();
    this.#toolMs.clear();
    this.#respondedAt.clear();
  }

  #timedModel(model: ModelClient): ModelClient {
    return {
      id: model.id,
      stream: async (request, onTextDelta) => {
        const startedAt = performance.now();
        const response = await model.stream(request, onTextDelta);
        const at = request.context;
        if (at !== undefined)
          this.#modelMs.set(`${at.sessionId}:${at.step}`, performance.now() - startedAt);
        return response;
      },
    };
  }

  #timedTool = (tool: Tool): Tool => ({
    ...tool,
    run: async (input, context) => {
      const startedAt = performance.now();
      const output = await tool.run(input, context);
      this.#toolMs.set(`${context.sessionId}:${context.step}`, performance.now() - startedAt);
      return output;
    },
  });
}
