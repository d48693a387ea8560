import { callHash, type JsonObject, type LoopCall, type LoopHistory } from '@longrun/core';
import { allow, type Gate, type GateDecision } from './gates.ts';
import type { LoopControl } from './loop-control.ts';

/** Calls shown in the evidence of a pause for no progress. */
const recentCallsShown = 5;

/**
 * Pauses a session whose model goes round in circles (DESIGN §7), by two rules of its agent's
 * loop control, decided from the folded loop history (loop-history.ts) alone:
 * - `sameCall`: before a tool call, when it would be the `times`-th call of that tool with those
 *   arguments within the latest `within` calls since the world last changed; before a model
 *   call, when that many such calls already have results (calls that never reach this gate: an
 *   unknown tool, arguments that do not parse);
 * - `noProgressTurns`: before a model call, when that many turns passed without progress.
 * A person's resume clears the windows, so the session is not paused again on the same evidence.
 */
export function stuckLoopGate(control: LoopControl): Gate {
  const { sameCall, noProgressTurns } = control;
  return {
    name: 'stuckLoop',
    beforeToolCall: ({ agent, state, step, call }) => {
      const loop = state.loop;
      if (sameCall === null || loop === undefined) return allow;
      const argsHash = callHash(call.tool, call.args);
      // Counted first, before every tool call: the calls themselves are gathered only to pause.
      if (countSame(loop, sameCall.within - 1, argsHash) + 1 < sameCall.times) return allow;
      const earlier = counted(loop, sameCall.within - 1).filter((c) => c.argsHash === argsHash);
      return sameCallPause(agent.name, sameCall, earlier, { step, callIndex: call.callIndex });
    },
    beforeModelCall: ({ agent, state }) => {
      const loop = state.loop;
      if (loop === undefined) return allow;
      if (sameCall !== null && mostRepeatedCount(loop, sameCall.within) >= sameCall.times) {
        const repeated = mostRepeated(counted(loop, sameCall.within));
        return sameCallPause(agent.name, sameCall, repeated);
      }
      const turns = state.steps - loop.progressStep;
      if (noProgressTurns === null || turns < noProgressTurns) return allow;
      return {
        decision: 'pause',
        reason: `stuck loop: ${turns} model turns without progress (no new tool result, no new workspace state) since step ${loop.progressStep}; look at what the agent repeats, then resume the session to let it go on (the count starts again), or change loopControl.noProgressTurns of agent ${agent.name}`,
        evidence: {
          rule: 'noProgress',
          turns,
          noProgressTurns,
          sinceStep: loop.progressStep,
          recentCalls: loop.calls.slice(-recentCallsShown).map((c) => ({
            tool: c.tool,
            argsHash: c.argsHash,
            ok: c.ok,
            step: c.step,
            callIndex: c.callIndex,
            seq: c.seq,
          })),
        },
      };
    },
  };
}

/** Of the latest `within` calls, those after the latest change of the world. */
function counted(loop: LoopHistory, within: number): LoopCall[] {
  if (within <= 0) return [];
  return loop.calls.slice(-within).filter((c) => c.seq > loop.changedAtSeq);
}

/** How many of the calls `counted` would give have `argsHash`, without gathering them. */
function countSame(loop: LoopHistory, within: number, argsHash: string): number {
  const { calls } = loop;
  let count = 0;
  for (let i = Math.max(0, calls.length - within); i < calls.length; i++) {
    const c = calls[i] as LoopCall;
    if (c.seq > loop.changedAtSeq && c.argsHash === argsHash) count++;
  }
  return within <= 0 ? 0 : count;
}

/**
 * An open-addressing table of hashes, reused by every model call's check (which runs
 * synchronously to its end): slot → index + 1 of the group's first call (0: empty), and the
 * group's count. A window holds at most `loopHistoryLimits.calls` (50) calls: fewer than half
 * the slots.
 */
const slots = 128;
const slotCall = new Int32Array(slots);
const slotCount = new Int32Array(slots);

/** The size of the largest group of identical calls among those `counted` would give. */
function mostRepeatedCount(loop: LoopHistory, within: number): number {
  if (within <= 0) return 0;
  const { calls } = loop;
  const from = Math.max(0, calls.length - within);
  if (calls.length - from > slots / 2) return mostRepeated(counted(loop, within)).length;
  slotCall.fill(0);
  let best = 0;
  for (let i = from; i < calls.length; i++) {
    const c = calls[i] as LoopCall;
    if (c.seq <= loop.changedAtSeq) continue;
    const h = c.argsHash;
    // The hash is hex digits of SHA-256: its first characters spread the slots evenly.
    let slot = (h.charCodeAt(0) * 31 + h.charCodeAt(1) * 7 + h.charCodeAt(2)) & (slots - 1);
    for (;;) {
      const first = slotCall[slot] as number;
      if (first === 0) {
        slotCall[slot] = i + 1;
        slotCount[slot] = 1;
        if (best < 1) best = 1;
        break;
      }
      if ((calls[first - 1] as LoopCall).argsHash === h) {
        const count = (slotCount[slot] as number) + 1;
        slotCount[slot] = count;
        if (count > best) best = count;
        break;
      }
      slot = (slot + 1) & (slots - 1);
    }
  }
  return best;
}

/** The largest group of identical calls (the earliest such group on a tie). */
function mostRepeated(calls: readonly LoopCall[]): LoopCall[] {
  // Counted first, before a model call of every step: only the winning group is made.
  const counts = new Map<string, number>();
  let best: string | null = null;
  let bestCount = 0;
  for (const call of calls) {
    const count = (counts.get(call.argsHash) ?? 0) + 1;
    counts.set(call.argsHash, count);
    if (count > bestCount) {
      best = call.argsHash;
      bestCount = count;
    }
  }
  return best === null ? [] : calls.filter((c) => c.argsHash === best);
}

function sameCallPause(
  agentName: string,
  rule: { times: number; within: number },
  calls: readonly LoopCall[],
  next?: { step: number; callIndex: number },
): GateDecision {
  const first = calls[0] as LoopCall;
  const times = calls.length + (next === undefined ? 0 : 1);
  const steps = [...new Set(calls.map((c) => c.step)), ...(next ? [next.step] : [])];
  const evidence: JsonObject = {
    rule: 'sameCall',
    tool: first.tool,
    argsHash: first.argsHash,
    times,
    within: rule.within,
    calls: calls.map((c) => ({ step: c.step, callIndex: c.callIndex, seq: c.seq, ok: c.ok })),
    ...(next === undefined ? {} : { next }),
  };
  return {
    decision: 'pause',
    reason: `stuck loop: ${first.tool} called ${times} times with the same arguments (${first.argsHash}) within the latest ${rule.within} tool calls, with nothing changed in between (steps ${steps.join(', ')}); look at why it repeats, then resume the session to let it go on (the count starts again), or change loopControl.sameCall of agent ${agentName}`,
    evidence,
  };
}
