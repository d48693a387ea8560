import type { ModelRequest } from '@longrun/core';
import { scriptedModel, type ScriptedModel, type ScriptedTurn } from '@longrun/models/testing';

const failingLine = ".replace(/[^a-z0-9]+/g, '-');";
const fixedLines = ".replace(/[^a-z0-9]+/g, '-')\n    .replace(/^-+|-+$/g, '');";

/** The session a capable model has with this repository, turn by turn. */
export const replayTurns: readonly ScriptedTurn[] = [
  {
    text: "I'll start by looking at the layout of the repository.",
    toolCalls: [{ id: 'call_list', name: 'list_files', args: { path: '.' } }],
  },
  {
    text: 'There are two source files with tests. Running the test suite to see what fails.',
    toolCalls: [{ id: 'call_test_1', name: 'run_command', args: { command: 'node --test' } }],
  },
  {
    text: "`drops punctuation at the ends` fails: the slug of '  Hello, World!  ' is 'hello-world-'. Reading the implementation and its test.",
    toolCalls: [
      { id: 'call_read_src', name: 'read_file', args: { path: 'src/slugify.js' } },
      { id: 'call_read_test', name: 'read_file', args: { path: 'test/slugify.test.js' } },
    ],
  },
  {
    text:
      'The replacement turns every run of non-alphanumerics into a dash, including the "!" at the end, ' +
      'so a dash is left over. Trimming dashes at both ends after the replacement fixes it.',
    toolCalls: [
      {
        id: 'call_edit',
        name: 'edit_file',
        args: { path: 'src/slugify.js', old_text: failingLine, new_text: fixedLines },
      },
    ],
  },
  {
    text: 'Re-running the tests.',
    toolCalls: [{ id: 'call_test_2', name: 'run_command', args: { command: 'node --test' } }],
  },
  {
    text:
      'All tests pass now. `slugify` turned leading and trailing punctuation into dashes; it now trims ' +
      "dashes at both ends, so '  Hello, World!  ' becomes 'hello-world'.",
  },
];

/** Which turn a request is at: one more than the assistant turns already in its transcript. */
function turnFor(request: ModelRequest): ScriptedTurn {
  const done = request.messages.filter((m) => m.role === 'assistant').length;
  return replayTurns[Math.min(done, replayTurns.length - 1)] ?? { text: 'Done.' };
}

/** The offline model: replays the session above, streaming its text a few characters at a time. */
export function replayModel(options: { chunkDelayMs?: number } = {}): ScriptedModel {
  return scriptedModel((request) => turnFor(request), {
    id: 'scripted:fix-failing-test',
    chunkSize: 6,
    chunkDelayMs: options.chunkDelayMs ?? 25,
  });
}
