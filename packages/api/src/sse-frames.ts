import type { StoredEvent } from '@longrun/core';
import type { LiveDelta } from './live-deltas.ts';
import type { SessionViewData } from './schemas.ts';
import { withLineage, type SessionLineage } from './session-lineage.ts';

// SSE framing (the contract's, byte for byte). JSON has no raw newlines, so `data:` is one line.
export const sseFrames = {
  retry: (ms: number): string => `retry: ${ms}\n\n`,
  event: (e: StoredEvent, lineage: SessionLineage | null = null): string =>
    `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(withLineage(e, lineage))}\n\n`,
  state: (view: SessionViewData): string =>
    `event: session.state\ndata: ${JSON.stringify(view)}\n\n`,
  delta: (d: LiveDelta): string =>
    `event: model.delta\ndata: ${JSON.stringify({ step: d.step, attempt: d.attempt, offset: d.offset, text: d.text })}\n\n`,
  keepalive: ': keepalive\n\n',
};
