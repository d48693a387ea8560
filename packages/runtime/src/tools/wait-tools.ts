import { z } from 'zod';
import type { JsonValue, Tool } from '@longrun/core';
import { defineTool } from '../agent/define-agent.ts';

export interface WaitToolsOptions {
  /** The longest the model may sleep or wait in one call, milliseconds (default: 7 days). */
  maxWaitMs?: number;
}

const day = 24 * 60 * 60 * 1000;

/**
 * Tools that let the model itself wait durably (DESIGN §12): `sleep` and `wait_for_signal`.
 * Each is one wait of the tool call: the session holds no worker meanwhile, survives any
 * restart, and the call's result is what the wait ended with. Both are `pure`: a call re-run
 * after its wait resolved only replays the wait.
 */
export function waitTools(options: WaitToolsOptions = {}): Tool[] {
  const maxWaitMs = options.maxWaitMs ?? 7 * day;
  const duration = z.number().int().min(0).max(maxWaitMs);
  return [
    defineTool({
      name: 'sleep',
      description: `Pauses this session for a while (at most ${maxWaitMs} ms) without using any resources, then continues. Use it to wait for something that takes time, e.g. before checking again.`,
      input: z.object({ ms: duration.describe('How long to pause, in milliseconds.') }),
      effect: 'pure',
      run: async ({ ms }, context) => {
        await context.sleep(ms);
        return `slept ${ms} ms`;
      },
    }),
    defineTool({
      name: 'wait_for_signal',
      description:
        'Waits until someone sends this session the named signal (POST /v1/sessions/{id}/signals/{name}) and returns its payload, or says the wait timed out.',
      input: z.object({
        name: z
          .string()
          .min(1)
          .max(200)
          .describe('The signal to wait for, as the sender will name it.'),
        timeoutMs: duration.optional().describe('Give up after this many milliseconds.'),
      }),
      effect: 'pure',
      run: async ({ name, timeoutMs }, context): Promise<JsonValue> => {
        const result = await context.waitForSignal(
          name,
          timeoutMs === undefined ? {} : { timeoutMs },
        );
        return result.timedOut
          ? { signal: name, timedOut: true }
          : { signal: name, timedOut: false, payload: result.payload };
      },
    }),
  ];
}
