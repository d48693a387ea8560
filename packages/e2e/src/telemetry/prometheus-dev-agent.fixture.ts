import { defineAgent } from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';

/** The agent `longrun dev` runs in the Prometheus test: one answer, with the usage it reports. */
export default defineAgent({
  name: 'metrics-dev',
  model: scriptedModel(() => ({
    text: 'Answered by the dev process.',
    usage: { inputTokens: 1_234, outputTokens: 56 },
  })),
  instructions: 'Answer.',
  tools: [],
  workspaceSnapshots: false,
});
