import type { CheckpointPart, JsonValue, SessionState, StoredEvent } from '@longrun/core';
import type { CheckpointContent } from '../session-writer.ts';
import { TranscriptBuilder, type TranscriptSnapshot } from '../agent/transcript-builder.ts';
import {
  decodeMessages,
  encodeMessages,
  type EncodedMessages,
  type StringColumns,
} from './transcript-codec.ts';
import { intsFromText, intsToText } from './int-text.ts';
import { readSealed, type PartsRef, type TranscriptParts } from './transcript-parts.ts';

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
 * - format 8 (not read): the transcript by reference, written for an hour of development and
 *   reverted (6a167f6); its transcript is only the one at its base, so it is ignored like any
 *   unknown format and the whole log is folded;
 * - format 9 (still read): format 7 with the records' `text` cut in pieces of at most 32,768
 *   characters (`transcript-codec.ts`), and its columns of numbers (`shape`, `lengths`, `seqs`,
 *   `sizes`) as text (`int-text.ts`): what a resume parses with fewer tokens and no heap page
 *   per string;
 * - format 10: format 9 whose transcript starts with sealed runs of messages kept in the
 *   session's checkpoint parts (`transcript.parts`, see `transcript-parts.ts`), each written
 *   once (or merged, past `maxParts`); the checkpoint's own records are the messages after them.
 *   A checkpoint write costs the state and the messages since the last sealed run (under
 *   `partChars`), plus the runs it seals, instead of the whole transcript (every format before:
 *   O(transcript) per rewrite, a 79 kB text at step 200 of the peer bench, rewritten every 64
 *   events). Parts that do not read back whole give no transcript: the whole log is folded, as
 *   for any checkpoint without one.
 * A worker that predates the format written reads none of it and folds the whole log. The
 * store keeps the checkpoint's JSON in ASCII (core's `encodeCheckpointState`). Compaction
 * (DESIGN §12) bounds the transcript; the checkpoint is rewritten every `checkpointEvery` events
 * and with every compaction.
 */
export interface HarnessCheckpoint {
  format: 9 | 10;
  state: SessionState;
  transcript: EncodedTranscript;
}

/**
 * A transcript snapshot whose messages are `encodeMessages` records (format 4: columns of
 * strings; format 3: flat records).
 */
export type EncodedTranscript = Omit<TranscriptSnapshot, 'messages' | 'seqs' | 'sizes'> & {
  records: EncodedMessages | StringColumns | JsonValue[];
  /** As text (format 9, see `int-text.ts`) or arrays (formats 6 and 7). */
  seqs?: string | number[];
  sizes?: string | number[];
  /** The sealed messages before the records (format 10). */
  parts?: PartsRef;
};

export const harnessCheckpointFormat = 10;

/** A checkpoint as the harness reads it; `transcript` is null when it cannot give one. */
export interface ReadCheckpoint {
  state: SessionState;
  transcript: TranscriptSnapshot | null;
  /** What its transcript stands on in the session's parts (format 10, read back whole). */
  sealed?: { startSeq: number; ref: PartsRef };
}

function formatOf(value: JsonValue): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  // A format-1 checkpoint is a SessionState, which has no `format` key.
  return 'format' in value ? value.format : 1;
}

/**
 * Reads formats 1 to 7, 9 and 10 (whose transcript starts in `parts`, the session's checkpoint
 * parts); null for any other (8, or a newer worker's), which the harness ignores. A format-1
 * checkpoint has no transcript, nor has one whose records or parts do not decode: the harness
 * then reads the whole log, which is always enough. Before format 7, the state's `loop` is
 * dropped (see `HarnessCheckpoint`).
 */
export function readCheckpoint(
  stored: JsonValue,
  parts: readonly CheckpointPart[] = [],
): ReadCheckpoint | null {
  switch (formatOf(stored)) {
    case 1:
      return { state: withoutLoop(stored as unknown as SessionState), transcript: null };
    case 2: {
      // Its messages are a copy: the builder made from it takes its arrays as its own.
      const { state, transcript } = stored as unknown as ReadCheckpoint;
      const copied = transcript && { ...transcript, messages: transcript.messages.slice() };
      return { state: withoutLoop(state), transcript: copied };
    }
    case 3:
    case 4:
    case 5:
    case 6: {
      const { state, transcript } = stored as unknown as HarnessCheckpoint;
      return { state: withoutLoop(state), transcript: decodeTranscript(transcript) };
    }
    case 7:
    case 9: {
      const { state, transcript } = stored as unknown as HarnessCheckpoint;
      return { state, transcript: decodeTranscript(transcript) };
    }
    case harnessCheckpointFormat: {
      const { state, transcript } = stored as unknown as HarnessCheckpoint;
      const tail = decodeTranscript(transcript);
      const ref = transcript?.parts;
      const sealed = tail === null || ref === undefined ? null : readSealed(ref, parts);
      if (tail === null || ref === undefined || sealed === null) return { state, transcript: null };
      const whole: TranscriptSnapshot = {
        ...tail,
        messages: sealed.messages.concat(tail.messages),
        seqs: sealed.seqs.concat(tail.seqs ?? []),
        sizes: sealed.sizes.concat(tail.sizes ?? []),
      };
      return { state, transcript: whole, sealed: { startSeq: tail.startSeq ?? 0, ref } };
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
  // `parts` (format 10) is what the transcript stands on, not part of the snapshot.
  const { records, parts: _sealed, ...rest } = encoded;
  try {
    const snapshot = { messages: decodeMessages(records), ...rest };
    if (rest.seqs !== undefined) snapshot.seqs = numbersOf(rest.seqs);
    if (rest.sizes !== undefined) snapshot.sizes = numbersOf(rest.sizes);
    return snapshot as TranscriptSnapshot;
  } catch {
    return null;
  }
}

/**
 * A column of numbers written as text (format 9), or a copy of one written as an array (formats
 * 6 and 7): the builder made from the snapshot takes its arrays as its own.
 */
function numbersOf(column: string | number[]): number[] {
  const read = typeof column === 'string' ? intsFromText(column) : column.slice();
  if (read === null) throw new Error("the checkpoint's transcript has a column that is not valid");
  return read;
}

/**
 * The checkpoint at the state `state`, whose transcript is `transcript` (committed up to the
 * append that carries the checkpoint) extended by `appending`, the events of that append: its
 * own records are the messages after the sealed ones, and the runs `parts` seals now are added
 * as parts (`committed` tells `parts` the checkpoint was written).
 */
export function harnessCheckpoint(
  state: SessionState,
  transcript: TranscriptBuilder,
  appending: readonly StoredEvent[],
  parts: TranscriptParts,
): CheckpointContent {
  const next = TranscriptBuilder.from(transcript.snapshot());
  for (const e of appending) next.apply(e);
  const { messages, ...rest } = next.snapshot();
  const seqs = rest.seqs ?? [];
  const sizes = rest.sizes ?? [];
  const plan = parts.plan({ messages, seqs, sizes, startSeq: rest.startSeq ?? 0 });
  const from = plan.ref.messages;
  const checkpoint: HarnessCheckpoint = {
    format: harnessCheckpointFormat,
    state,
    // The columns in their places, as text.
    transcript: {
      records: encodeMessages(messages.slice(from)),
      ...rest,
      seqs: intsToText(seqs.slice(from)),
      sizes: intsToText(sizes.slice(from)),
      parts: plan.ref,
    },
  };
  return {
    state: checkpoint as unknown as JsonValue,
    parts: { add: plan.add, keepFrom: plan.keepFrom },
    committed: () => parts.committed(),
  };
}
