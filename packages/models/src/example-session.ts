import type { ModelMessage, ModelResponse, ModelToolSpec } from '@longrun/core';

/**
 * The session the wire fixtures were written for: an agent asked to fix a repository's failing
 * test. Tests (here and in other packages) send these requests and queue the matching fixtures.
 */
export const exampleTools: ModelToolSpec[] = [
  {
    name: 'run_command',
    description: 'Run a shell command in the workspace',
    inputSchema: {
      type: 'object',
      properties: { command: { type: 'string' } },
      required: ['command'],
      additionalProperties: false,
    },
  },
  {
    name: 'read_file',
    description: 'Read a file of the workspace',
    inputSchema: {
      type: 'object',
      properties: { path: { type: 'string' } },
      required: ['path'],
      additionalProperties: false,
    },
  },
];

export const exampleOpening: ModelMessage[] = [
  { role: 'system', content: 'You fix failing tests in the repository in your workspace.' },
  { role: 'user', content: 'npm test fails. Find out why and fix it.' },
];

/** What the fixtures' first turn says, and what their second turn answers. */
export const exampleTexts = {
  intro: "I'll run the test suite first to see what fails, and read the module under test.",
  fix: 'The test fails because `add` subtracts its second argument. I changed `a - b` to `a + b` in src/math.ts; `npm test` now passes (12 tests).',
};

/** The transcript after the model's tool-calling turn, with one result per call (as a harness builds it). */
export function exampleFollowUp(first: ModelResponse): ModelMessage[] {
  const outputs: Record<string, string> = {
    run_command:
      'FAIL test/math.test.ts > add > adds two numbers\nexpected -1 to be 5\n1 failed, 11 passed',
    read_file: 'export function add(a: number, b: number): number {\n  return a - b;\n}\n',
  };
  return [
    ...exampleOpening,
    {
      role: 'assistant',
      text: first.text,
      toolCalls: first.toolCalls,
      ...(first.parts === undefined ? {} : { parts: first.parts }),
    },
    {
      role: 'tool',
      results: first.toolCalls.map((call) => ({
        id: call.id,
        name: call.name,
        output: outputs[call.name] ?? { error: `no such tool ${call.name}` },
        isError: outputs[call.name] === undefined,
      })),
    },
  ];
}
