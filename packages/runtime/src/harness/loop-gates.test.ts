import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  applyEvent,
  callHash,
  event,
  fold,
  isLongrunError,
  sessionId,
  type JsonObject,
  type JsonValue,
  type NewEvent,
  type SessionState,
} from '@longrun/core';
import { scriptedModel } from '@longrun/models/testing';
import { defineAgent, defineTool, type AgentDefinition } from '../agent/define-agent.ts';
import { checkModelCall, checkToolCall, type GateDecision } from './gates.ts';
import { gateChain } from './limit-gates.ts';
import { defaultLoopControl, resolveLoopControl, type LoopControlConfig } from './loop-control.ts';
import { stuckLoopGate } from './stuck-loop-gate.ts';
import { circuitBreakerGate } from './circuit-breaker-gate.ts';
import type { LoopControl } from './loop-control.ts';

const read = defineTool({
  name: 'read',
  description: 'reads',
  input: z.object({ path: z.string() }),
  effect: 'pure',
  run: async ({ path }) => path,
});
const fetchTool = defineTool({
  name: 'fetch',
  description: 'fetches',
  input: z.object({ url: z.string() }),
  effect: 'pure',
  run: async ({ url }) => url,
});

const agentWith = (loopControl?: LoopControlConfig | false): AgentDefinition =>
  defineAgent({
    name: 'looper',
    model: scriptedModel([]),
    instructions: '',
    tools: [read, fetchTool],
    ...(loopControl === undefined ? {} : { loopControl }),
  });

/** A session's log as the harness writes it; the state is folded event by event. */
class Log {
  state: SessionState = fold([]);
  constructor() {
    this.add(event('session.created', { agent: 'looper', input: null }));
  }
  add(e: NewEvent): this {
    const seq = this.state.seq + 1;
    const full = { ...e, sessionId: sessionId('ses_gates'), seq, v: 1, atMs: 0, epoch: 1 };
    this.state = applyEvent(this.state, full);
    return this;
  }
  /** A model turn that makes `calls`, without their results yet. */
  turn(...calls: { tool: string; args: JsonObject }[]): this {
    const step = this.state.steps + 1;
    const toolCalls = calls.map((c, callIndex) => ({ callIndex, ...c }));
    const usage = { inputTokens: 1, outputTokens: 1 };
    return this.add(event('model.responded', { step, text: '', toolCalls, usage }));
  }
  result(callIndex: number, output: JsonValue, ok = true, attempt = 1): this {
    const call = this.state.calls.find((c) => c.callIndex === callIndex)!;
    const step = this.state.steps;
    return this.add(
      event('tool.completed', { step, callIndex, tool: call.tool, ok, output, attempt }),
    );
  }
  /** A turn of one call and its result. */
  call(tool: string, args: JsonObject, output: JsonValue, ok = true, attempt = 1): this {
    return this.turn({ tool, args }).result(0, output, ok, attempt);
  }
  resume(): this {
    return this.add(event('session.resumed', { by: 'ops', reason: 'looked' }));
  }
}

/** What the chain decides about the first open call of the latest turn. */
function beforeTool(agent: AgentDefinition, log: Log): GateDecision {
  const call = log.state.calls.find((c) => c.result === null)!;
  const tool = agent.tools.find((t) => t.name === call.tool)!;
  const at = { agent, state: log.state, step: log.state.steps, call, tool, input: call.args };
  return checkToolCall(gateChain(agent), at)?.decision ?? { decision: 'allow' };
}

function beforeModel(agent: AgentDefinition, log: Log): GateDecision {
  const at = { agent, state: log.state, step: log.state.steps + 1 };
  return checkModelCall(gateChain(agent), at)?.decision ?? { decision: 'allow' };
}

describe('the stuck-loop gate', () => {
  const agent = agentWith();

  it('pauses the fifth call of a tool with the same arguments, with the calls it counted', () => {
    const log = new Log();
    for (let i = 0; i < 4; i++) log.call('read', { path: 'a.txt' }, 'A');
    log.turn({ tool: 'read', args: { path: 'a.txt' } });
    const decided = beforeTool(agent, log);
    expect(decided).toMatchObject({
      decision: 'pause',
      reason: expect.stringMatching(
        /^stuck loop: read called 5 times with the same arguments \([0-9a-f]{16}\) within the latest 20 tool calls, with nothing changed in between \(steps 1, 2, 3, 4, 5\); .*loopControl.sameCall of agent looper$/,
      ) as string,
      evidence: {
        rule: 'sameCall',
        tool: 'read',
        argsHash: callHash('read', { path: 'a.txt' }),
        times: 5,
        within: 20,
        calls: [
          { step: 1, callIndex: 0, seq: 3, ok: true },
          { step: 2, callIndex: 0, seq: 5, ok: true },
          { step: 3, callIndex: 0, seq: 7, ok: true },
          { step: 4, callIndex: 0, seq: 9, ok: true },
        ],
        next: { step: 5, callIndex: 0 },
      },
    });
  });

  it('lets the same call through with other arguments, outside the window, or after a change', () => {
    const other = new Log();
    for (let i = 0; i < 4; i++) other.call('read', { path: 'a.txt' }, 'A');
    expect(beforeTool(agent, other.turn({ tool: 'read', args: { path: 'b.txt' } }))).toEqual({
      decision: 'allow',
    });

    const spread = new Log();
    for (let i = 0; i < 4; i++) {
      spread.call('read', { path: 'a.txt' }, 'A');
      for (let j = 0; j < 5; j++) spread.call('fetch', { url: `u${i}-${j}` }, `page ${i}-${j}`);
    }
    // 4 earlier reads, but the first is 24 calls back: 3 in the latest 19.
    expect(beforeTool(agent, spread.turn({ tool: 'read', args: { path: 'a.txt' } }))).toEqual({
      decision: 'allow',
    });

    const edited = new Log();
    for (let i = 0; i < 4; i++) {
      edited.call('read', { path: 'a.txt' }, 'A');
      edited.add(
        event('workspace.snapshotted', {
          step: edited.state.steps,
          manifestHash: `m${i}`,
          files: 1,
          bytes: 1,
          changed: 1,
        }),
      );
    }
    expect(beforeTool(agent, edited.turn({ tool: 'read', args: { path: 'a.txt' } }))).toEqual({
      decision: 'allow',
    });
  });

  it('pauses before the model call when repeated calls never reached the tool gate', () => {
    const log = new Log();
    // An unknown tool: answered with an error, attempt 0, without asking the gates.
    for (let i = 0; i < 5; i++)
      log.call('nosuch', { x: 1 }, 'there is no tool named "nosuch"', false, 0);
    expect(beforeModel(agent, log)).toMatchObject({
      decision: 'pause',
      evidence: { rule: 'sameCall', tool: 'nosuch', times: 5 },
    });
    expect(beforeModel(agent, log.resume())).toEqual({ decision: 'allow' });
  });

  it('pauses after 8 turns that only saw results already seen, and not after 7', () => {
    const log = new Log().call('read', { path: 'a' }, 'A').call('read', { path: 'b' }, 'B');
    for (let i = 0; i < 7; i++) log.call('read', { path: i % 2 ? 'a' : 'b' }, i % 2 ? 'A' : 'B');
    // sameCall would pause the repeats first; without it, the turns are what is counted.
    const noSameCall = agentWith({ sameCall: false });
    expect(beforeModel(noSameCall, log)).toEqual({ decision: 'allow' });
    log.call('read', { path: 'a' }, 'A');
    expect(beforeModel(noSameCall, log)).toMatchObject({
      decision: 'pause',
      reason: expect.stringMatching(
        /^stuck loop: 8 model turns without progress .* since step 2; .*noProgressTurns of agent looper$/,
      ) as string,
      evidence: { rule: 'noProgress', turns: 8, noProgressTurns: 8, sinceStep: 2 },
    });
    const evidence = (
      beforeModel(noSameCall, log) as unknown as {
        evidence: { recentCalls: unknown[] };
      }
    ).evidence;
    expect(evidence.recentCalls).toHaveLength(5);
    // A result not seen before is progress.
    log.call('read', { path: 'c' }, 'C');
    expect(beforeModel(noSameCall, log)).toEqual({ decision: 'allow' });
  });

  it('takes a tool that acknowledges every call alike for progress, call by call', () => {
    const log = new Log();
    for (let i = 0; i < 12; i++) log.call('fetch', { url: `https://x/${i}` }, 'sent');
    expect(beforeModel(agent, log)).toEqual({ decision: 'allow' });
  });

  it('does not pause again on the same evidence after a resume, and does on new evidence', () => {
    const log = new Log();
    for (let i = 0; i < 4; i++) log.call('read', { path: 'a.txt' }, 'A');
    log.turn({ tool: 'read', args: { path: 'a.txt' } });
    expect(beforeTool(agent, log).decision).toBe('pause');
    log.resume();
    expect(beforeTool(agent, log)).toEqual({ decision: 'allow' });
    log.result(0, 'A');
    for (let i = 0; i < 3; i++) log.call('read', { path: 'a.txt' }, 'A');
    expect(beforeTool(agent, log.turn({ tool: 'read', args: { path: 'a.txt' } }))).toMatchObject({
      decision: 'pause',
      evidence: { times: 5, calls: [{ step: 5 }, { step: 6 }, { step: 7 }, { step: 8 }] },
    });
  });

  it('follows the agent: other numbers, a rule off, loop control off', () => {
    const log = new Log();
    for (let i = 0; i < 2; i++) log.call('read', { path: 'a.txt' }, 'A');
    log.turn({ tool: 'read', args: { path: 'a.txt' } });
    expect(beforeTool(agentWith({ sameCall: { times: 3, within: 3 } }), log).decision).toBe(
      'pause',
    );
    expect(beforeTool(agentWith({ sameCall: { times: 4 } }), log).decision).toBe('allow');
    const gate = stuckLoopGate({ ...defaultLoopControl, sameCall: null });
    const call = log.state.calls[0]!;
    const at = { agent, state: log.state, step: 3, call, tool: read, input: call.args };
    expect(gate.beforeToolCall?.(at)).toEqual({ decision: 'allow' });
    expect(gateChain(agentWith(false)).map((g) => g.name)).toEqual([
      'maxSteps',
      'maxModelAttempts',
      'budget',
      'needsApproval',
    ]);
    expect(gateChain(agent).map((g) => g.name)).toEqual([
      'maxSteps',
      'maxModelAttempts',
      'stuckLoop',
      'circuitBreaker',
      'budget',
      'needsApproval',
    ]);
  });
});

describe('the circuit breaker', () => {
  const agent = agentWith();
  const failing = (log: Log, i: number) =>
    log.call('fetch', { url: `u${i}` }, `tool fetch failed: connection refused #${i}`, false);

  it('pauses the next call of a tool that failed 5 of its latest 6 runs, with its last errors', () => {
    const log = new Log();
    failing(log, 0);
    log.call('fetch', { url: 'ok' }, 'page');
    for (let i = 1; i < 5; i++) failing(log, i);
    // Another tool is not affected.
    expect(beforeTool(agent, log.turn({ tool: 'read', args: { path: 'x' } }))).toEqual({
      decision: 'allow',
    });
    log.result(0, 'x');
    const decided = beforeTool(agent, log.turn({ tool: 'fetch', args: { url: 'next' } }));
    expect(decided).toMatchObject({
      decision: 'pause',
      reason:
        'circuit breaker: fetch failed 5 of its latest 6 runs (last: tool fetch failed: connection refused #4); fix what it depends on, then resume the session (its runs are counted afresh), or change loopControl.circuitBreaker of agent looper',
      evidence: {
        rule: 'circuitBreaker',
        tool: 'fetch',
        failures: 5,
        runs: 6,
        within: 6,
        errors: [
          { step: 4, error: 'tool fetch failed: connection refused #2' },
          { step: 5, error: 'tool fetch failed: connection refused #3' },
          { step: 6, error: 'tool fetch failed: connection refused #4' },
        ],
      },
    });
  });

  it('leaves a tool that fails now and then alone, and counts only runs', () => {
    const log = new Log();
    for (let i = 0; i < 12; i++) {
      if (i % 3 === 0) log.call('fetch', { url: `ok${i}` }, `page ${i}`);
      else failing(log, i);
    }
    expect(beforeTool(agent, log.turn({ tool: 'fetch', args: { url: 'n' } }))).toEqual({
      decision: 'allow',
    });
    const refused = new Log();
    for (let i = 0; i < 6; i++)
      refused.call('fetch', { url: `u${i}` }, 'refused by policy', false, 0);
    expect(beforeTool(agent, refused.turn({ tool: 'fetch', args: { url: 'n' } }))).toEqual({
      decision: 'allow',
    });
  });

  it('counts afresh after a resume: the tool gets its next runs', () => {
    const log = new Log();
    for (let i = 0; i < 5; i++) failing(log, i);
    log.turn({ tool: 'fetch', args: { url: 'n' } });
    expect(beforeTool(agent, log).decision).toBe('pause');
    expect(beforeTool(agent, log.resume())).toEqual({ decision: 'allow' });
    const gate = circuitBreakerGate({ ...defaultLoopControl, circuitBreaker: null });
    log.result(0, 'tool fetch failed: again', false);
    for (let i = 0; i < 4; i++) failing(log, i);
    log.turn({ tool: 'fetch', args: { url: 'n' } });
    expect(beforeTool(agent, log).decision).toBe('pause');
    const call = log.state.calls[0]!;
    const at = { agent, state: log.state, step: 1, call, tool: fetchTool, input: call.args };
    expect(gate.beforeToolCall?.(at)).toEqual({ decision: 'allow' });
  });
});

describe('loopControl of an agent', () => {
  it('fills in the defaults and refuses what it cannot use, saying what it must be', () => {
    expect(resolveLoopControl('a', undefined)).toEqual({
      sameCall: { times: 5, within: 20 },
      noProgressTurns: 8,
      circuitBreaker: { failures: 5, within: 6 },
    });
    expect(resolveLoopControl('a', false)).toBeNull();
    expect(
      resolveLoopControl('a', {
        sameCall: { times: 30 },
        noProgressTurns: false,
        circuitBreaker: false,
      }),
    ).toEqual({ sameCall: { times: 30, within: 30 }, noProgressTurns: null, circuitBreaker: null });
    const refusals: [LoopControlConfig, RegExp][] = [
      [{ sameCall: { times: 1 } }, /sameCall.times must be a whole number from 2 to 50/],
      [{ sameCall: { times: 5, within: 4 } }, /sameCall.within .* from times \(5\) to 50/],
      [{ sameCall: { within: 51 } }, /sameCall.within/],
      [{ sameCall: true as never }, /sameCall must be \{ times, within \} or false/],
      [{ noProgressTurns: 1.5 }, /noProgressTurns must be a whole number/],
      [{ circuitBreaker: { failures: 0 } }, /circuitBreaker.failures .* from 1 to 20/],
      [{ circuitBreaker: { failures: 3, within: 21 } }, /circuitBreaker.within/],
      [{ sameCal: {} } as never, /loopControl.sameCal is not a rule/],
    ];
    for (const [config, message] of refusals) {
      let thrown: unknown;
      try {
        agentWith(config);
      } catch (error) {
        thrown = error;
      }
      expect(isLongrunError(thrown) && thrown.code).toBe('INVALID_ARGUMENT');
      expect((thrown as Error).message).toMatch(message);
      expect((thrown as Error).message).toMatch(/of agent looper$/);
    }
  });
});

describe('the stuck-loop gate, counted against a reference', () => {
  /** mulberry32, seeded: a failure names its seed. */
  const random = (seed: number) => () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  it('pauses exactly when the largest group of identical calls in the window reaches the bar', () => {
    const seed = Number(process.env.LONGRUN_SEED ?? Date.now() % 1_000_000);
    console.log(`stuck-loop reference test seed ${seed} (LONGRUN_SEED=${seed} repeats it)`);
    const next = random(seed);
    let checked = 0;
    let paused = 0;
    for (let run = 0; run < 40; run++) {
      const distinct = 1 + Math.floor(next() * 60);
      const within = 1 + Math.floor(next() * 50);
      const times = 2 + Math.floor(next() * 6);
      const control: LoopControl = {
        ...defaultLoopControl,
        sameCall: { times, within },
        noProgressTurns: null,
      };
      const gate = stuckLoopGate(control);
      const log = new Log();
      for (let i = 0; i < 120; i++) {
        if (next() < 0.03) log.add(event('user.messaged', { text: 'go on', signalId: null }));
        const path = `f${Math.floor(next() * distinct)}`;
        log.call('read', { path }, `out ${Math.floor(next() * 3)}`);
        const loop = log.state.loop!;
        const window = loop.calls.slice(-within).filter((c) => c.seq > loop.changedAtSeq);
        const groups = new Map<string, number>();
        for (const c of window) groups.set(c.argsHash, (groups.get(c.argsHash) ?? 0) + 1);
        const largest = Math.max(0, ...groups.values());
        const at = { agent: agentWith(), state: log.state, step: log.state.steps + 1 };
        const decision = gate.beforeModelCall!(at);
        const where = `seed ${seed}, run ${run}, call ${i} (times ${times}, within ${within})`;
        if (largest >= times) {
          paused++;
          expect(decision, where).toMatchObject({
            decision: 'pause',
            evidence: { times: largest },
          });
        } else expect(decision, where).toEqual({ decision: 'allow' });
        // Before a tool call: the calls with its arguments among the latest within - 1, plus it.
        const argsHash = callHash('read', { path });
        const same = loop.calls
          .slice(-(within - 1) || loop.calls.length)
          .filter((c) => within > 1 && c.seq > loop.changedAtSeq && c.argsHash === argsHash);
        log.turn({ tool: 'read', args: { path } });
        const call = log.state.calls[0]!;
        const tool = gate.beforeToolCall!({
          ...at,
          state: log.state,
          call,
          tool: read,
          input: call.args,
        });
        if (same.length + 1 >= times) expect(tool.decision, where).toBe('pause');
        else expect(tool, where).toEqual({ decision: 'allow' });
        log.result(0, `out ${Math.floor(next() * 3)}`);
        checked++;
      }
    }
    expect(checked).toBe(40 * 120);
    // Both answers are exercised: a bar reached and not.
    expect(paused).toBeGreaterThan(0);
    expect(paused).toBeLessThan(checked);
  });
});
