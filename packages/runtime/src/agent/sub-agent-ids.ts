import { createHash } from 'node:crypto';
import type { SessionId } from '@longrun/core';

/** The name of the built-in tool an agent with `subAgents` gets. */
export const subAgentsToolName = 'run_subagents';

/** The most children one `run_subagents` call may start: the bound on `maxParallel` (defineAgent). */
export const maxChildrenPerCall = 128;

/**
 * A child session's id: derived from the call that starts it, so a call run again (a resumed
 * step) finds the children it already made instead of starting them twice, and anyone who knows
 * the call (the parent's wait names it) finds its children without reading the parent's log.
 */
export function childSessionId(
  parent: string,
  step: number,
  callIndex: number,
  i: number,
): SessionId {
  const hash = createHash('sha256').update(`${parent}:${step}:${callIndex}:${i}`).digest('hex');
  return `ses_${hash.slice(0, 32)}` as SessionId;
}
