import { performance } from 'node:perf_hooks';
import {
  LongrunError,
  event,
  pendingCalls,
  type EffectChange,
  type JsonObject,
  type Lease,
  type NewEvent,
  type OpenCall,
  type SessionState,
  type SessionStore,
  type Tool,
  type ToolContext,
  type WorkspaceFiles,
} from '@longrun/core';
import { SessionWriter, type AppendExtra } from './session-writer.ts';
import type { WorkerEvents } from './worker/worker-events.ts';
import { loadState } from './load-state.ts';
import { takeResumeRequests } from './session-resume.ts';
import type { StepProgram, ToolDefinition } from './program.ts';
import { callStart, runCall, type CallResult } from './run-call.ts';

export interface SessionRunnerOptions {
  store: SessionStore;
  program: StepProgram;
  lease: Lease;
  /** Aborted when the lease is lost or the worker stops. */
  signal: AbortSignal;
  /** ToolContext.holding (the worker's clocks); default: while `signal` has not aborted. */
  holding?: () => boolean;
  /** A checkpoint is written with the append that makes the log this many events past the last one. */
  checkpointEvery?: number;
  /** Told of commits, stalls and step timings. */
  events?: WorkerEvents;
}

/** How a run ended; `paused`: a gate parked the session for a person (see harness/gates.ts). */
export type RunOutcome = 'completed' | 'failed' | 'cancelled' | 'waiting' | 'paused' | 'stopped';

/**
 * Runs one claimed session from wherever its log stands until it finishes, starts waiting, or
 * the lease is lost. Every decision is made from the folded log and recorded before it acts:
 * `tool.started` is durable before a tool runs, so a resumed runner knows what may have happened.
 */
export class SessionRunner {
  readonly #o: SessionRunnerOptions;
  readonly #tools: Map<string, ToolDefinition>;
  /** Calls this runner started itself; a started call not in here was interrupted by a crash. */
  readonly #startedHere = new Set<string>();
  #writer!: SessionWriter;

  constructor(options: SessionRunnerOptions) {
    this.#o = options;
    this.#tools = new Map(options.program.tools.map((t) => [t.name, t]));
  }

  get state(): SessionState {
    return this.#writer.state;
  }

  async run(): Promise<RunOutcome> {
    const { state } = await loadState(this.#o.store, this.#o.lease.sessionId);
    this.#writer = new SessionWriter({
      store: this.#o.store,
      lease: this.#o.lease,
      signal: this.#o.signal,
      state,
      ...(this.#o.events ? { events: this.#o.events } : {}),
      ...(this.#o.checkpointEvery ? { checkpointEvery: this.#o.checkpointEvery } : {}),
    });
    if (state.seq !== this.#o.lease.headSeq && state.seq < this.#o.lease.headSeq) {
      throw new LongrunError(
        'INTERNAL',
        `loaded seq ${state.seq} but the lease saw head ${this.#o.lease.headSeq}`,
      );
    }
    // First: a person's resume of a paused session is recorded before anything else happens.
    await takeResumeRequests(this.#o.store, this.#writer);
    while (!this.#o.signal.aborted) {
      const s = this.#writer.state;
      if (s.status === 'completed' || s.status === 'failed') return s.status;
      if (s.status === 'cancelled') return 'cancelled';
      if (s.status === 'waiting') {
        if (!(await this.#resolveWait())) return 'waiting';
        continue;
      }
      const pending = pendingCalls(s);
      if (pending.length > 0) {
        await this.#runCall(pending[0] as OpenCall, pending[1]);
        continue;
      }
      const outcome = await this.#decide();
      if (outcome !== null) return outcome;
    }
    return 'stopped';
  }

  /** Asks the model for the next step and records its decision. */
  async #decide(): Promise<RunOutcome | null> {
    const startedAt = performance.now();
    const decision = await this.#o.program.decide(this.#writer.state);
    const modelMs = performance.now() - startedAt;
    const step = this.#writer.state.steps + 1;
    if (decision.kind === 'finish') {
      await this.#append([event('session.completed', { output: decision.output })], {
        status: { status: 'completed' },
        releaseLease: true,
      });
      return 'completed';
    }
    if (decision.kind === 'wait') {
      const waitId = `w${this.#writer.state.seq + 1}`;
      await this.#append([event('wait.started', { waitId, ...decision.wait })], {
        status:
          decision.wait.kind === 'timer'
            ? {
                status: 'waiting',
                wakeAtMs: decision.wait.untilMs,
                reason: `timer until ${new Date(decision.wait.untilMs).toISOString()}`,
              }
            : {
                status: 'waiting',
                waitingFor: decision.wait.signal,
                reason: `waiting for signal ${decision.wait.signal}`,
              },
        releaseLease: true,
      });
      return 'waiting'; // the lease went with the append; the store wakes the session
    }
    const toolCalls = decision.toolCalls.map((c, callIndex) => ({
      callIndex,
      tool: c.tool,
      args: c.args,
    }));
    const events: NewEvent[] = [
      event('model.responded', { step, text: decision.text, toolCalls, usage: decision.usage }),
    ];
    const effects: EffectChange[] = [];
    const first = toolCalls[0];
    if (first !== undefined) this.#startEvents(step, first, events, effects, { chained: true });
    this.#step = { startedAt, modelMs, toolMs: 0 };
    await this.#append(events, { effects });
    if (toolCalls.length === 0) this.#timeStep(step);
    return null;
  }

  /** Timing of the step this runner is in; null for a step it resumed after a crash. */
  #step: { startedAt: number; modelMs: number; toolMs: number } | null = null;

  #timeStep(step: number): void {
    if (this.#step === null) return;
    const { startedAt, modelMs, toolMs } = this.#step;
    this.#o.events?.emit('step.timed', {
      sessionId: this.#o.lease.sessionId,
      step,
      totalMs: performance.now() - startedAt,
      modelMs,
      toolMs,
    });
    this.#step = null;
  }

  /**
   * Adds `tool.started` (and its effect record) for a call whose tool is known. A start is
   * chained into the commit before it (saving an fsync) unless the tool is `unsafe`: an unsafe
   * call's start is committed right before it runs, so a crash in between cannot make a call
   * that never ran look interrupted.
   */
  #startEvents(
    step: number,
    call: { callIndex: number; tool: string },
    events: NewEvent[],
    effects: EffectChange[],
    how: { chained: boolean } = { chained: false },
  ): void {
    const tool = this.#tools.get(call.tool);
    if (tool === undefined) return; // an unknown tool gets an error result, never a start
    if (how.chained && tool.effect === 'unsafe') return;
    const start = callStart(this.#o.lease.sessionId, step, call.callIndex, tool);
    events.push(start.event);
    effects.push(start.effect);
    this.#startedHere.add(`${step}:${call.callIndex}`);
  }

  /** Runs (or recovers) one call, recording its result together with the next call's start. */
  async #runCall(call: OpenCall, next: OpenCall | undefined): Promise<void> {
    const step = this.#writer.state.steps;
    const interrupted =
      call.started !== null && !this.#startedHere.has(`${step}:${call.callIndex}`);
    const definition = this.#tools.get(call.tool);
    const result =
      definition === undefined
        ? unknownTool(step, call)
        : await runCall({
            store: this.#o.store,
            sessionId: this.#o.lease.sessionId,
            step,
            call,
            tool: stepTool(definition),
            input: call.args,
            workspace: noWorkspace,
            interrupted,
            signal: this.#o.signal,
            ...(this.#o.holding ? { holding: this.#o.holding } : {}),
            append: (events, extra) => this.#append(events, extra),
            startEvents: (events, effects) => this.#startEvents(step, call, events, effects),
          });
    if (this.#o.signal.aborted) return;
    if (this.#step !== null) this.#step.toolMs += result.toolMs;
    const { events, effects } = result;
    if (next !== undefined) this.#startEvents(step, next, events, effects, { chained: true });
    await this.#append(events, { effects, checkpoint: true });
    if (next === undefined) this.#timeStep(step);
  }

  /** A claimed waiting session: resolves its wait if it can, else parks it again. */
  async #resolveWait(): Promise<boolean> {
    const wait = this.#writer.state.wait;
    if (wait === null) throw new LongrunError('INTERNAL', 'waiting state without a wait');
    if (wait.kind === 'timer') {
      if ((await this.#o.store.nowMs()) >= wait.untilMs) {
        await this.#append(
          [event('wait.resolved', { waitId: wait.waitId, signalId: null, payload: null })],
          {},
        );
        return true;
      }
      await this.#append([], {
        status: { status: 'waiting', wakeAtMs: wait.untilMs },
        releaseLease: true,
      });
      return false;
    }
    const [signal] = await this.#o.store.pendingSignals(this.#o.lease.sessionId, wait.signal);
    if (signal === undefined) {
      await this.#append([], {
        status: { status: 'waiting', waitingFor: wait.signal },
        releaseLease: true,
      });
      return false;
    }
    await this.#append(
      [
        event('wait.resolved', {
          waitId: wait.waitId,
          signalId: signal.id,
          payload: signal.payload,
        }),
      ],
      {
        consumeSignals: [signal.id],
      },
    );
    return true;
  }

  #append(events: NewEvent[], extra: AppendExtra): Promise<void> {
    return this.#writer.append(events, extra);
  }
}

/** A call of a tool the program does not have: an error result, and the call is not run. */
function unknownTool(step: number, call: OpenCall): CallResult {
  const output = `unknown tool ${JSON.stringify(call.tool)}; the call was not run`;
  const data = { step, callIndex: call.callIndex, tool: call.tool, ok: false, output, attempt: 0 };
  return { events: [event('tool.completed', data)], effects: [], toolMs: 0 };
}

/** A step program's tool on the one Tool port: its arguments are its input, as the model gave them. */
function stepTool(definition: ToolDefinition): Tool<JsonObject> {
  const tool: Tool<JsonObject> = {
    name: definition.name,
    description: definition.name,
    input: { parse: (args) => args as JsonObject, jsonSchema: { type: 'object' } },
    effect: definition.effect,
    run: (args, context) => definition.run(args, context),
  };
  if (definition.verify === undefined) return tool;
  return { ...tool, verify: definition.verify.bind(definition) };
}

/** Step programs have no workspace and no sandbox: a tool of theirs that reaches for one is refused. */
const noWorkspace: Pick<ToolContext, 'files' | 'sandbox'> = (() => {
  const refuse = (): Promise<never> =>
    Promise.reject(
      new LongrunError(
        'INVALID_ARGUMENT',
        'a step program has no workspace; define an agent to use files or a sandbox',
      ),
    );
  const files: WorkspaceFiles = {
    stat: refuse,
    readFile: refuse,
    writeFile: refuse,
    mkdir: refuse,
    remove: refuse,
    list: refuse,
  };
  return { files, sandbox: refuse };
})();
