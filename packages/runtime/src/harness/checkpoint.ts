import type { JsonValue, SessionState, StoredEvent } from '@longrun/core';
import { TranscriptBuilder, type TranscriptSnapshot } from '../agent/transcript-builder.ts';

/**
 * What the harness keeps in a session's checkpoint (the store keeps one per session, replaced as
 * the log grows; DESIGN §1: never needed for correctness, only for speed):
 * - format 1 (the durable core's first milestone, still read): the folded `SessionState` itself;
 * - format 2: the state and the transcript so far, so a resume reads only the events after the
 *   checkpoint. The transcript grows with the session, so each checkpoint write costs O(session)
 *   bytes; the checkpoint is rewritten every `checkpointEvery` events, not at every step, and
 *   compaction (DESIGN §12) is what bounds the transcript itself.
 */
export interface HarnessCheckpoint {
  format: 2;
  state: SessionState;
  transcript: TranscriptSnapshot;
}

export const harnessCheckpointFormat = 2;

/** A checkpoint as the harness reads it; `transcript` is null for a format-1 checkpoint. */
export interface ReadCheckpoint {
  state: SessionState;
  transcript: TranscriptSnapshot | null;
}

function isFormat2(value: JsonValue): value is JsonValue & HarnessCheckpoint {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    value.format === harnessCheckpointFormat
  );
}

/** Reads either format; a format-1 checkpoint has no transcript (the harness reads the whole log). */
export function readCheckpoint(stored: JsonValue): ReadCheckpoint {
  if (isFormat2(stored)) return { state: stored.state, transcript: stored.transcript };
  return { state: stored as unknown as SessionState, transcript: null };
}

/**
 * The format-2 checkpoint at the state `state`, whose transcript is `transcript` (committed up to
 * the append that carries the checkpoint) extended by `appending`, the events of that append.
 */
export function harnessCheckpoint(
  state: SessionState,
  transcript: TranscriptBuilder,
  appending: readonly StoredEvent[],
): JsonValue {
  const next = TranscriptBuilder.from(transcript.snapshot());
  for (const e of appending) next.apply(e);
  const checkpoint: HarnessCheckpoint = {
    format: harnessCheckpointFormat,
    state,
    transcript: next.snapshot(),
  };
  return checkpoint as unknown as JsonValue;
}
