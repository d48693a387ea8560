/**
 * The crash-test agent's script, shared by the worker process (which plays it) and the tests
 * (which check the log against it). A turn is a pure function of the transcript: the number of
 * assistant messages it holds. Every worker process of a run therefore answers the same.
 */
import type { JsonObject, ModelMessage } from '@longrun/core';

export const crashAgentName = 'crash-agent';

/** The tools, one per effect class, in the order the script first calls them. */
export const toolNames = {
  pure: 'add',
  idempotent: 'note',
  keyed: 'charge',
  unsafe: 'send_email',
  unsafeVerified: 'transfer',
  approval: 'deploy',
} as const;

export interface ScriptedCall {
  name: string;
  args: JsonObject;
}

/** Tool calls per model step (step 1 is the first model turn); the last step has none. */
export const scriptCalls: readonly (readonly ScriptedCall[])[] = [
  [{ name: toolNames.pure, args: { a: 2, b: 3 } }],
  [{ name: toolNames.idempotent, args: { name: 'plan', text: 'charge, email, transfer, deploy' } }],
  [{ name: toolNames.keyed, args: { amount: 42 } }],
  [{ name: toolNames.unsafe, args: { to: 'ops@example.com' } }],
  [{ name: toolNames.unsafeVerified, args: { amount: 7 } }],
  [{ name: toolNames.approval, args: { service: 'api' } }],
  [
    { name: toolNames.keyed, args: { amount: 1 } },
    { name: toolNames.idempotent, args: { name: 'done', text: 'all steps ran' } },
    { name: toolNames.unsafe, args: { to: 'team@example.com' } },
  ],
  [],
];

/** Model turns in a session: the last one answers with text only, which completes it. */
export const scriptSteps = scriptCalls.length;

const words = [
  'alpha',
  'bravo',
  'charlie',
  'delta',
  'echo',
  'foxtrot',
  'golf',
  'hotel',
  'india',
  'juliet',
  'kilo',
  'lima',
];

/** The text of model step `step` (1-based): distinct per step, exactly `chars` long. */
export function scriptText(step: number, chars: number): string {
  let text = `Step ${step}:`;
  for (let i = 0; text.length < chars; i++) text += ` ${words[(step * 5 + i) % words.length]}`;
  return `${text.slice(0, chars - 1)}.`;
}

/** Which model step a request is for: one more than the assistant turns it already holds. */
export function stepOfRequest(messages: readonly ModelMessage[]): number {
  return messages.filter((m) => m.role === 'assistant').length + 1;
}
