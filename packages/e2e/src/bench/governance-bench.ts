import { performance } from 'node:perf_hooks';
import {
  applyEvent,
  checkPolicy,
  initialState,
  type Policy,
  type ToolRule,
  type PolicyLayer,
  type StoredEvent,
} from '@longrun/core';
import {
  Worker,
  checkToolCall,
  defineAgent,
  gateChain,
  type AgentDefinition,
} from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';
import { openStore } from '@longrun/cli';
import type { StoreTarget } from '../store-targets.ts';
import { waitForStatus } from '../crash/reference-run.ts';
import { ledgerAgent } from '../ledger/ledger-agent.ts';
import { ledgerToolNames } from '../ledger/ledger-script.ts';
import { percentile, round } from './stats.ts';

/** Checks per timed sample, so one sample is well above the timer's resolution. */
const repeats = 200;

/**
 * A 50-rule policy as an operator would write one: tool rules by name and glob, argument
 * matchers (globs, regexes, value sets), path and host rules. The ledger's own tools are allowed
 * by the last rules, so every check walks the whole list.
 */
export function fiftyRulePolicy(): Policy {
  const tools: ToolRule[] = [];
  for (let i = 0; i < 16; i++)
    tools.push({ tool: `internal_${i}_*`, action: 'deny', reason: `internal tool family ${i}` });
  for (let i = 0; i < 16; i++)
    tools.push({
      tool: `deploy_${i}`,
      action: i % 2 === 0 ? 'ask' : 'allow',
      args: [{ path: 'env', oneOf: ['prod', 'staging'] }],
    });
  for (let i = 0; i < 14; i++)
    tools.push({
      tool: i % 2 === 0 ? 'run_command' : `git_${i}`,
      action: 'deny',
      args: [
        i % 2 === 0
          ? { path: 'command', regex: `^(rm|dd|mkfs${i})\\b` }
          : { path: 'ref', glob: `release/${i}/**` },
      ],
    });
  tools.push({ tool: ledgerToolNames.keyed, action: 'allow' });
  tools.push({ tool: ledgerToolNames.idempotent, action: 'allow' });
  tools.push({
    tool: `${ledgerToolNames.keyed}*`,
    action: 'ask',
    args: [{ path: 'entry', glob: 'never-*' }],
  });
  tools.push({ tool: '*', action: 'deny', args: [{ path: 'force', oneOf: [true] }] });
  return checkPolicy({
    tools,
    paths: { read: ['**', '!secrets/**'], write: ['out/**', 'src/**', 'docs/*.md'] },
    hosts: ['api.github.com', '*.example.com', '127.0.0.1'],
    secrets: ['GITHUB_*'],
  });
}

/**
 * `governance.gateOverheadP50Ms`: the time of the whole tool-call gate chain per call with a
 * 50-rule agent policy under a tenant policy and every budget on, against the same chain with no
 * policy (loop control and budgets still on), replayed
 * over a real session's log (the state before each `tool.started`, as the harness asks).
 */
export async function measureGovernance(make: () => Promise<StoreTarget>, steps: number) {
  const target = await make();
  const store = await openStore(target.url);
  try {
    const ledger = ledgerAgent({ dir: target.dir, calls: 'alternate' });
    const modelId = typeof ledger.model === 'function' ? 'scripted' : ledger.model.id;
    // Every budget on, far from its limit: the gate checks each of them before every call.
    const agent = defineAgent({
      ...ledger,
      budget: {
        costUsd: 1_000,
        inputTokens: 1e9,
        outputTokens: 1e9,
        cacheTokens: 1e9,
        toolCalls: 1e6,
        toolCallsPerTool: { [ledgerToolNames.keyed]: 1e6, [ledgerToolNames.idempotent]: 1e6 },
        wallClockMs: 3_600_000,
        steps: 1e6,
      },
      prices: { [modelId]: { inputUsdPerMTok: 3, outputUsdPerMTok: 15 } },
    });
    const session = await store.createSession({ agent: agent.name, input: { steps } });
    const worker = new Worker({ store, agents: [agent], pollMs: 2 });
    await worker.start();
    await waitForStatus(store, session.id, ['completed'], 300_000);
    await worker.stop();
    const events = await store.readEvents(session.id, 0, 1_000_000);
    const layers: PolicyLayer[] = [
      {
        name: 'tenant',
        policy: checkPolicy({
          tools: [{ tool: '*', action: 'allow' }],
          paths: { read: ['**'], write: ['**'] },
          hosts: ['*'],
        }),
      },
      { name: 'agent', policy: fiftyRulePolicy() },
    ];
    const withPolicy = await timeToolGates(agent, layers, events);
    const without = await timeToolGates(agent, [], events);
    return {
      toolCalls: withPolicy.length,
      rules: 50,
      gateOverheadP50Ms: round(percentile(withPolicy, 50), 5),
      gateOverheadP99Ms: round(percentile(withPolicy, 99), 5),
      noPolicyP50Ms: round(percentile(without, 50), 5),
    };
  } finally {
    await store.close();
    await target.drop();
  }
}

async function timeToolGates(
  agent: AgentDefinition,
  layers: readonly PolicyLayer[],
  events: readonly StoredEvent[],
): Promise<number[]> {
  const gates = gateChain(agent, layers);
  const samples: number[] = [];
  let state = initialState();
  for (const e of events) {
    if (e.type === 'tool.started') {
      const call = state.calls.find((c) => c.callIndex === e.data.callIndex);
      const tool = agent.tools.find((t) => t.name === e.data.tool);
      if (call !== undefined && tool !== undefined) {
        const input: unknown = await tool.input.parse(call.args);
        const at = { agent, state, step: e.data.step, call, tool, input };
        const verdict = checkToolCall(gates, at);
        if (verdict !== null)
          throw new Error(`the bench policy refused a ledger call: ${verdict.decision.reason}`);
        const t = performance.now();
        for (let i = 0; i < repeats; i++) checkToolCall(gates, at, false, []);
        samples.push((performance.now() - t) / repeats);
      }
    }
    state = applyEvent(state, e);
  }
  return samples;
}

/**
 * `governance.subAgents`: one parent starts `children` sub-agent sessions in one call, on two
 * workers: the time until every child and the parent completed, and the parent's resume latency
 * (the last child's `session.completed` to the parent's `tool.completed` of that call).
 */
export async function measureSubAgents(make: () => Promise<StoreTarget>, children: number) {
  const target = await make();
  const store = await openStore(target.url);
  try {
    const child = defineAgent({
      name: 'child',
      model: scriptedModel(() => ({ text: 'child done' })),
      instructions: 'Answer.',
      tools: [],
      workspaceRoot: `${target.dir}/ws`,
      workspaceSnapshots: false,
    });
    const tasks = Array.from({ length: children }, (_, i) => ({
      agent: 'child',
      task: `task ${i}`,
    }));
    const parent = defineAgent({
      name: 'parent',
      model: scriptedModel((request) =>
        request.messages.some((m) => m.role === 'tool')
          ? { text: 'all done' }
          : { toolCalls: [{ name: 'run_subagents', args: { tasks } }] },
      ),
      instructions: 'Delegate.',
      tools: [],
      workspaceRoot: `${target.dir}/ws`,
      workspaceSnapshots: false,
      subAgents: { agents: ['child'], maxParallel: children },
    });
    const agents = [parent, child];
    const workers = [0, 1].map(() => new Worker({ store, agents, pollMs: 5 }));
    const session = await store.createSession({ agent: 'parent', input: 'go' });
    const started = performance.now();
    for (const w of workers) await w.start();
    await waitForStatus(store, session.id, ['completed'], 300_000);
    const allMs = performance.now() - started;
    for (const w of workers) await w.stop();
    const events = await store.readEvents(session.id, 0, 100_000);
    const result = events.find((e) => e.type === 'tool.completed');
    const ids = (
      result?.type === 'tool.completed' ? (result.data.output as { sessionId: string }[]) : []
    ).map((o) => o.sessionId);
    let lastChildAt = 0;
    for (const id of ids) {
      const childEvents = await store.readEvents(id as never, 0, 1_000);
      const done = childEvents.find((e) => e.type === 'session.completed');
      if (done === undefined) throw new Error(`child ${id} did not complete`);
      lastChildAt = Math.max(lastChildAt, done.atMs);
    }
    return {
      children: ids.length,
      workers: 2,
      allCompletedMs: round(allMs, 1),
      parentResumeMs: round((result?.atMs ?? 0) - lastChildAt, 1),
    };
  } finally {
    await store.close();
    await target.drop();
  }
}
