import { describe, expect, it } from 'vitest';
import { event, fold, sessionId, type JsonValue, type StoredEvent } from '@longrun/core';
import { TranscriptBuilder, eventsPastBaseLimit } from '../agent/transcript-builder.ts';
import { harnessCheckpoint, readCheckpoint } from './checkpoint.ts';

const id = sessionId('ses_checkpoint');

/** A log of one step: the task, a response with one call, and its result. */
function log(): StoredEvent[] {
  const events = [
    event('session.created', { agent: 'notes', input: 'take notes' }),
    event('model.responded', {
      step: 1,
      text: 'noting',
      toolCalls: [{ callIndex: 0, tool: 'note', args: { line: 'a' } }],
      usage: { inputTokens: 1, outputTokens: 1 },
      finishReason: 'tool-calls',
      attempt: 1,
      modelId: 'm',
    }),
    event('tool.completed', {
      step: 1,
      callIndex: 0,
      tool: 'note',
      ok: true,
      output: 'noted a',
      attempt: 1,
    }),
  ];
  return events.map((e, i) => ({ ...e, sessionId: id, seq: i + 1, v: 1, atMs: 0, epoch: 1 }));
}

describe('harness checkpoints', () => {
  const events = log();
  const state = fold(events);
  const built = new TranscriptBuilder();
  for (const e of events) built.apply(e);

  it('are written as format 8: the state, and the transcript as a base plus the log after it', () => {
    const stored = JSON.parse(
      JSON.stringify(harnessCheckpoint(state, new TranscriptBuilder(), events)),
    ) as JsonValue;
    // No compaction yet: the base is the empty transcript at 0, and every message is in the log.
    expect(stored).toMatchObject({
      format: 8,
      transcript: { atSeq: 0, records: { text: '' }, seqs: [], startSeq: 0 },
    });
    expect(JSON.stringify((stored as { transcript: JsonValue }).transcript)).not.toContain(
      'take notes',
    );
    const read = readCheckpoint(stored);
    expect(read?.state).toEqual(state);
    // With loop control's history, as folded.
    expect(read?.state.loop?.calls).toMatchObject([{ tool: 'note', step: 1, seq: 3, ok: true }]);
    expect(read?.transcriptSeq).toBe(0);
    // The base and the events after it: the transcript a full fold gives.
    const resumed = TranscriptBuilder.from(read!.transcript!, read!.transcriptSeq);
    for (const e of events) resumed.apply(e);
    expect(JSON.stringify(resumed.snapshot())).toBe(JSON.stringify(built.snapshot()));
  });

  it('keep the transcript a compaction left as the base, and the events after it in the log', () => {
    const compacted: StoredEvent = {
      ...event('context.compacted', {
        messages: 2,
        fromSeq: 1,
        throughSeq: 2,
        summary: 'a line was noted',
        modelId: 'm',
        usage: { inputTokens: 1, outputTokens: 1 },
        tokensBefore: 10,
        tokensAfter: 2,
        reason: 'threshold',
      }),
      sessionId: id,
      seq: 4,
      v: 1,
      atMs: 0,
      epoch: 1,
    };
    const after = [...events, compacted];
    const stored = JSON.parse(
      JSON.stringify(harnessCheckpoint(fold(after), built.copy(), [compacted])),
    ) as JsonValue;
    expect(stored).toMatchObject({ format: 8, transcript: { atSeq: 4, startSeq: 4 } });
    // The summary and the result it kept, not the task it replaced.
    expect(JSON.stringify(stored)).toContain('a line was noted');
    expect(JSON.stringify(stored)).toContain('noted a');
    expect(JSON.stringify((stored as { transcript: JsonValue }).transcript)).not.toContain(
      'take notes',
    );
    const read = readCheckpoint(stored)!;
    const whole = new TranscriptBuilder();
    for (const e of after) whole.apply(e);
    expect(JSON.stringify(TranscriptBuilder.from(read.transcript!, 4).snapshot())).toBe(
      JSON.stringify(whole.snapshot()),
    );
  });

  it(`move the base up once the transcript grew ${eventsPastBaseLimit} events past it`, () => {
    const builder = new TranscriptBuilder();
    builder.apply(events[0]!);
    const filler = (seq: number): StoredEvent => ({
      ...event('tool.started', { step: 1, callIndex: 0, tool: 'note', effect: 'idempotent' }),
      sessionId: id,
      seq,
      v: 1,
      atMs: 0,
      epoch: 1,
    });
    for (let seq = 2; seq <= eventsPastBaseLimit; seq++) builder.apply(filler(seq));
    expect(builder.base.atSeq).toBe(0);
    const last = filler(eventsPastBaseLimit + 1);
    const stored = harnessCheckpoint(fold([]), builder, [last]) as { transcript?: JsonValue };
    // The checkpoint takes the base the builder moves to once this append commits.
    expect(stored.transcript).toMatchObject({ atSeq: eventsPastBaseLimit + 1 });
    expect(JSON.stringify(stored)).toContain('take notes');
    builder.apply(last);
    expect(builder.base.atSeq).toBe(eventsPastBaseLimit + 1);
  });

  it('read formats 1 to 6, without the loop history a worker of then did not keep up to date', () => {
    const { loop, ...older } = state;
    expect(loop).toBeDefined();
    expect(readCheckpoint(state as unknown as JsonValue)).toEqual({
      state: older,
      transcript: null,
      transcriptSeq: 0,
    });
    // Formats before 6 have the messages and calls only.
    const { messages, calls } = built.snapshot();
    const snapshot = { messages, calls };
    const format2 = { format: 2, state, transcript: snapshot } as unknown as JsonValue;
    expect(readCheckpoint(format2)).toEqual({
      state: older,
      transcript: snapshot,
      transcriptSeq: 3,
    });
    const flat = [1, 'take notes', 2, 'noting', 1, 'call_1_0', 'note', { line: 'a' }];
    const format3 = {
      format: 3,
      state,
      transcript: { records: [...flat, 4, 1, 0, 'noted a', false], calls: snapshot.calls },
    } as unknown as JsonValue;
    expect(JSON.stringify(readCheckpoint(format3)?.transcript)).toBe(JSON.stringify(snapshot));
    const columns = {
      shape: [1, 2, 1, 4, 1, 0, 0],
      strings: ['take notes', 'noting', 'call_1_0', 'note'],
      values: [{ line: 'a' }, 'noted a'],
    };
    const format4 = {
      format: 4,
      state,
      transcript: { records: columns, calls: snapshot.calls },
    } as unknown as JsonValue;
    expect(JSON.stringify(readCheckpoint(format4)?.transcript)).toBe(JSON.stringify(snapshot));
    const format5 = {
      format: 5,
      state,
      transcript: {
        records: {
          shape: [1, 2, 1, 1, 4, 1, 0, 2],
          lengths: [10, 6, 8, 4, 4, 1, 7],
          text: 'take notesnotingcall_1_0notelineanoted a',
          values: [],
        },
        calls: snapshot.calls,
      },
    } as unknown as JsonValue;
    expect(JSON.stringify(readCheckpoint(format5)?.transcript)).toBe(JSON.stringify(snapshot));
    const format6 = { ...(format5 as object), format: 6 } as unknown as JsonValue;
    expect(readCheckpoint(format6)?.state).toEqual(older);
    // A builder from it dates every message at the checkpoint's seq.
    const from5 = TranscriptBuilder.from(readCheckpoint(format5)!.transcript!, 3);
    expect(from5.snapshot().seqs).toEqual([3, 3, 3]);
    expect(from5.messages('i')).toEqual(built.messages('i'));
  });

  it('give no transcript when the records do not decode, and nothing for an unknown format', () => {
    for (const format of [4, 5, 7, 8]) {
      const records = { shape: [1], lengths: [3], text: 'ab', values: [] };
      const read = format >= 7 ? state : { ...state, loop: undefined };
      const broken = { format, state, transcript: { atSeq: 0, records, calls: [] } };
      const transcriptSeq = format === 8 ? 0 : state.seq;
      expect(readCheckpoint(broken as unknown as JsonValue)).toEqual({
        state: read,
        transcript: null,
        transcriptSeq,
      });
      const noTranscript = { format, state } as unknown as JsonValue;
      expect(readCheckpoint(noTranscript)).toEqual({
        state: read,
        transcript: null,
        transcriptSeq,
      });
    }
    // A format-8 base past the state's seq would skip events: no transcript.
    const ahead = {
      format: 8,
      state,
      transcript: { atSeq: state.seq + 1, records: [], calls: [] },
    };
    expect(readCheckpoint(ahead as unknown as JsonValue)?.transcript).toBeNull();
    expect(readCheckpoint({ format: 99, state } as unknown as JsonValue)).toBeNull();
  });
});
