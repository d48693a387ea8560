import { LongrunError } from '@longrun/core';
import type { AgentDefinition } from '../agent/define-agent.ts';

/**
 * A worker's agents by name. Refused (INVALID_ARGUMENT): no `agents` at all, an entry that is
 * not a defined agent, and two agents of one name (a session names its agent, so only one of
 * them could ever run). An empty list is taken as meant — `longrun dev` serves the API and the
 * dashboard with an idle worker — and the worker says at start that it will claim nothing.
 */
export function agentsByName(
  agents: readonly AgentDefinition[] | undefined,
): Map<string, AgentDefinition> {
  if (!Array.isArray(agents))
    refuse(
      `a worker needs its agents: new Worker({ store, agents: [myAgent] }), agents made by defineAgent (it claims only sessions of these); it got ${agents === undefined ? 'none' : `a ${typeof agents}`}`,
    );
  const byName = new Map<string, AgentDefinition>();
  agents.forEach((agent: unknown, i) => {
    const name = (agent as { name?: unknown } | null)?.name;
    if (typeof name !== 'string' || !Array.isArray((agent as { tools?: unknown }).tools))
      refuse(`agents[${i}] of the worker is not an agent; make it with defineAgent({ ... })`);
    if (byName.has(name))
      refuse(
        `the worker is given two agents named ${JSON.stringify(name)}; a session names the agent that runs it, so agent names must be unique within a worker`,
      );
    byName.set(name, agent as AgentDefinition);
  });
  return byName;
}

/**
 * The sub-agents this worker's agents may start that it does not run itself, as `parent → child`.
 * Not an error: a child session runs on any worker that has its agent, which may be another one.
 */
export function subAgentsRunElsewhere(agents: ReadonlyMap<string, AgentDefinition>): string[] {
  const out: string[] = [];
  for (const agent of agents.values())
    for (const child of agent.subAgents?.agents ?? [])
      if (!agents.has(child)) out.push(`${agent.name} → ${child}`);
  return out;
}

/** What the worker logs at start when it was given no agents. */
export const noAgentsWarning =
  'this worker has no agents, so it runs no session: give it the agents to run (new Worker({ agents: [...] }), or longrun worker --agents <module>)';

function refuse(message: string): never {
  throw new LongrunError('INVALID_ARGUMENT', message);
}
