import { z } from 'zod';
import { defineAgent, defineTool } from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';

/**
 * The trace end-to-end test's agent. Its model's first attempt at step 1 streams a little and
 * fails as unavailable (retried at once by the harness); the retry plans and calls two tools —
 * `inspect`, which takes a moment, and `deploy`, which needs a person's approval —, then the
 * session reports. It runs under a cost budget at a price of its own, so every attempt is
 * reserved and settled in the log.
 */
export const traceAgent = 'trace-fixture';
export const traceModelId = 'scripted:trace';
export const inspectMs = 300;

const inspect = defineTool({
  name: 'inspect',
  description: 'reads the state of a service',
  input: z.object({ service: z.string() }),
  effect: 'pure',
  run: async ({ service }) => {
    await new Promise((resolve) => setTimeout(resolve, inspectMs));
    return { service, healthy: true };
  },
});

const deploy = defineTool({
  name: 'deploy',
  description: 'deploys a service',
  input: z.object({ service: z.string() }),
  effect: 'keyed',
  needsApproval: true,
  run: ({ service }) => Promise.resolve({ deployed: service }),
});

export default defineAgent({
  name: traceAgent,
  model: scriptedModel(
    (request) => {
      if (request.messages.some((m) => m.role === 'tool'))
        return { text: 'Deployed after inspecting it; all healthy.' };
      if (request.context?.step === 1 && request.context.attempt === 1)
        return {
          text: 'Planning the rollout, first',
          fail: { code: 'MODEL_UNAVAILABLE', message: 'scripted outage' },
        };
      return {
        text: 'Planning the rollout: inspect, then deploy.',
        toolCalls: [
          { id: 'i1', name: 'inspect', args: { service: 'api' } },
          { id: 'd1', name: 'deploy', args: { service: 'api' } },
        ],
      };
    },
    { id: traceModelId, chunkSize: 4, chunkDelayMs: 20 },
  ),
  instructions: 'Inspect, then deploy what you are asked to.',
  tools: [inspect, deploy],
  budget: { costUsd: 5 },
  prices: { [traceModelId]: { inputUsdPerMTok: 3, outputUsdPerMTok: 15 } },
});
