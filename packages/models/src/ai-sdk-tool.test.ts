import { tool } from '@ai-sdk/provider-utils';
import { isLongrunError, sessionId, type ToolContext } from '@longrun/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { aiTool, effect, fromAiSdkTool } from './ai-sdk-tool.ts';

const context = {
  sessionId: sessionId('ses_t'),
  step: 2,
  callIndex: 1,
  idempotencyKey: 'ses_t:2:1',
  attempt: 1,
  signal: new AbortController().signal,
  holding: () => true,
} as unknown as ToolContext;

const progress = tool({
  description: 'counts to three, reporting each step',
  inputSchema: z.object({ to: z.number().int().max(3) }),
  async *execute({ to }) {
    for (let i = 1; i <= to; i++) yield { counted: i };
  },
});

describe('an AI SDK tool as a longrun Tool', () => {
  it('streams preliminary results and returns the last; a tool that returns nothing gives null', async () => {
    const counted = fromAiSdkTool('progress', progress);
    expect(await counted.run(await counted.input.parse({ to: 3 }), context)).toEqual({
      counted: 3,
    });
    const silent = fromAiSdkTool('silent', tool({ inputSchema: z.object({}), execute: () => {} }));
    expect(await silent.run({}, context)).toBeNull();
  });

  it('checks input with its schema and says what is wrong, path by path', async () => {
    const counted = fromAiSdkTool('progress', progress);
    const error: unknown = await Promise.resolve(counted.input.parse({ to: 'x' })).catch(
      (e: unknown) => e,
    );
    expect(isLongrunError(error, 'INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toMatch(/^to: /);
    const { $schema, ...rest } = counted.input.jsonSchema;
    expect($schema).toBeUndefined();
    expect(rest).toMatchObject({ type: 'object', properties: { to: { type: 'integer' } } });
  });

  it('aiTool and effect name the effect class and stay AI SDK tools; unnamed is unsafe', () => {
    expect(fromAiSdkTool('progress', progress).effect).toBe('unsafe');
    const keyed = effect('keyed', progress);
    expect(keyed.execute).toBe(progress.execute);
    expect(keyed.inputSchema).toBe(progress.inputSchema);
    expect(fromAiSdkTool('progress', keyed).effect).toBe('keyed');
    // effect() keeps the other options aiTool named.
    // The rule is typed by the tool's input.
    const gated = effect('idempotent', aiTool(progress, { needsApproval: ({ to }) => to > 2 }));
    const converted = fromAiSdkTool('progress', gated);
    expect(converted.effect).toBe('idempotent');
    const rule = converted.needsApproval as (input: unknown) => boolean;
    expect([rule({ to: 3 }), rule({ to: 1 })]).toEqual([true, false]);
  });
});
