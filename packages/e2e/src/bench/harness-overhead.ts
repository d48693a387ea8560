import { performance } from 'node:perf_hooks';
import { applyEvent, initialState, modelRequestOf, type StoredEvent } from '@longrun/core';
import {
  Worker,
  checkModelCall,
  checkToolCall,
  gateChain,
  type AgentDefinition,
} from '@longrun/runtime';
import { openStore } from '@longrun/cli';
import type { StoreTarget } from '../store-targets.ts';
import { waitForStatus } from '../crash/reference-run.ts';
import { ledgerAgent } from '../ledger/ledger-agent.ts';
import { percentile, round, summary } from './stats.ts';
import { StepTimer } from './step-timing.ts';

/**
 * The agent harness's own cost per step, in one session of `steps` steps of the ledger agent
 * asking for one file-appending tool call per step (StepTimer: wall time minus the time in the
 * model client and in the tool), the time its gate chain takes, and the events a step writes.
 */
export async function measureHarnessOverhead(make: () => Promise<StoreTarget>, steps: number) {
  const target = await make();
  const store = await openStore(target.url);
  try {
    const timer = new StepTimer();
    const agent = timer.timed(ledgerAgent({ dir: target.dir, calls: 'append' }));
    const session = await store.createSession({ agent: agent.name, input: { steps } });
    const worker = new Worker({ store, agents: [agent], pollMs: 2 });
    timer.watch(worker);
    await worker.start();
    await waitForStatus(store, session.id, ['completed'], 300_000);
    await worker.stop();
    const events = await store.readEvents(session.id, 0, 1_000_000);
    return {
      steps,
      overheadMs: summary(timer.overheadsMs()),
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
 * model request (`modelRequestOf`) the model-call chain is asked on the state before it, at each `tool.started`
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
    const request = modelRequestOf(e);
    if (request !== null) {
      const at = { agent, state, step: request.step };
      const t = performance.now();
      for (let i = 0; i < gateRepeats; i++) checkModelCall(gates, at);
      perStep.set(
        request.step,
        (perStep.get(request.step) ?? 0) + (performance.now() - t) / gateRepeats,
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
