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
      if (sameCall !== null) {
        const group = largestGroup(loop, sameCall.within);
        if (group !== null && group.size >= sameCall.times) {
          const repeated = counted(loop, sameCall.within).filter(
            (c) => c.argsHash === group.argsHash,
          );
          return sameCallPause(agent.name, sameCall, repeated);
        }
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
  return count;
}

/**
 * An open-addressing table of hashes, reused by every model call's check (which runs
 * synchronously to its end): slot → index + 1 of the group's first call (0: empty), and the
 * group's count. It is kept at least twice the size of the window it counts.
 */
let slotCall = new Int32Array(128);
let slotCount = new Int32Array(128);

/**
 * Of the calls `counted` would give, the largest group with the same arguments (the first group
 * to reach that size, on a tie) and its size; null when there are none. Counted before every
 * model call, without gathering the calls: only a pause gathers its group.
 */
function largestGroup(
  loop: LoopHistory,
  within: number,
): { argsHash: string; size: number } | null {
  const { calls } = loop;
  const from = Math.max(0, calls.length - Math.max(0, within));
  if (2 * (calls.length - from) > slotCall.length) {
    const slots = 2 ** Math.ceil(Math.log2(2 * (calls.length - from)));
    slotCall = new Int32Array(slots);
    slotCount = new Int32Array(slots);
  }
  const mask = slotCall.length - 1;
  slotCall.fill(0);
  let best: string | null = null;
  let size = 0;
  for (let i = from; i < calls.length; i++) {
    const c = calls[i] as LoopCall;
    if (c.seq <= loop.changedAtSeq) continue;
    const h = c.argsHash;
    // The hash is hex digits of SHA-256: its first characters spread the slots evenly.
    let slot = (h.charCodeAt(0) * 31 + h.charCodeAt(1) * 7 + h.charCodeAt(2)) & mask;
    let count = 1;
    for (;;) {
      const first = slotCall[slot] as number;
      if (first === 0) {
        slotCall[slot] = i + 1;
        slotCount[slot] = 1;
        break;
      }
      if ((calls[first - 1] as LoopCall).argsHash === h) {
        count = (slotCount[slot] as number) + 1;
        slotCount[slot] = count;
        break;
      }
      slot = (slot + 1) & mask;
    }
    if (count > size) {
      best = h;
      size = count;
    }
  }
  return best === null ? null : { argsHash: best, size };
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
