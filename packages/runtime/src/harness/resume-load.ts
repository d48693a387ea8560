import { fold, type SessionId, type SessionState, type SessionStore } from '@longrun/core';
import { TranscriptBuilder } from '../agent/transcript-builder.ts';
import { readCheckpoint } from './checkpoint.ts';
import { TranscriptParts } from './transcript-parts.ts';

const pageSize = 2_000;

/** What a claim of an agent session starts from. */
export interface LoadedRun {
  state: SessionState;
  transcript: TranscriptBuilder;
  /** Events read from the log: the tail after the checkpoint, or the whole log without one. */
  eventsRead: number;
  /** The seq the read started after: the checkpoint's, or 0. */
  fromSeq: number;
  /** Which runs of the transcript the session's checkpoint parts hold. */
  parts: TranscriptParts;
}

/**
 * Loads a claimed agent session: the latest checkpoint, and the events after it folded into both
 * the state and the transcript. The checkpoint's transcript is the one since the latest
 * compaction, so what is materialised is bounded by the context window, not the session. A checkpoint without a transcript (format 1, written before the
 * harness kept one), or one the harness cannot read, is not enough for a model call, so the whole
 * log is read then.
 */
export async function loadAgentRun(store: SessionStore, id: SessionId): Promise<LoadedRun> {
  const stored = await store.latestCheckpoint(id);
  const checkpoint = stored === null ? null : readCheckpoint(stored.state, stored.parts);
  const resumable = checkpoint?.transcript != null ? checkpoint : null;
  let state = resumable?.state;
  const transcript =
    resumable?.transcript == null
      ? new TranscriptBuilder()
      : TranscriptBuilder.from(resumable.transcript, resumable.state.seq);
  const fromSeq = resumable === null ? 0 : resumable.state.seq;
  let afterSeq = fromSeq;
  let eventsRead = 0;
  for (;;) {
    const page = await store.readEvents(id, afterSeq, pageSize);
    state = fold(page, state);
    for (const e of page) transcript.apply(e);
    eventsRead += page.length;
    if (page.length < pageSize) break;
    afterSeq = state.seq;
  }
  const parts = new TranscriptParts(
    resumable?.sealed ?? null,
    (stored?.parts ?? []).map((p) => p.index),
  );
  return { state: state ?? fold([]), transcript, eventsRead, fromSeq, parts };
}
