import { defineAgent } from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';

/** A test agent that answers at once, in three lines, calling no tool. */
export default defineAgent({
  name: 'answer-fixture',
  model: scriptedModel(() => ({
    text: 'The first line of a long answer.\nThe second line, said in full.\nThe end.',
  })),
  instructions: 'Answer.',
  tools: [],
});
