import { LongrunError, type Tool } from '@longrun/core';
import { readToolResultName } from '../tools/tool-results-config.ts';
import { subAgentsToolName } from './sub-agent-ids.ts';

/**
 * The tools the harness adds to an agent's own, by name: the pager of outputs kept in the blob
 * store (every agent unless `toolResults: false`) and the sub-agent starter (agents with
 * `subAgents`). A tool of the agent's own with one of these names would be offered to the model
 * twice and shadow the built-in.
 */
export const harnessToolNames: Readonly<Record<string, string>> = {
  [readToolResultName]: 'pages through tool outputs too large for the transcript',
  [subAgentsToolName]: 'starts the sub-agents of an agent with subAgents',
};

/** Refuses an agent whose tools share a name, or take the name of a tool the harness adds. */
export function checkToolNames(agentName: string, tools: readonly Tool[]): void {
  const seen = new Set<string>();
  for (const { name } of tools) {
    if (seen.has(name))
      refuse(`agent ${agentName} declares tool ${name} twice; tool names must be unique`);
    seen.add(name);
    if (Object.hasOwn(harnessToolNames, name))
      refuse(
        `agent ${agentName}: tool ${name} has the name of a built-in tool the harness adds (it ${harnessToolNames[name]}); give the agent's own tool another name`,
      );
  }
}

/** The numeric options of an agent, as `defineAgent` is given them. */
interface AgentNumbers {
  name: string;
  maxSteps?: number;
  maxModelAttempts?: number;
  approvalTtlMs?: number;
  maxOutputTokens?: number;
  temperature?: number;
}

/** The options that count something or last some time: whole and positive. */
const positiveWholeOptions = [
  'maxSteps',
  'maxModelAttempts',
  'approvalTtlMs',
  'maxOutputTokens',
] as const;

/** Refuses numeric options out of their range, naming the agent, the option and the value. */
export function checkAgentNumbers(agent: AgentNumbers): void {
  const shown = (value: unknown): string =>
    typeof value === 'number' || value === undefined ? String(value) : JSON.stringify(value);
  for (const option of positiveWholeOptions) {
    const value: unknown = agent[option];
    if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) > 0))
      refuse(
        `${option} of agent ${agent.name} must be a positive whole number${option.endsWith('Ms') ? ' of milliseconds' : ''}; it is ${shown(value)}`,
      );
  }
  const temperature: unknown = agent.temperature;
  if (
    temperature !== undefined &&
    (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature < 0)
  )
    refuse(
      `temperature of agent ${agent.name} must be a number, 0 or more; it is ${shown(temperature)}`,
    );
}

function refuse(message: string): never {
  throw new LongrunError('INVALID_ARGUMENT', message);
}
