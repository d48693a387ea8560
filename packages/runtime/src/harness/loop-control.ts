import { LongrunError, loopHistoryLimits } from '@longrun/core';

/**
 * An agent's loop control (`defineAgent({ loopControl })`); `false` turns it off, and each rule
 * may be turned off alone with `false`. Omitted fields take the defaults.
 */
export interface LoopControlConfig {
  /**
   * Pause when the same tool is called with the same arguments `times` times within the latest
   * `within` tool calls (the call about to be made included). Calls made before the workspace
   * last changed, a person last wrote or an evaluator last judged are not counted: running the
   * tests again after an edit is not a repeat. Default `{ times: 5, within: 20 }`.
   */
  sameCall?: { times?: number; within?: number } | false;
  /**
   * Pause before the model call that follows this many model turns without progress: no call
   * that got a result it had not had recently (a call repeated with the same result is none),
   * no new workspace state, no message from a person. Default 8.
   */
  noProgressTurns?: number | false;
  /**
   * Pause before a call of a tool that failed `failures` of its latest `within` runs (the tool
   * threw). A request refused — by a gate, for arguments that do not parse, or by the tool with a
   * typed error that trying again will not help (FILE_TYPE_REFUSED…) — is not a run of the tool,
   * and a non-zero exit of a command is a result. Default `{ failures: 5, within: 6 }`.
   */
  circuitBreaker?: { failures?: number; within?: number } | false;
}

/** Loop control with every default filled in; null for a rule that is off. */
export interface LoopControl {
  sameCall: { times: number; within: number } | null;
  noProgressTurns: number | null;
  circuitBreaker: { failures: number; within: number } | null;
}

/**
 * The defaults, chosen to catch a stuck model within a few turns and to leave a working one
 * alone (tested against a 100-step agent that makes progress):
 * - 5 identical calls within 20: a working agent repeats a read or a test run after something
 *   changed, which resets the count; five of the same call with nothing changed in between is a
 *   model going round in circles (a loop of one call is paused after 4 runs, a loop of two
 *   alternating calls after 8 or 9);
 * - 8 turns without a new result: an agent exploring or editing sees something new nearly every
 *   turn; eight turns that only see results already seen are a cycle too long for `sameCall`;
 * - 5 failures of the latest 6 runs of a tool: a tool that fails now and then (a flaky network)
 *   is left alone; one that keeps failing is down or misused, and a person should look.
 */
export const defaultLoopControl: LoopControl = {
  sameCall: { times: 5, within: 20 },
  noProgressTurns: 8,
  circuitBreaker: { failures: 5, within: 6 },
};

/**
 * The agent's loop control, validated, with the defaults filled in; null when it is off.
 * Throws INVALID_ARGUMENT naming the field and what it must be.
 */
export function resolveLoopControl(
  agentName: string,
  config: LoopControlConfig | false | undefined,
): LoopControl | null {
  if (config === false) return null;
  const bad = (what: string): never => {
    throw new LongrunError('INVALID_ARGUMENT', `loopControl${what} of agent ${agentName}`);
  };
  if (config === undefined) return defaultLoopControl;
  if (config === null || typeof config !== 'object')
    return bad(' must be an object of rules or false');
  const known = ['sameCall', 'noProgressTurns', 'circuitBreaker'];
  const unknown = Object.keys(config).filter((k) => !known.includes(k));
  if (unknown.length > 0) bad(`.${unknown[0]} is not a rule; the rules are ${known.join(', ')}`);
  return {
    sameCall: sameCallOf(config.sameCall, bad),
    noProgressTurns: noProgressOf(config.noProgressTurns, bad),
    circuitBreaker: breakerOf(config.circuitBreaker, bad),
  };
}

function sameCallOf(
  rule: LoopControlConfig['sameCall'],
  bad: (what: string) => never,
): LoopControl['sameCall'] {
  if (rule === false) return null;
  const defaults = defaultLoopControl.sameCall as { times: number; within: number };
  if (rule === undefined) return defaults;
  if (typeof rule !== 'object' || rule === null)
    bad('.sameCall must be { times, within } or false');
  const { times = defaults.times, within = Math.max(defaults.within, times) } = rule;
  if (!wholeIn(times, 2, loopHistoryLimits.calls))
    bad(`.sameCall.times must be a whole number from 2 to ${loopHistoryLimits.calls}`);
  if (!wholeIn(within, times, loopHistoryLimits.calls))
    bad(
      `.sameCall.within must be a whole number of tool calls from times (${times}) to ${loopHistoryLimits.calls}`,
    );
  return { times, within };
}

function noProgressOf(
  rule: LoopControlConfig['noProgressTurns'],
  bad: (what: string) => never,
): number | null {
  if (rule === false) return null;
  if (rule === undefined) return defaultLoopControl.noProgressTurns;
  if (!wholeIn(rule, 2, 10_000))
    bad('.noProgressTurns must be a whole number of model turns from 2 to 10000, or false');
  return rule;
}

function breakerOf(
  rule: LoopControlConfig['circuitBreaker'],
  bad: (what: string) => never,
): LoopControl['circuitBreaker'] {
  if (rule === false) return null;
  const defaults = defaultLoopControl.circuitBreaker as { failures: number; within: number };
  if (rule === undefined) return defaults;
  if (typeof rule !== 'object' || rule === null)
    bad('.circuitBreaker must be { failures, within } or false');
  const { failures = defaults.failures, within = Math.max(defaults.within, failures) } = rule;
  const max = loopHistoryLimits.runsPerTool;
  if (!wholeIn(failures, 1, max))
    bad(`.circuitBreaker.failures must be a whole number from 1 to ${max}`);
  if (!wholeIn(within, failures, max))
    bad(
      `.circuitBreaker.within must be a whole number of runs from failures (${failures}) to ${max}`,
    );
  return { failures, within };
}

function wholeIn(value: unknown, min: number, max: number): value is number {
  return Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;
}
