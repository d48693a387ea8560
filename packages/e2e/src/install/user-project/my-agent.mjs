// The same agent in plain JavaScript (no types, no build), as a user writes it in their own
// project: `longrun run ./my-agent.mjs`.
import { z } from 'zod';
import { defineAgent, defineTool } from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';

const countWords = defineTool({
  name: 'count_words',
  description: 'Counts the words of a text.',
  input: z.object({ text: z.string() }),
  effect: 'pure',
  run: async ({ text }) => ({ words: text.trim().split(/\s+/).length, node: process.version }),
});

export default defineAgent({
  name: 'word-counter-js',
  instructions: 'Count the words of the task with count_words and say how many there are.',
  model: scriptedModel((request) => {
    const result = request.messages.flatMap((m) => (m.role === 'tool' ? m.results : []))[0];
    if (result !== undefined) return { text: `JavaScript agent: ${JSON.stringify(result.output)}` };
    const task = request.messages.findLast((m) => m.role === 'user');
    return {
      text: 'Counting the words.',
      toolCalls: [{ id: 'count-1', name: 'count_words', args: { text: task?.content ?? '' } }],
    };
  }),
  tools: [countWords],
});
