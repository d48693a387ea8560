import { describe, expect, it } from 'vitest';
import type { NewEvent, SessionId, StoredEvent } from '@longrun/core';
import { itemTiming } from '../ui/item-timing.ts';
import { TimelineModel } from '../ui/timeline-model.ts';
import { buildWaterfall, WaterfallModel, type WaterfallRow } from '../ui/waterfall-model.ts';

/** Stored events with contiguous seqs at the commit times and epochs the test says. */
function log() {
  const events: StoredEvent[] = [];
  const at = (atMs: number, epoch: number, ...batch: NewEvent[]) => {
    for (const e of batch) {
      events.push({
        ...e,
        sessionId: 'ses_wf' as SessionId,
        seq: events.length + 1,
        v: 1,
        atMs,
        epoch,
      });
    }
  };
  return { events, at };
}

const created: NewEvent = { type: 'session.created', data: { agent: 'a', input: 'go' } };
const requested = (step: number, attempt: number): NewEvent => ({
  type: 'model.requested',
  data: { step, attempt, modelId: 'test:model', transcriptSeq: 1 },
});
const streamed = (step: number, attempt: number): NewEvent => ({
  type: 'model.streamed',
  data: { step, attempt, text: 'partial ' },
});
const failed = (step: number, attempt: number, code: 'MODEL_UNAVAILABLE' | 'WORKER_STOPPED') =>
  ({
    type: 'model.failed',
    data: { step, attempt, code, message: 'no', retryable: true, retryInMs: 0 },
  }) as NewEvent;
const responded = (step: number, attempt: number | undefined, tool?: string): NewEvent => ({
  type: 'model.responded',
  data: {
    step,
    text: 'ok',
    toolCalls: tool === undefined ? [] : [{ callIndex: 0, tool, args: {} }],
    usage: { inputTokens: 100, outputTokens: 20 },
    modelId: 'test:model',
    ...(attempt === undefined ? {} : { attempt }),
  },
});

/** [key, state, offsetMs, durationMs] of each row, the shape most assertions compare. */
const shape = (rows: WaterfallRow[]) =>
  rows.map((r) => [r.key, r.state, r.offsetMs, r.durationMs] as const);

describe('the trace waterfall', () => {
  it('lays out a turn with a retried attempt, an approval and a tool call from the commit times', () => {
    const { events, at } = log();
    at(1_000, 0, created);
    at(1_010, 1, requested(1, 1));
    at(1_050, 1, failed(1, 1, 'MODEL_UNAVAILABLE'));
    at(1_300, 1, {
      type: 'budget.reserved',
      data: {
        reservationId: 'r4',
        kind: 'step',
        step: 1,
        attempt: 2,
        modelId: 'test:model',
        costUsd: 0.05,
        inputTokens: 100,
        outputTokens: 4_096,
        cacheTokens: 0,
      },
    });
    at(1_301, 1, requested(1, 2));
    at(1_400, 1, streamed(1, 2));
    at(1_500, 1, responded(1, 2, 'deploy'), {
      type: 'budget.settled',
      data: {
        reservationId: 'r4',
        outcome: 'responded',
        costUsd: 0.0125,
        inputTokens: 100,
        outputTokens: 20,
        cacheTokens: 0,
      },
    });
    at(
      1_510,
      1,
      {
        type: 'approval.requested',
        data: {
          approvalId: 'ap1',
          point: 'tool.call',
          step: 1,
          callIndex: 0,
          tool: 'deploy',
          argsHash: 'h',
          expiresAtMs: null,
        },
      },
      { type: 'wait.started', data: { waitId: 'ap1', kind: 'signal', signal: 'approval:ap1' } },
    );
    at(3_510, 2, {
      type: 'approval.granted',
      data: { approvalId: 'ap1', by: 'api', reason: null },
    });
    at(3_520, 2, {
      type: 'wait.resolved',
      data: { waitId: 'ap1', signalId: 's1', payload: null },
    });
    at(3_600, 2, {
      type: 'tool.started',
      data: { step: 1, callIndex: 0, tool: 'deploy', effect: 'keyed' },
    });
    at(3_900, 2, {
      type: 'tool.completed',
      data: { step: 1, callIndex: 0, tool: 'deploy', ok: true, output: {}, attempt: 1 },
    });
    // No model.requested: the attempt starts at the commit before its response.
    at(4_500, 2, responded(2, undefined));
    at(4_510, 2, { type: 'session.completed', data: { output: 'done' } });

    const waterfall = buildWaterfall(events);
    expect(waterfall.originMs).toBe(1_000);
    expect(waterfall.totalMs).toBe(3_510);
    expect(shape(waterfall.rows)).toEqual([
      ['turn:1', 'completed', 0, 3_510],
      ['model:1:1', 'superseded', 10, 40],
      ['model:1:2', 'ok', 300, 200],
      ['approval:ap1', 'granted', 510, 2_000],
      ['tool:1:0', 'ok', 2_600, 300],
      ['model:2:1', 'ok', 2_900, 600],
    ]);
    const [turn, retried, answered] = waterfall.rows;
    expect(turn?.depth).toBe(0);
    expect(waterfall.rows.slice(1).every((r) => r.depth === 1)).toBe(true);
    expect(retried).toMatchObject({ supersededBy: 'retry', open: false, costUsd: null });
    expect(retried?.detail).toMatch(/MODEL_UNAVAILABLE · retried/);
    expect(answered).toMatchObject({ supersededBy: null, costUsd: 0.0125, step: 1, attempt: 2 });
    expect(answered?.detail).toBe('test:model · 100 in / 20 out');
    // The approval's wait is the approval's span, not a row of its own; its item is timed.
    expect(waterfall.rows.some((r) => r.kind === 'wait')).toBe(false);
    const model = new WaterfallModel();
    for (const e of events) model.apply(e);
    expect(model.span('wait:ap1')).toEqual({ startMs: 1_510, endMs: 3_520 });
  });

  it('marks an attempt cut by a crash, ending it at its own last event, not at the recovery', () => {
    const { events, at } = log();
    at(0, 0, created);
    at(10, 1, requested(1, 1));
    at(50, 1, streamed(1, 1));
    at(90, 1, streamed(1, 1));
    // The next worker (epoch 2) records the failure long after.
    at(5_000, 2, failed(1, 1, 'WORKER_STOPPED'));
    at(5_001, 2, requested(1, 2));
    at(5_100, 2, responded(1, 2));
    const rows = buildWaterfall(events).rows;
    expect(shape(rows)).toEqual([
      ['turn:1', 'running', 0, 5_100],
      ['model:1:1', 'superseded', 10, 80],
      ['model:1:2', 'ok', 5_001, 99],
    ]);
    expect(rows[1]).toMatchObject({ supersededBy: 'crash' });
    expect(rows[1]?.detail).toMatch(/WORKER_STOPPED · cut by a crash/);
    expect(rows[0]?.open).toBe(true);

    // The same with no failure event at all: the next attempt came from another epoch.
    const bare = log();
    bare.at(0, 0, created);
    bare.at(10, 1, requested(1, 1));
    bare.at(50, 1, streamed(1, 1));
    bare.at(7_000, 2, requested(1, 2));
    const cut = buildWaterfall(bare.events).rows[1];
    expect(cut).toMatchObject({ state: 'superseded', supersededBy: 'crash', durationMs: 40 });
  });

  it('keeps open spans open up to the latest event, and a failure with no retry as an error', () => {
    const { events, at } = log();
    at(0, 0, created);
    at(100, 1, requested(1, 1));
    at(400, 1, failed(1, 1, 'MODEL_UNAVAILABLE'));
    at(500, 1, { type: 'wait.started', data: { waitId: 't1', kind: 'timer', untilMs: 9_000 } });
    at(900, 2, {
      type: 'tool.started',
      data: { step: 2, callIndex: 0, tool: 'shell', effect: 'unsafe' },
    });
    at(950, 3, {
      type: 'tool.interrupted',
      data: { step: 2, callIndex: 0, tool: 'shell', outcome: 'unknown' },
    });
    at(1_200, 3, requested(3, 1));
    const rows = buildWaterfall(events).rows;
    expect(shape(rows)).toEqual([
      ['turn:1', 'running', 0, 1_200],
      ['model:1:1', 'error', 100, 300],
      ['wait:t1', 'running', 500, 700],
      ['tool:2:0', 'interrupted', 900, 50],
      ['model:3:1', 'running', 1_200, 0],
    ]);
    expect(rows.map((r) => r.open)).toEqual([true, false, true, false, true]);
    expect(rows[2]?.label).toBe('wait (timer)');
  });

  it('starts a new turn for a message after the session ended, and applies a replayed event once', () => {
    const { events, at } = log();
    at(0, 0, created);
    at(100, 1, responded(1, 1));
    at(110, 1, { type: 'session.completed', data: { output: 'a' } });
    at(2_000, 1, { type: 'user.messaged', data: { text: 'more', signalId: null } });
    at(2_300, 2, responded(2, 1));
    at(2_310, 2, { type: 'session.failed', data: { code: 'INTERNAL', message: 'x' } });
    const model = new WaterfallModel();
    for (const e of [...events, ...events.slice(2)]) model.apply(e);
    const { rows } = model.rows();
    expect(shape(rows)).toEqual([
      ['turn:1', 'completed', 0, 110],
      ['model:1:1', 'ok', 0, 100],
      ['turn:4', 'failed', 2_000, 310],
      ['model:2:1', 'ok', 2_000, 300],
    ]);
    expect(rows.map((r) => r.label)).toEqual(['turn 1', 'model step 1', 'turn 2', 'model step 2']);
    expect(model.span('model:2:1')).toEqual({ startMs: 2_000, endMs: 2_300 });
    expect(model.span('nothing')).toBeUndefined();
    expect(new WaterfallModel().rows()).toEqual({ originMs: null, totalMs: 0, rows: [] });
  });

  it("gives every timeline item its offset, and each span's duration", () => {
    const { events, at } = log();
    at(1_000, 0, created);
    at(1_200, 1, requested(1, 1));
    at(2_700, 1, responded(1, 1, 'deploy'));
    at(2_750, 1, {
      type: 'tool.started',
      data: { step: 1, callIndex: 0, tool: 'deploy', effect: 'keyed' },
    });
    const timeline = new TimelineModel();
    for (const e of events) timeline.applyEvent(e);
    expect(timeline.events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    const timings = timeline.items.map((item) => [item.key, itemTiming(timeline.trace, item)]);
    expect(timings).toEqual([
      ['user:1', '+0 ms'],
      ['model:1:1', '+200 ms · took 1.50 s'],
      ['tool:1:0', '+1.75 s · running'],
    ]);
    expect(itemTiming(new WaterfallModel(), { key: 'user:1', atMs: 5 })).toBeNull();
  });
});
