import { describe, expect, it } from 'vitest';
import { applyEvent, fold, type SessionState } from './fold.ts';
import { event, type NewEvent, type StoredEvent } from './events.ts';
import type { JsonObject, JsonValue } from './json.ts';
import { sessionId } from './ids.ts';
import { callHash, loopHistoryLimits } from './loop-history.ts';

/** A session's log as the harness writes it, one event at a time. */
class Log {
  readonly events: StoredEvent[] = [];
  state: SessionState = fold([]);
  constructor() {
    this.add(event('session.created', { agent: 'a', input: null }));
  }
  add(e: NewEvent): this {
    const stored = { ...e, sessionId: sessionId('ses_loop'), seq: this.events.length + 1 };
    const full = { ...stored, v: 1, atMs: 0, epoch: 1 };
    this.events.push(full);
    this.state = applyEvent(this.state, full);
    return this;
  }
  /** One model turn with one call, without its result. */
  turn(tool: string, args: JsonObject): this {
    const step = this.state.steps + 1;
    const usage = { inputTokens: 1, outputTokens: 1 };
    const toolCalls = [{ callIndex: 0, tool, args }];
    return this.add(event('model.responded', { step, text: '', toolCalls, usage }));
  }
  /** One model turn with one call, and its result. */
  call(tool: string, args: JsonObject, output: JsonValue, ok = true, attempt = 1): this {
    const step = this.turn(tool, args).state.steps;
    return this.add(event('tool.completed', { step, callIndex: 0, tool, ok, output, attempt }));
  }
  snapshot(manifestHash: string): this {
    const step = this.state.steps;
    return this.add(
      event('workspace.snapshotted', { step, manifestHash, files: 1, bytes: 1, changed: 1 }),
    );
  }
}

describe('the loop history', () => {
  it('identifies a call by its tool and arguments, whatever the key order', () => {
    expect(callHash('read', { a: 1, b: [1, { c: 2, d: 3 }] })).toBe(
      callHash('read', { b: [1, { d: 3, c: 2 }], a: 1 }),
    );
    expect(callHash('read', { a: 1 })).not.toBe(callHash('read', { a: 2 }));
    expect(callHash('read', { a: 1 })).not.toBe(callHash('list', { a: 1 }));
    expect(callHash('read', { a: 1 })).toMatch(/^[0-9a-f]{16}$/);
    // Hashed again with the same object: the same hash, and a hash per tool.
    const args = { q: 'x' };
    const first = callHash('read', args);
    expect(callHash('read', args)).toBe(first);
    expect(callHash('list', args)).toBe(callHash('list', { q: 'x' }));
    expect(callHash('list', args)).not.toBe(first);
    expect(callHash('read', args)).toBe(first);
    expect(callHash('read', 'plain')).toBe(callHash('read', 'plain'));
  });

  it('keeps the latest calls with their seqs, and moves progress only on results not seen', () => {
    const log = new Log().call('read', { path: 'a' }, 'A').call('read', { path: 'b' }, 'B');
    expect(log.state.loop?.progressStep).toBe(2);
    log.call('read', { path: 'a' }, 'A').call('read', { path: 'b' }, 'B');
    const loop = log.state.loop!;
    expect(loop.progressStep).toBe(2);
    expect(loop.calls.map((c) => [c.tool, c.step, c.seq, c.ok])).toEqual([
      ['read', 1, 3, true],
      ['read', 2, 5, true],
      ['read', 3, 7, true],
      ['read', 4, 9, true],
    ]);
    expect(loop.calls[0]!.argsHash).toBe(loop.calls[2]!.argsHash);
    expect(loop.calls[0]!.argsHash).toBe(callHash('read', { path: 'a' }));
    // A result it has not seen is progress, even of a call it has.
    log.call('read', { path: 'a' }, 'A, edited');
    expect(log.state.loop?.progressStep).toBe(5);
  });

  it('counts a workspace state not seen recently as a change, and one seen again as none', () => {
    const log = new Log().call('write', { x: 1 }, 'ok').snapshot('m1');
    const changedAt = log.state.seq;
    expect(log.state.loop?.changedAtSeq).toBe(changedAt);
    log.call('write', { x: 1 }, 'ok').call('write', { x: 1 }, 'ok').snapshot('m1');
    expect(log.state.loop).toMatchObject({ changedAtSeq: changedAt, progressStep: 1 });
    log.snapshot('m2');
    expect(log.state.loop).toMatchObject({ changedAtSeq: log.state.seq, progressStep: 3 });
  });

  it('keeps the runs of each tool, with a failed run output cut short, and not calls that never ran', () => {
    const long = 'x'.repeat(1000);
    const log = new Log()
      .call('fetch', { u: 1 }, `tool fetch failed: ${long}`, false)
      .call('fetch', { u: 2 }, 'page', true)
      .call('fetch', { u: 3 }, 'refused by policy', false, 0);
    // A typed refusal that trying again will not help: the request was wrong, not the tool.
    log.turn('fetch', { u: 4 });
    log.add(
      event('tool.completed', {
        step: log.state.steps,
        callIndex: 0,
        tool: 'fetch',
        ok: false,
        output: 'tool fetch failed (PATH_OUTSIDE_WORKSPACE): ../x leaves the workspace',
        attempt: 1,
        errorCode: 'PATH_OUTSIDE_WORKSPACE',
      }),
    );
    log.turn('fetch', { u: 5 });
    log.add(
      event('tool.completed', {
        step: log.state.steps,
        callIndex: 0,
        tool: 'fetch',
        ok: false,
        output: 'tool fetch failed (STORE_UNAVAILABLE): down',
        attempt: 1,
        errorCode: 'STORE_UNAVAILABLE',
      }),
    );
    const runs = log.state.loop!.tools;
    expect(runs).toHaveLength(1);
    expect(runs[0]!.runs.map((r) => [r.step, r.ok])).toEqual([
      [1, false],
      [2, true],
      [5, false],
    ]);
    expect(runs[0]!.runs[0]!.error).toHaveLength(loopHistoryLimits.errorChars);
    expect(runs[0]!.runs[0]!.error).toMatch(/^tool fetch failed: x+…$/);
    // The calls that never ran or were refused are still calls the model made.
    expect(log.state.loop!.calls).toHaveLength(5);
  });

  it('starts its windows afresh at a resume, keeping what it has seen', () => {
    const log = new Log().call('read', { p: 1 }, 'same').call('read', { p: 1 }, 'other', false);
    log.add(event('session.resumed', { by: 'ops', reason: 'looked at it' }));
    expect(log.state.loop).toMatchObject({
      sinceSeq: log.state.seq,
      changedAtSeq: log.state.seq,
      calls: [],
      tools: [],
      progressStep: 2,
    });
    expect(log.state.loop?.seen).toHaveLength(2);
  });

  it('stays bounded however long the session runs', () => {
    const log = new Log();
    for (let i = 0; i < 400; i++) log.call(`tool_${i % 40}`, { i }, `result ${i}`, i % 3 !== 0);
    for (let i = 0; i < 100; i++) log.snapshot(`m${i}`);
    const loop = log.state.loop!;
    expect(loop.calls).toHaveLength(loopHistoryLimits.calls);
    expect(loop.calls.at(-1)?.step).toBe(400);
    expect(loop.seen).toHaveLength(loopHistoryLimits.seen);
    expect(loop.tools).toHaveLength(loopHistoryLimits.tools);
    expect(loop.tools.at(-1)?.tool).toBe('tool_39');
    for (const t of loop.tools) expect(t.runs.length).toBeLessThanOrEqual(10);
    const size = JSON.stringify(loop).length;
    for (let i = 400; i < 800; i++) log.call(`tool_${i % 40}`, { i }, `result ${i}`, i % 3 !== 0);
    // Twice the session, the same size give or take the digits of larger numbers.
    expect(JSON.stringify(log.state.loop).length).toBeLessThan(size * 1.1);
  });

  it('folds the same from a checkpoint read back as JSON as from the whole log', () => {
    const log = new Log();
    for (let i = 0; i < 30; i++) log.call('t', { i: i % 4, z: { b: 1, a: 2 } }, { out: i % 5 });
    const cut = 31;
    const checkpoint = JSON.parse(JSON.stringify(fold(log.events.slice(0, cut)))) as SessionState;
    expect(fold(log.events.slice(cut), checkpoint)).toEqual(fold(log.events));
  });
});
