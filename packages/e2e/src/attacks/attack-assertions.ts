import { expect } from 'vitest';
import type { AttackCall, AttackPlan } from './attack-plan.ts';
import { finalText, toolOutcomes, type ApiEvent, type ToolOutcome } from './session-api.ts';

export interface CallOutcome extends ToolOutcome {
  call: AttackCall;
}

/** Each call of the plan with its result, in order; every call must have had exactly one. */
export function outcomesOf(plan: AttackPlan, events: readonly ApiEvent[]): CallOutcome[] {
  const calls = plan.turns.flat();
  const outcomes = toolOutcomes(events);
  expect(outcomes.map((o) => o.tool)).toEqual(calls.map((c) => c.name));
  return outcomes.map((o, i) => ({ ...o, call: calls[i] as AttackCall }));
}

/** The session completed, and its model's last answer lists every result's code as it saw it. */
export function expectCompletedAndSeen(status: string, events: readonly ApiEvent[]): void {
  expect(status).toBe('completed');
  const seen = toolOutcomes(events).map(
    (o) => `${o.tool}:${o.errorCode ?? (o.ok ? 'ok' : 'error')}`,
  );
  expect(finalText(events)).toBe(`attack over; saw ${seen.join(' ')}`);
}

/** A file tool's call was refused with `code`, and the output the model got names the code. */
export function expectRefused(outcome: CallOutcome, code: string): void {
  const what = `${outcome.tool} ${JSON.stringify(outcome.call.args)}`;
  expect(outcome.ok, what).toBe(false);
  expect(outcome.errorCode, what).toBe(code);
  expect(outcome.output, what).toMatch(new RegExp(`^tool ${outcome.tool} failed \\(${code}\\): `));
}

/** `secret` appears in no event of the session (tool outputs, model text, anything). */
export function expectNowhereIn(events: readonly ApiEvent[], secret: string): void {
  const hits = events.filter((e) => JSON.stringify(e).includes(secret)).map((e) => e.seq);
  expect(hits, `events holding ${secret}`).toEqual([]);
}

/** The JSON lines a probe script printed (`{"probe": …}`), from a run_command's output. */
export function probeLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{"probe"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
