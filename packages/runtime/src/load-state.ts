import { readCheckpoint } from './harness/checkpoint.ts';
import { fold, type SessionId, type SessionState, type SessionStore } from '@longrun/core';

const pageSize = 1_000;

/**
 * Rebuilds a session's state from its checkpoint plus the tail of the log after it, so a resume
 * reads only what happened since the last checkpoint.
 */
export async function loadState(
  store: SessionStore,
  id: SessionId,
): Promise<{ state: SessionState; tailEvents: number }> {
  const checkpoint = await store.latestCheckpoint(id);
  let state =
    checkpoint === null ? undefined : readCheckpoint(checkpoint.state, checkpoint.parts)?.state;
  let afterSeq = state?.seq ?? 0;
  let tailEvents = 0;
  for (;;) {
    const page = await store.readEvents(id, afterSeq, pageSize);
    state = fold(page, state);
    tailEvents += page.length;
    if (page.length < pageSize) break;
    afterSeq = state.seq;
  }
  return { state: state ?? fold([]), tailEvents };
}
