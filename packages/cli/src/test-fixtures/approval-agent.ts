import { z } from 'zod';
import { defineAgent, defineTool } from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';

/** A test agent whose one tool call needs a person's approval; each real run appends a line. */
const deploy = defineTool({
  name: 'deploy',
  description: 'deploys a service',
  input: z.object({ service: z.string() }),
  effect: 'keyed',
  needsApproval: true,
  run: async ({ service }, { files }) => {
    const log =
      (await files.stat('deploys.log')) === null ? '' : await files.readFile('deploys.log');
    await files.writeFile('deploys.log', `${Buffer.from(log).toString()}${service}\n`);
    return `deployed ${service}`;
  },
});

export default defineAgent({
  name: 'approval-fixture',
  model: scriptedModel((request) =>
    request.messages.some((m) => m.role === 'tool')
      ? { text: 'Deployed.' }
      : {
          text: 'Deploying api.',
          toolCalls: [{ id: 'd1', name: 'deploy', args: { service: 'api' } }],
        },
  ),
  instructions: 'Deploy what you are asked to.',
  tools: [deploy],
});
