import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { applyEvent, initialState, type ModelClient, type StoredEvent } from '@longrun/core';
import {
  Worker,
  checkModelCall,
  checkToolCall,
  defineAgent,
  defineTool,
  gateChain,
  type AgentDefinition,
} from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';
import { openStore } from '@longrun/cli';
import type { StoreTarget } from '../store-targets.ts';
import { waitForStatus } from '../crash/reference-run.ts';
import { percentile, round, summary } from './stats.ts';

/**
 * The agent harness's own cost per step: a zero-latency scripted model that asks for one
 * file-appending tool call per step; each step's wall time (from one `model.responded` to the
 * next) minus the time inside the model client and inside the tool.
 */
export async function measureHarnessOverhead(make: () => Promise<StoreTarget>, steps: number) {
  const target = await make();
  const store = await openStore(target.url);
  try {
    const modelMs = new Map<number, number>();
    const toolMs = new Map<number, number>();
    const scripted = scriptedModel((request) => {
      const done = request.messages.filter((m) => m.role === 'assistant').length;
      return done >= steps
        ? { text: 'done' }
        : {
            text: `step ${done + 1}`,
            toolCalls: [{ name: 'append', args: { line: `step ${done + 1}` } }],
          };
    });
    let calls = 0;
    const model: ModelClient = {
      id: scripted.id,
      async stream(request, onDelta) {
        const t = performance.now();
        const response = await scripted.stream(request, onDelta);
        modelMs.set(++calls, performance.now() - t);
        return response;
      },
    };
    const append = defineTool({
      name: 'append',
      description: 'appends a line to a work file',
      input: z.object({ line: z.string() }),
      effect: 'idempotent',
      run: async ({ line }, { step }) => {
        const t = performance.now();
        appendFileSync(join(target.dir, 'work.log'), `${line}\n`);
        toolMs.set(step, performance.now() - t);
        return 'ok';
      },
    });
    const agent = defineAgent({
      name: 'bench',
      model,
      instructions: 'bench',
      tools: [append],
      maxSteps: steps + 1,
      workspaceRoot: join(target.dir, 'ws'),
    });
    const respondedAt: number[] = [];
    const session = await store.createSession({ agent: 'bench', input: 'go' });
    const worker = new Worker({
      store,
      agents: [agent],
      pollMs: 2,
    });
    worker.on('events.committed', ({ events }) =>
      events.forEach((e) => e.type === 'model.responded' && respondedAt.push(performance.now())),
    );
    await worker.start();
    await waitForStatus(store, session.id, ['completed'], 300_000);
    await worker.stop();
    const overheads: number[] = [];
    for (let step = 2; step <= steps; step++) {
      const wall = (respondedAt[step - 1] ?? 0) - (respondedAt[step - 2] ?? 0);
      overheads.push(wall - (modelMs.get(step) ?? 0) - (toolMs.get(step - 1) ?? 0));
    }
    const events = await store.readEvents(session.id, 0, 1_000_000);
    return {
      steps,
      overheadMs: summary(overheads),
      // Microseconds matter here: the bar is 0.05 ms per step.
      gatesP50Ms: round(percentile(await timeGates(agent, events), 50), 5),
      eventsPerStep: round(events.length / steps, 2),
    };
  } finally {
    await store.close();
    await target.drop();
  }
}

/** Evaluations per gate check timed together, so the figure is above the timer's resolution. */
const gateRepeats = 200;

/**
 * Time in the default gate chain per step, replayed over the session's own log: at each
 * `model.requested` the model-call chain is asked on the state before it, at each `tool.started`
 * the tool-call chain on the state before that, as the harness asks them; a step's figure is the
 * sum of its checks.
 */
async function timeGates(
  agent: AgentDefinition,
  events: readonly StoredEvent[],
): Promise<number[]> {
  const gates = gateChain(agent);
  const perStep = new Map<number, number>();
  let state = initialState();
  for (const e of events) {
    if (e.type === 'model.requested') {
      const at = { agent, state, step: e.data.step };
      const t = performance.now();
      for (let i = 0; i < gateRepeats; i++) checkModelCall(gates, at);
      perStep.set(
        e.data.step,
        (perStep.get(e.data.step) ?? 0) + (performance.now() - t) / gateRepeats,
      );
    }
    if (e.type === 'tool.started') {
      const call = state.calls.find((c) => c.callIndex === e.data.callIndex);
      const tool = agent.tools.find((t) => t.name === e.data.tool);
      if (call !== undefined && tool !== undefined) {
        const input: unknown = await tool.input.parse(call.args);
        const at = { agent, state, step: e.data.step, call, tool, input };
        const t = performance.now();
        for (let i = 0; i < gateRepeats; i++) checkToolCall(gates, at);
        perStep.set(
          e.data.step,
          (perStep.get(e.data.step) ?? 0) + (performance.now() - t) / gateRepeats,
        );
      }
    }
    state = applyEvent(state, e);
  }
  return [...perStep.values()];
}
