import { describe, expect, it } from 'vitest';
import type { EventDataByType, SessionId, StoredEvent } from '@longrun/core';
import { describeEvent } from './event-lines.ts';

const compacted = (data: Partial<EventDataByType['context.compacted']>): StoredEvent => ({
  sessionId: 's' as SessionId,
  seq: 40,
  v: 1,
  atMs: 0,
  epoch: 1,
  type: 'context.compacted',
  data: {
    fromSeq: 1,
    throughSeq: 38,
    messages: 20,
    summary: 'so far',
    modelId: 'anthropic:claude-sonnet-4-5',
    usage: { inputTokens: 0, outputTokens: 0 },
    tokensBefore: 2500,
    tokensAfter: 300,
    reason: 'threshold',
    ...data,
  },
});

describe('describeEvent: context.compacted', () => {
  it('says what replaced the transcript: a summary, a handoff, or the provider', () => {
    expect(describeEvent(compacted({}))).toBe(
      'seq   40  context compacted: seq 1–38 (20 messages) replaced by a summary; ~2500 → ~300 tokens',
    );
    expect(describeEvent(compacted({ handoff: { file: 'PROGRESS.md', bytes: 10 } }))).toContain(
      'context reset: seq 1–38 (20 messages) replaced by the task and PROGRESS.md;',
    );
    expect(
      describeEvent(compacted({ native: { provider: 'anthropic', step: 12, part: 0 } })),
    ).toContain("replaced by anthropic's own compaction (step 12);");
  });
});
