import { defineAgent } from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';

/**
 * The trace test's sub-agent tree, one module for `longrun dev --agents`: `trace-lead` starts one
 * `trace-member` and reports.
 */
export const leadAgent = 'trace-lead';
export const memberAgent = 'trace-member';

export const member = defineAgent({
  name: memberAgent,
  model: scriptedModel(() => ({ text: 'member: checked' })),
  instructions: 'Check what you are given.',
  tools: [],
});

export const lead = defineAgent({
  name: leadAgent,
  model: scriptedModel((request) =>
    request.messages.some((m) => m.role === 'tool')
      ? { text: 'lead: the member is done' }
      : {
          toolCalls: [
            {
              id: 'team',
              name: 'run_subagents',
              args: { tasks: [{ agent: memberAgent, task: 'check the canary pool' }] },
            },
          ],
        },
  ),
  instructions: 'Delegate.',
  tools: [],
  subAgents: { agents: [memberAgent] },
});

export default [lead, member];
