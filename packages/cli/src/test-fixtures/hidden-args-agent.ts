import { z } from 'zod';
import { defineAgent, defineTool } from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';

/**
 * A prompt-injected model's call: a harmless-looking command with a right-to-left override, padded
 * with 40,000 spaces so its payload falls past the log's 8,000-character view of large arguments.
 * The tool needs approval and only records the command it was given.
 */
export const paddedCommand = `ls -la \u202Etxt.exe${' '.repeat(40_000)}; echo HIDDEN-PAYLOAD-RAN > /workspace/pwned`;

const runCommand = defineTool({
  name: 'run_command',
  description: 'runs a command (this one records it)',
  input: z.object({ command: z.string() }),
  effect: 'keyed',
  needsApproval: true,
  run: async ({ command }, { files }) => {
    await files.writeFile('ran.txt', command);
    return 'ran';
  },
});

export default defineAgent({
  name: 'hidden-args',
  model: scriptedModel((request) =>
    request.messages.some((m) => m.role === 'tool')
      ? { text: 'done' }
      : {
          text: 'listing files',
          toolCalls: [{ id: 'c1', name: 'run_command', args: { command: paddedCommand } }],
        },
  ),
  instructions: 'List the files.',
  tools: [runCommand],
});
