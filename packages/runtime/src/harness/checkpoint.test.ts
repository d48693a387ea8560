import { describe, expect, it } from 'vitest';
import { event, fold, sessionId, type JsonValue, type StoredEvent } from '@longrun/core';
import { TranscriptBuilder } from '../agent/transcript-builder.ts';
import { harnessCheckpoint, readCheckpoint } from './checkpoint.ts';
import { intsToText } from './int-text.ts';
import { TranscriptParts } from './transcript-parts.ts';

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

/** The records of `log()`'s transcript as formats 5 to 7 wrote them: the text in one string. */
const oneText = {
  shape: [1, 2, 1, 1, 4, 1, 0, 2],
  lengths: [10, 6, 8, 4, 4, 1, 7],
  text: 'take notesnotingcall_1_0notelineanoted a',
  values: [],
};

describe('harness checkpoints', () => {
  const events = log();
  const state = fold(events);
  const built = new TranscriptBuilder();
  for (const e of events) built.apply(e);

  it('are written as format 10 and read back with the same state and transcript', () => {
    const written = harnessCheckpoint(
      state,
      new TranscriptBuilder(),
      events,
      new TranscriptParts(null, []),
    );
    // A short transcript seals nothing: every message is in the checkpoint's own records.
    expect(written.parts).toEqual({ add: [], keepFrom: 0 });
    const stored = JSON.parse(JSON.stringify(written.state)) as JsonValue;
    // Every string of the transcript in one text (one piece); the args' field and the output too.
    // Columns of numbers as text: tags and counts, string lengths, each message's seq and size.
    expect(stored).toMatchObject({
      format: 10,
      transcript: {
        records: {
          shape: intsToText(oneText.shape),
          lengths: intsToText(oneText.lengths),
          text: [oneText.text],
          values: [],
        },
        seqs: intsToText([1, 2, 3]),
        // Where the transcript starts, the provider's count.
        startSeq: 0,
        lastUsage: { tokens: 2 },
        parts: { from: 0, count: 0, messages: 0 },
      },
    });
    const read = readCheckpoint(stored);
    expect(read?.transcript?.seqs).toEqual([1, 2, 3]);
    expect(read?.state).toEqual(state);
    // With loop control's history, as folded.
    expect(read?.state.loop?.calls).toMatchObject([{ tool: 'note', step: 1, seq: 3, ok: true }]);
    expect(JSON.stringify(read?.transcript)).toBe(JSON.stringify(built.snapshot()));
  });

  it('read formats 1 to 6, without the loop history a worker of then did not keep up to date', () => {
    const { loop, ...older } = state;
    expect(loop).toBeDefined();
    expect(readCheckpoint(state as unknown as JsonValue)).toEqual({
      state: older,
      transcript: null,
    });
    // Formats before 6 have the messages and calls only.
    const { messages, calls } = built.snapshot();
    const snapshot = { messages, calls };
    const format2 = { format: 2, state, transcript: snapshot } as unknown as JsonValue;
    expect(readCheckpoint(format2)).toEqual({ state: older, transcript: snapshot });
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
      transcript: { records: oneText, calls: snapshot.calls },
    } as unknown as JsonValue;
    expect(JSON.stringify(readCheckpoint(format5)?.transcript)).toBe(JSON.stringify(snapshot));
    const format6 = { ...(format5 as object), format: 6 } as unknown as JsonValue;
    expect(readCheckpoint(format6)?.state).toEqual(older);
    // A builder from it dates every message at the checkpoint's seq.
    const from5 = TranscriptBuilder.from(readCheckpoint(format5)!.transcript!, 3);
    expect(from5.snapshot().seqs).toEqual([3, 3, 3]);
    expect(from5.messages('i')).toEqual(built.messages('i'));
  });

  it('read format 7, its text in one string, with its loop history', () => {
    // What format 7 wrote: text in one string, columns of numbers as arrays.
    const { messages, calls, seqs, sizes, ...rest } = built.snapshot();
    const format7 = {
      format: 7,
      state,
      transcript: {
        records: oneText,
        calls,
        seqs,
        sizes,
        ...rest,
      },
    } as unknown as JsonValue;
    expect(messages).toHaveLength(3);
    const read = readCheckpoint(format7);
    expect(read?.state).toEqual(state);
    expect(JSON.stringify(read?.transcript)).toBe(JSON.stringify(built.snapshot()));
  });

  it('give no transcript when the records do not decode, and nothing for an unknown format', () => {
    for (const format of [4, 5, 7, 9, 10]) {
      const records = { shape: [1], lengths: [3], text: format >= 9 ? ['ab'] : 'ab', values: [] };
      const read = format >= 7 ? state : { ...state, loop: undefined };
      const parts = { from: 0, count: 0, messages: 0 };
      const broken = { format, state, transcript: { records, calls: [], parts } };
      expect(readCheckpoint(broken as unknown as JsonValue)).toEqual({
        state: read,
        transcript: null,
      });
      const noTranscript = { format, state } as unknown as JsonValue;
      expect(readCheckpoint(noTranscript)).toEqual({ state: read, transcript: null });
    }
    expect(readCheckpoint({ format: 99, state } as unknown as JsonValue)).toBeNull();
    // Format 8 (the transcript by reference, reverted) held only the transcript at its base.
    const byReference = { format: 8, state, transcript: { records: oneText, calls: [] } };
    expect(readCheckpoint(byReference as unknown as JsonValue)).toBeNull();
  });
});
