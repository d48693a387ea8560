// An agent as a user writes it in their own project, in TypeScript: `longrun run ./my-agent.ts`
// runs it with Node's type stripping. packed-install.test.ts copies this directory out of the
// repository and runs it against the packed packages.
import { z } from 'zod';
import type { ModelRequest } from '@longrun/core';
import { defineAgent, defineTool } from '@longrun/runtime';
import { scriptedModel, type ScriptedTurn } from '@longrun/models/testing';

const countWords = defineTool({
  name: 'count_words',
  description: 'Counts the words of a text.',
  input: z.object({ text: z.string() }),
  effect: 'pure',
  // `node` says which Node.js ran the tool, so the test knows which one it exercised.
  run: async ({ text }: { text: string }) => ({
    words: text.trim().split(/\s+/).length,
    node: process.version,
  }),
});

/** Offline: first asks for the word count of the task, then reports the tool's answer. */
function answer(request: ModelRequest): ScriptedTurn {
  const results = request.messages.flatMap((m) => (m.role === 'tool' ? m.results : []));
  const result = results[0];
  if (result === undefined) {
    const task = request.messages.findLast((m) => m.role === 'user');
    return {
      text: 'Counting the words.',
      toolCalls: [{ id: 'count-1', name: 'count_words', args: { text: task?.content ?? '' } }],
    };
  }
  return { text: `TypeScript agent: ${JSON.stringify(result.output)}` };
}

export default defineAgent({
  name: 'word-counter-ts',
  instructions: 'Count the words of the task with count_words and say how many there are.',
  model: scriptedModel(answer),
  tools: [countWords],
});
