import { z } from 'zod';
import { defineAgent, defineTool } from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';

/**
 * The dashboard end-to-end test's agent: its scripted model streams a long text slowly, asks to
 * run a tool that needs approval, then streams a second long text. Every sentence carries its own
 * number, so a fragment shown twice (or lost) on the page cannot go unnoticed.
 */
export const chunkChars = 8;
export const chunkDelayMs = 25;

const findings = [
  'the health endpoint answers in time',
  'error rates are flat across zones',
  'the last release left no open incidents',
  'queue depth stays under its alert line',
  'database replicas are in sync',
  'the canary pool reports green',
];

function sentences(prefix: string, count: number): string {
  return Array.from(
    { length: count },
    (_, i) => `${prefix} ${String(i + 1).padStart(2, '0')}: ${findings[i % findings.length]}.`,
  ).join(' ');
}

/** About 200 chunks of `chunkChars` characters. */
export const planText = `Planning the rollout of service api. ${sentences('Check', 36)}`;
/** About 260 chunks: streamed after the approval, and cut by the test's kill -9. */
export const reportText = `Rollout of api finished; verifying it. ${sentences('Verified', 46)} All done.`;

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
    await files.writeFile('rollout.md', `# Rollout\n\n${service} deployed.\n`);
    return { deployed: service, replicas: 3 };
  },
});

export default defineAgent({
  name: 'dashboard-fixture',
  model: scriptedModel(
    (request) =>
      request.messages.some((m) => m.role === 'tool')
        ? { text: reportText }
        : {
            text: planText,
            toolCalls: [{ id: 'd1', name: 'deploy', args: { service: 'api' } }],
          },
    { chunkSize: chunkChars, chunkDelayMs },
  ),
  instructions: 'Roll out what you are asked to, then verify it.',
  tools: [deploy],
});
