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

describe('describeEvent: text from a model, a tool or a person', () => {
  const responded = (text: string): StoredEvent => ({
    sessionId: 's' as SessionId,
    seq: 7,
    v: 1,
    atMs: 0,
    epoch: 1,
    type: 'model.responded',
    data: {
      step: 2,
      attempt: 1,
      modelId: 'm',
      text,
      toolCalls: [],
      finishReason: 'stop',
      usage: { inputTokens: 1, outputTokens: 1 },
      transcriptSeq: 6,
    },
  });

  it('writes out terminal controls, so none acts on the terminal that prints the line', () => {
    // Clear the screen, set the clipboard (OSC 52), go back over the line, reorder it.
    const attack = 'done\u001b[2J\u001b]52;c;cm0gLXJmIH4=\u0007\rok\u009b31m\u202Egnp.exe';
    const line = describeEvent(responded(attack)) as string;
    expect(line).toBe(
      'seq    7  step 2  model: done⟨U+001B⟩[2J⟨U+001B⟩]52;c;cm0gLXJmIH4=⟨U+0007⟩⟨U+000D⟩ok⟨U+009B⟩31m⟨U+202E⟩gnp.exe',
    );
    expect(line).not.toMatch(/[\p{Cc}\u202E]/u);
    // Line breaks and tabs are the text's own layout, and stay.
    expect(describeEvent(responded('a\n\tb'))).toBe('seq    7  step 2  model: a\n          \tb');
  });
});
