import type { JsonValue, SessionState, StoredEvent } from '@longrun/core';
import { TranscriptBuilder, type TranscriptSnapshot } from '../agent/transcript-builder.ts';
import {
  decodeMessages,
  encodeMessages,
  type EncodedMessages,
  type StringColumns,
} from './transcript-codec.ts';

/**
 * What the harness keeps in a session's checkpoint (the store keeps one per session, replaced as
 * the log grows; DESIGN §1: never needed for correctness, only for speed):
 * - format 1 (the durable core's first milestone, still read): the folded `SessionState` itself;
 * - format 2 (still read): the state and the transcript so far as message objects, so a resume
 *   reads only the events after the checkpoint;
 * - format 3 (still read): the same, with the messages as the flat records of
 *   `transcript-codec.ts`, which a resume parses about 3× faster than objects (the checkpoint is
 *   parsed whole on every claim);
 * - format 4 (still read): the same records in columns, parsed about 20% faster again;
 * - format 5 (still read): the same columns with every string in one text cut by lengths,
 *   parsed and decoded about 1.6× faster again (fewer JSON tokens);
 * - format 6 (still read): format 5 plus where the transcript starts (`startSeq`, the latest
 *   compaction's seq), each message's seq and size, and the provider's latest token count: the
 *   transcript in it is the one since the latest compaction, so a resume materialises only that.
 *   Formats before 6 date every message at the checkpoint's seq (see `TranscriptBuilder.from`);
 * - format 7 (still read): format 6 whose state holds loop control's history (`state.loop`,
 *   bounded). A worker that predates it carries a `loop` it does not update, so the `loop` of an
 *   older format is dropped on reading: loop control then counts from the checkpoint on, which
 *   can only pause later than a whole fold would, never sooner;
 * - format 8: format 7 whose transcript is mostly a reference to the log instead of a copy of
 *   its messages: the transcript as it stood at `transcript.atSeq` (its base: where the latest
 *   compaction left it, or empty at 0, or a copy taken once it grew `eventsPastBaseLimit` events
 *   past the base before), and the events after that seq, read from the log on resume, make the
 *   rest. A checkpoint no longer rewrites the whole transcript every `checkpointEvery` events
 *   (which wrote bytes growing with the square of a session's length, left the replaced copies'
 *   pages free in the file, and blocked the event loop encoding it): below the limit the store
 *   keeps each message once, in the log, and a resume reads at most the limit's events more.
 * Workers that predate a format read none of it and fold the whole log.
 */
export interface HarnessCheckpoint {
  format: 8;
  state: SessionState;
  transcript: EncodedTranscript & { atSeq: number };
}

/** Formats 3 to 7: the transcript as of the checkpoint's own seq. */
interface CopiedTranscriptCheckpoint {
  format: 3 | 4 | 5 | 6 | 7;
  state: SessionState;
  transcript: EncodedTranscript;
}

/**
 * A transcript snapshot whose messages are `encodeMessages` records (format 4: columns of
 * strings; format 3: flat records).
 */
export type EncodedTranscript = Omit<TranscriptSnapshot, 'messages'> & {
  records: EncodedMessages | StringColumns | JsonValue[];
};

export const harnessCheckpointFormat = 8;

/**
 * A checkpoint as the harness reads it; `transcript` is null when it cannot give one, else it is
 * the transcript as of `transcriptSeq` (the state's seq, or before it from format 8 on).
 */
export interface ReadCheckpoint {
  state: SessionState;
  transcript: TranscriptSnapshot | null;
  transcriptSeq: number;
}

function formatOf(value: JsonValue): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  // A format-1 checkpoint is a SessionState, which has no `format` key.
  return 'format' in value ? value.format : 1;
}

/**
 * Reads formats 1 to 8; null for any other (a newer worker's), which the harness ignores. A
 * format-1 checkpoint has no transcript, nor has one whose records do not decode: the harness
 * then reads the whole log, which is always enough. Before format 7, the state's `loop` is
 * dropped (see `HarnessCheckpoint`).
 */
export function readCheckpoint(stored: JsonValue): ReadCheckpoint | null {
  switch (formatOf(stored)) {
    case 1: {
      const state = withoutLoop(stored as unknown as SessionState);
      return { state, transcript: null, transcriptSeq: 0 };
    }
    case 2: {
      const { state, transcript } = stored as unknown as Omit<ReadCheckpoint, 'transcriptSeq'>;
      return { state: withoutLoop(state), transcript, transcriptSeq: state.seq };
    }
    case 3:
    case 4:
    case 5:
    case 6: {
      const { state, transcript } = stored as unknown as CopiedTranscriptCheckpoint;
      const decoded = decodeTranscript(transcript);
      return { state: withoutLoop(state), transcript: decoded, transcriptSeq: state.seq };
    }
    case 7: {
      const { state, transcript } = stored as unknown as CopiedTranscriptCheckpoint;
      return { state, transcript: decodeTranscript(transcript), transcriptSeq: state.seq };
    }
    case harnessCheckpointFormat: {
      const { state, transcript } = stored as unknown as HarnessCheckpoint;
      const atSeq = transcript?.atSeq;
      // A base past the state would skip events: read the whole log instead.
      if (typeof atSeq !== 'number' || !(atSeq >= 0 && atSeq <= state.seq))
        return { state, transcript: null, transcriptSeq: 0 };
      const { atSeq: _at, ...encoded } = transcript;
      return { state, transcript: decodeTranscript(encoded), transcriptSeq: atSeq };
    }
    default:
      return null;
  }
}

/** A state written by a worker that did not keep `loop` up to date. */
function withoutLoop(state: SessionState): SessionState {
  if (state?.loop === undefined) return state;
  const { loop: _stale, ...rest } = state;
  return rest;
}

function decodeTranscript(encoded: EncodedTranscript | undefined): TranscriptSnapshot | null {
  if (encoded === null || typeof encoded !== 'object') return null;
  const { records, ...rest } = encoded;
  try {
    return { messages: decodeMessages(records), ...rest };
  } catch {
    return null;
  }
}

/** Bases already encoded: a base stays the same from one compaction to the next. */
const encodedBases = new WeakMap<TranscriptSnapshot, EncodedTranscript>();

function encodedBase(snapshot: TranscriptSnapshot): EncodedTranscript {
  let encoded = encodedBases.get(snapshot);
  if (encoded === undefined) {
    const { messages, ...rest } = snapshot;
    encoded = { records: encodeMessages(messages), ...rest };
    encodedBases.set(snapshot, encoded);
  }
  return encoded;
}

/**
 * The checkpoint at the state `state`, whose transcript is `transcript` (committed up to the
 * append that carries the checkpoint) extended by `appending`, the events of that append: the
 * state, and the transcript's base (format 8), which moves only with a compaction.
 */
export function harnessCheckpoint(
  state: SessionState,
  transcript: TranscriptBuilder,
  appending: readonly StoredEvent[],
): JsonValue {
  let base = transcript.base;
  const lastSeq = appending.at(-1)?.seq ?? state.seq;
  if (transcript.basePassedBy(lastSeq) || appending.some((e) => e.type === 'context.compacted')) {
    const next = transcript.copy();
    for (const e of appending) next.apply(e);
    base = next.base;
  }
  const checkpoint: HarnessCheckpoint = {
    format: harnessCheckpointFormat,
    state,
    transcript: { atSeq: base.atSeq, ...encodedBase(base.snapshot) },
  };
  return checkpoint as unknown as JsonValue;
}
