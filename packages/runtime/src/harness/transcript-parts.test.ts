import { describe, expect, it } from 'vitest';
import {
  event,
  fold,
  sessionId,
  type CheckpointPart,
  type JsonValue,
  type NewEvent,
  type SessionState,
  type StoredEvent,
} from '@longrun/core';
import { TranscriptBuilder } from '../agent/transcript-builder.ts';
import { harnessCheckpoint, readCheckpoint } from './checkpoint.ts';
import { maxParts, partChars, TranscriptParts } from './transcript-parts.ts';

const id = sessionId('ses_parts');
const seed = Number(process.env.LONGRUN_SEED ?? Math.floor(Math.random() * 2 ** 31));

function random(s: number): () => number {
  let state = s >>> 0;
  return () => {
    state = (state * 1_103_515_245 + 12_345) >>> 0;
    return state / 2 ** 32;
  };
}

/** A seeded agent log: steps of text and one to three calls, each answered, sizes at random. */
function agentLog(steps: number, next: () => number): NewEvent[] {
  const events: NewEvent[] = [event('session.created', { agent: 'a', input: 'work' })];
  const text = (max: number) => 'x'.repeat(Math.floor(next() * max)) + ` ${next()}`;
  for (let step = 1; step <= steps; step++) {
    const calls = 1 + Math.floor(next() * 3);
    events.push(
      event('model.responded', {
        step,
        text: text(1_500),
        toolCalls: Array.from({ length: calls }, (_, callIndex) => ({
          callIndex,
          tool: 'note',
          args: { line: text(400) },
        })),
        usage: { inputTokens: 10, outputTokens: 10 },
        finishReason: 'tool-calls',
        attempt: 1,
        modelId: 'm',
      }),
    );
    for (let callIndex = 0; callIndex < calls; callIndex++)
      events.push(
        event('tool.completed', {
          step,
          callIndex,
          tool: 'note',
          ok: next() > 0.1,
          output: next() > 0.5 ? text(2_000) : { n: step, s: text(50) },
          attempt: 1,
        }),
      );
  }
  return events;
}

function stored(events: NewEvent[], fromSeq: number): StoredEvent[] {
  return events.map((e, i) => ({ ...e, sessionId: id, seq: fromSeq + i, v: 1, atMs: 0, epoch: 1 }));
}

/** The session's parts as a store keeps them (CheckpointWrite). */
class PartStore {
  readonly byIndex = new Map<number, JsonValue>();
  apply(parts: { add: CheckpointPart[]; keepFrom: number } | undefined): void {
    if (parts === undefined) return;
    for (const index of [...this.byIndex.keys()])
      if (index < parts.keepFrom) this.byIndex.delete(index);
    for (const p of parts.add)
      if (!this.byIndex.has(p.index))
        this.byIndex.set(p.index, JSON.parse(JSON.stringify(p.value)) as JsonValue);
  }
  list(): CheckpointPart[] {
    return [...this.byIndex]
      .sort((a, b) => a[0] - b[0])
      .map(([index, value]) => ({ index, value }));
  }
}

/** A worker's view: the builder of what committed, and its parts. */
function checkpointAt(
  state: SessionState,
  builder: TranscriptBuilder,
  appending: StoredEvent[],
  parts: TranscriptParts,
) {
  const written = harnessCheckpoint(state, builder, appending, parts);
  return { ...written, text: JSON.stringify(written.state) };
}

describe(`checkpoint parts (seed ${seed})`, () => {
  it('read back every checkpoint of a long session as the transcript built from the log', () => {
    console.log(`transcript-parts seed=${seed} (repeat with LONGRUN_SEED=${seed})`);
    const next = random(seed);
    // 450 steps: over 400 seeds, at least 17 parts sealed and 7 merges (300 steps sealed as few as 9).
    const log = stored(agentLog(450, next), 1);
    const store = new PartStore();
    let parts = new TranscriptParts(null, []);
    const builder = new TranscriptBuilder();
    let state = fold([]);
    let largestOwn = 0;
    let sealedParts = 0;
    let merges = 0;
    let lastKeepFrom = 0;
    for (let at = 0; at < log.length;) {
      // A checkpoint every 1 to 80 events, carried by an append of 1 to 3 events.
      const skip = Math.floor(next() * 80);
      for (const e of log.slice(at, at + skip)) builder.apply(e);
      state = fold(log.slice(at, at + skip), state);
      at += skip;
      const appending = log.slice(at, at + 1 + Math.floor(next() * 3));
      if (appending.length === 0) break;
      const nextState = fold(appending, state);
      const written = checkpointAt(nextState, builder, appending, parts);
      // A third of the checkpoints do not commit: the next one seals the same runs again.
      if (next() < 0.33) continue;
      store.apply(written.parts);
      written.committed?.();
      for (const e of appending) builder.apply(e);
      state = nextState;
      at += appending.length;
      sealedParts += written.parts?.add.length ?? 0;
      // A merge replaces every part before it: a resume never reads more than maxParts.
      if ((written.parts?.keepFrom ?? 0) > lastKeepFrom) merges++;
      lastKeepFrom = written.parts?.keepFrom ?? 0;
      expect(store.byIndex.size).toBeLessThanOrEqual(maxParts);
      const read = readCheckpoint(JSON.parse(written.text) as JsonValue, store.list());
      expect(JSON.stringify(read?.transcript), `at seq ${state.seq}`).toBe(
        JSON.stringify(builder.snapshot()),
      );
      expect(read?.state).toEqual(state);
      largestOwn = Math.max(largestOwn, written.text.length - JSON.stringify(state).length);
      // A worker that resumes from this checkpoint continues the same parts.
      if (next() < 0.2)
        parts = new TranscriptParts(read?.sealed ?? null, [...store.byIndex.keys()]);
    }
    expect(sealedParts).toBeGreaterThan(10);
    expect(merges).toBeGreaterThan(2);
    // What a checkpoint carries of the transcript itself stays near a part's size (messages here
    // are at most ~6 kB), however long the transcript is.
    expect(largestOwn).toBeLessThan(partChars + 16_000);
  });

  it('start a new run of parts past every index after a compaction, and drop the old run', () => {
    // A fixed log of a few parts before the compaction.
    const next = random(54_321);
    const first = stored(agentLog(30, next), 1);
    const store = new PartStore();
    const parts = new TranscriptParts(null, []);
    const builder = new TranscriptBuilder();
    for (const e of first) builder.apply(e);
    const before = checkpointAt(fold(first), builder, [], parts);
    store.apply(before.parts);
    before.committed?.();
    const oldIndexes = [...store.byIndex.keys()];
    expect(oldIndexes.length).toBeGreaterThan(1);
    const compacted = stored(
      [
        event('context.compacted', {
          fromSeq: 1,
          throughSeq: 60,
          messages: 30,
          summary: 'what happened',
          modelId: 'm',
          usage: { inputTokens: 1, outputTokens: 1 },
          tokensBefore: 100,
          tokensAfter: 10,
          reason: 'threshold',
        }),
        ...agentLog(20, next).slice(1),
      ],
      first.length + 1,
    );
    const all = [...first, ...compacted];
    const after = checkpointAt(fold(all), builder, compacted, parts);
    const from = Math.max(...oldIndexes) + 1;
    expect(after.parts?.keepFrom).toBe(from);
    expect(after.parts?.add[0]?.index).toBe(from);
    store.apply(after.parts);
    after.committed?.();
    expect(Math.min(...store.byIndex.keys())).toBe(from);
    for (const e of compacted) builder.apply(e);
    const read = readCheckpoint(JSON.parse(after.text) as JsonValue, store.list());
    expect(JSON.stringify(read?.transcript)).toBe(JSON.stringify(builder.snapshot()));
  });

  it('give no transcript when a part is missing or holds other messages', () => {
    // A fixed log of a few parts (not the seed's): the test swaps one part for another.
    const log = stored(agentLog(25, random(12_345)), 1);
    const store = new PartStore();
    const written = checkpointAt(
      fold(log),
      new TranscriptBuilder(),
      log,
      new TranscriptParts(null, []),
    );
    store.apply(written.parts);
    const state = JSON.parse(written.text) as JsonValue;
    const whole = store.list();
    expect(whole.length).toBeGreaterThan(1);
    expect(readCheckpoint(state, whole)?.transcript).not.toBeNull();
    expect(readCheckpoint(state, whole.slice(1))).toMatchObject({ transcript: null });
    expect(readCheckpoint(state, [])).toMatchObject({ transcript: null });
    // Another run's part under the same index: the count of messages does not match.
    const swapped = whole.map((p, i) => (i === 0 ? { ...p, value: whole[1]!.value } : p));
    expect(readCheckpoint(state, swapped)).toMatchObject({ transcript: null });
    const garbage = whole.map((p, i) => (i === 0 ? { ...p, value: { records: 1 } } : p));
    expect(readCheckpoint(state, garbage)).toMatchObject({ transcript: null });
  });
});
