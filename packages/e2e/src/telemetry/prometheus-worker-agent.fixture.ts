import { defineAgent } from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';

/** The agent the separate `longrun worker` runs in the Prometheus test: two model calls. */
export default defineAgent({
  name: 'metrics-worker',
  model: scriptedModel([
    { toolCalls: [{ name: 'noop', args: {} }], usage: { inputTokens: 700, outputTokens: 20 } },
    { text: 'Answered by the worker.', usage: { inputTokens: 810, outputTokens: 9 } },
  ]),
  instructions: 'Answer.',
  tools: [],
  workspaceSnapshots: false,
});
