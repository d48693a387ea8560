import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isLongrunError, type Tool } from '@longrun/core';
import { scriptedModel } from '@longrun/models/testing';
import { readToolResultName } from '../tools/tool-results-config.ts';
import { harnessToolNames } from './agent-definition-check.ts';
import { defineAgent, defineTool } from './define-agent.ts';
import { subAgentsToolName } from './sub-agents.ts';

/** The message of the INVALID_ARGUMENT `make` throws; anything else fails the test. */
function refusal(make: () => unknown): string {
  try {
    make();
  } catch (error) {
    if (isLongrunError(error, 'INVALID_ARGUMENT')) return error.message;
    throw error;
  }
  throw new Error('expected an INVALID_ARGUMENT');
}

const tool = (name: string, extra: Record<string, unknown> = {}): Tool =>
  defineTool({
    name,
    description: 'd',
    input: z.object({ a: z.string() }),
    effect: 'pure',
    run: async () => 1,
    ...extra,
  });

/** `defineTool` with fields a TypeScript caller could not pass: what a JavaScript caller may. */
const defineLoose = (fields: Record<string, unknown>) => () =>
  defineTool({
    name: 'charge',
    description: 'charges a card',
    input: z.object({}),
    effect: 'keyed',
    run: async () => 1,
    ...fields,
  } as never);

/** `defineAgent` with fields of any kind, as a JavaScript caller may pass them. */
const agent = (fields: Record<string, unknown>) => () =>
  defineAgent({
    name: 'a',
    instructions: 'i',
    model: scriptedModel([]),
    ...fields,
  });

describe('defineTool refuses a malformed tool, naming the tool and the field', () => {
  it('an input that is not a zod schema, or not of an object', () => {
    expect(refusal(defineLoose({ input: { a: 'string' } }))).toBe(
      'tool charge: input must be a zod schema of the arguments, e.g. z.object({ city: z.string() }); it is a plain object',
    );
    expect(refusal(defineLoose({ input: undefined }))).toMatch(
      /^tool charge: input .* it is missing$/,
    );
    expect(refusal(defineLoose({ input: z.string() }))).toMatch(
      /^tool charge: input must be an object schema, e\.g\. z\.object.*type "string"$/,
    );
    expect(refusal(defineLoose({ input: z.object({ at: z.date() }) }))).toMatch(
      /^tool charge: its input schema cannot be written as JSON Schema.*Date/,
    );
  });

  it('an effect that is missing or not one of the effect classes, listed', () => {
    expect(refusal(defineLoose({ effect: undefined }))).toBe(
      'tool charge: effect is missing; name one of pure, idempotent, keyed, unsafe (what a call does to the world)',
    );
    expect(refusal(defineLoose({ effect: 'Unsafe' }))).toBe(
      'tool charge: effect "Unsafe" is not one of pure, idempotent, keyed, unsafe',
    );
  });

  it('a name, description, run or hook of the wrong kind', () => {
    expect(refusal(defineLoose({ name: undefined }))).toMatch(/^tool name undefined must match/);
    expect(refusal(defineLoose({ name: 'my tool' }))).toMatch(/^tool name "my tool" must match/);
    expect(refusal(defineLoose({ description: 5 }))).toMatch(
      /^tool charge: description must be a string .* it is a number$/,
    );
    expect(refusal(defineLoose({ run: 'go' }))).toBe(
      'tool charge: run must be a function; it is the string "go"',
    );
    expect(refusal(defineLoose({ verify: true }))).toMatch(
      /^tool charge: verify must be a function/,
    );
    expect(refusal(defineLoose({ needsApproval: 'yes' }))).toMatch(
      /^tool charge: needsApproval must be true, false or a function/,
    );
    expect(refusal(() => defineTool(undefined as never))).toMatch(/^defineTool takes an object/);
  });

  it('accepts a well-formed tool as before', () => {
    const made = tool('charge', { effect: 'unsafe', needsApproval: true });
    expect(made).toMatchObject({ name: 'charge', effect: 'unsafe', needsApproval: true });
    expect(made.input.jsonSchema).toMatchObject({ type: 'object', required: ['a'] });
  });
});

describe('defineAgent refuses tools it cannot offer the model as given', () => {
  it('a tool named like a tool the harness adds, with or without subAgents', () => {
    expect(refusal(agent({ tools: [tool('big'), tool('read_tool_result')] }))).toBe(
      "agent a: tool read_tool_result has the name of a built-in tool the harness adds (it pages through tool outputs too large for the transcript); give the agent's own tool another name",
    );
    for (const subAgents of [undefined, { agents: ['b'] }])
      expect(
        refusal(agent({ tools: [tool('run_subagents')], ...(subAgents ? { subAgents } : {}) })),
      ).toMatch(/^agent a: tool run_subagents has the name of a built-in tool the harness adds/);
    // From a tool set too (AI SDK tools are named by their keys).
    expect(refusal(agent({ tools: { read_tool_result: tool('read_tool_result') } }))).toMatch(
      /tool read_tool_result has the name of a built-in tool/,
    );
  });

  it('knows every name the harness adds', () => {
    expect(Object.keys(harnessToolNames).sort()).toEqual(
      [readToolResultName, subAgentsToolName].sort(),
    );
  });

  it('two tools of one name', () => {
    expect(refusal(agent({ tools: [tool('dup'), tool('dup')] }))).toBe(
      'agent a declares tool dup twice; tool names must be unique',
    );
  });

  it('tools that are no list or tool set: one tool, a string, a hand-made tool with a bad effect', () => {
    expect(refusal(agent({ tools: tool('x') }))).toBe(
      'agent a: tools is a single tool ("x"), not a list; put it in one: tools: [x]',
    );
    const aiSdkTool = { description: 'd', inputSchema: z.object({}), execute: async () => 1 };
    expect(refusal(agent({ tools: aiSdkTool }))).toMatch(
      /^agent a: tools is a single AI SDK tool, not a tool set; name it by its key/,
    );
    expect(refusal(agent({ tools: 'x' }))).toMatch(
      /^agent a: tools must be a list of tools .* it is a string$/,
    );
    const handMade = { ...tool('charge'), effect: 'Unsafe' };
    expect(refusal(agent({ tools: [handMade as never] }))).toMatch(
      /^agent a: tools\[0\] \("charge"\) is not a longrun Tool: its effect "Unsafe" is not one of pure, idempotent, keyed, unsafe; make it with defineTool/,
    );
    expect(refusal(agent({ tools: { charge: handMade as never } }))).toMatch(
      /^agent a: the tool set's "charge" is not a longrun Tool: its effect "Unsafe"/,
    );
    expect(refusal(agent({ tools: { charge: 'x' as never } }))).toBe(
      'agent a: the tool set\'s "charge" is a string, not a tool',
    );
  });
});

describe('defineAgent refuses numeric options out of range', () => {
  it('counts and durations that must be positive whole numbers', () => {
    expect(refusal(agent({ approvalTtlMs: -5 }))).toBe(
      'approvalTtlMs of agent a must be a positive whole number of milliseconds; it is -5',
    );
    expect(refusal(agent({ maxModelAttempts: 0 }))).toMatch(/^maxModelAttempts of agent a must/);
    expect(refusal(agent({ maxOutputTokens: 1.5 }))).toMatch(/^maxOutputTokens of agent a must/);
    expect(refusal(agent({ maxSteps: Number.NaN }))).toMatch(/^maxSteps of agent a .* it is NaN$/);
    expect(refusal(agent({ approvalTtlMs: '60000' }))).toMatch(/it is "60000"$/);
    expect(refusal(agent({ temperature: -1 }))).toMatch(/^temperature of agent a must be a number/);
    const ok = defineAgent({
      name: 'a',
      instructions: 'i',
      model: scriptedModel([]),
      approvalTtlMs: 60_000,
      maxModelAttempts: 2,
      maxOutputTokens: 1000,
      temperature: 0,
    });
    expect(ok.approvalTtlMs).toBe(60_000);
  });
});
