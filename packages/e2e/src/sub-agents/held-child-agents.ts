import { join } from 'node:path';
import { z } from 'zod';
import { defineAgent, defineTool } from '@longrun/runtime';
import { scriptedModel, type ScriptedTurn } from '@longrun/models/testing';

const work = defineTool({
  name: 'work',
  description: 'does one unit of work',
  input: z.object({ n: z.number() }),
  effect: 'pure',
  run: async ({ n }) => ({ did: n }),
});

const toolResults = (request: { messages: readonly unknown[] }): number =>
  request.messages.filter((m) => (m as { role: string }).role === 'tool').length;

/** The probe's child: calls `work` five times, one call a turn, then answers. */
export function childAgent(dir: string) {
  return defineAgent({
    name: 'child',
    instructions: 'Work.',
    model: scriptedModel((request): ScriptedTurn => {
      const done = toolResults(request);
      return done < 5
        ? { toolCalls: [{ name: 'work', args: { n: done } }] }
        : { text: 'child done' };
    }),
    tools: [work],
    workspaceRoot: join(dir, 'ws'),
    workspaceSnapshots: false,
  });
}

/**
 * The probe's parent, with `toolCalls: 3`: its run_subagents call counts one, so its one child is
 * carved the other two, and pauses for its budget before its third call.
 */
export function parentAgent(dir: string) {
  return defineAgent({
    name: 'parent',
    instructions: 'Delegate.',
    model: scriptedModel((request): ScriptedTurn =>
      toolResults(request) > 0
        ? { text: 'parent done' }
        : {
            toolCalls: [
              { name: 'run_subagents', args: { tasks: [{ agent: 'child', task: 'go' }] } },
            ],
          },
    ),
    tools: [],
    subAgents: { agents: ['child'] },
    budget: { toolCalls: 3 },
    workspaceRoot: join(dir, 'ws'),
    workspaceSnapshots: false,
  });
}
