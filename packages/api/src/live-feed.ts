import type { LiveChannel } from '@longrun/core';
import type { InProcessLiveDeltas } from './live-deltas.ts';

export interface LiveFeedOptions {
  /** Receives the deltas; serve it to readers as the API's `live` source. */
  live: InProcessLiveDeltas;
  /** A session's log moved: read it now (`api.appended`). */
  appended: (sessionId: string) => void;
}

/**
 * Feeds an API from a live channel (workers elsewhere publish on it): deltas go to its readers,
 * commits wake the session's stream at once instead of at the next poll, ends let go of the
 * text kept. Resolves once listening; the returned function stops the feed.
 */
export function feedApiFromLiveChannel(
  channel: LiveChannel,
  options: LiveFeedOptions,
): Promise<() => void> {
  const { live, appended } = options;
  return channel.subscribe((note) => {
    if (note.kind === 'delta') {
      live.textDeltaAt(note.sessionId, note.step, note.attempt, note.offset, note.text);
    } else if (note.kind === 'committed') {
      if (note.endedStep !== null) live.endAttempt(note.sessionId, note.endedStep);
      appended(note.sessionId);
    } else {
      live.ended(note.sessionId);
    }
  });
}
