import { describe, expect, it } from 'vitest';
import type { NewEvent, SessionId, StoredEvent } from '@longrun/core';
import { deriveSessionSpans } from './span-deriver.ts';
import { TraceSessionFeed } from './trace-session-feed.ts';
import type { SpanSink } from './otlp-span-sink.ts';
import type { DerivedSpan } from './span-types.ts';

/** A session of `steps` steps, each a model call with one tool call, then an answer. */
function session(steps: number): StoredEvent[] {
  const events: NewEvent[] = [{ type: 'session.created', data: { agent: 'a', input: 'go' } }];
  for (let step = 1; step <= steps; step++) {
    events.push(
      {
        type: 'model.responded',
        data: {
          step,
          attempt: 1,
          text: '',
          toolCalls: [{ callIndex: 0, tool: 'note', args: {} }],
          usage: { inputTokens: 1, outputTokens: 1 },
          modelId: 'openai:m',
          transcriptSeq: 1,
        },
      },
      { type: 'tool.started', data: { step, callIndex: 0, tool: 'note', effect: 'pure' } },
      {
        type: 'tool.completed',
        data: { step, callIndex: 0, tool: 'note', ok: true, output: 1, attempt: 1 },
      },
    );
  }
  events.push({ type: 'session.completed', data: { output: 'done' } });
  return events.map((e, i) => ({
    ...e,
    sessionId: 'ses_f' as SessionId,
    seq: i + 1,
    v: 1,
    atMs: 1_000 * (i + 1),
    epoch: 1,
  }));
}

class ListSink implements SpanSink {
  readonly spans: DerivedSpan[] = [];
  send(spans: readonly DerivedSpan[]): void {
    this.spans.push(...spans);
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Seeded (mulberry32): the split points of a run, reproducible from the printed seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('TraceSessionFeed', () => {
  it('exports every closed span exactly once across processes that take over from each other', async () => {
    const seed = Number(process.env.LONGRUN_SEED ?? Date.now() % 1_000_000_007);
    console.log(`trace-session-feed seed ${seed}`);
    const next = random(seed);
    const log = session(12);
    const expected = deriveSessionSpans(log, { semconv: 'default' }).map((s) => s.spanId);
    for (let run = 0; run < 50; run++) {
      // Processes each commit a contiguous part of the log (seq 1 is the API's createSession).
      const cuts = [1, ...[0, 1, 2].map(() => 2 + Math.floor(next() * (log.length - 2)))];
      cuts.sort((x, y) => x - y);
      cuts.push(log.length);
      const sink = new ListSink();
      for (let p = 0; p + 1 < cuts.length; p++) {
        const feed = new TraceSessionFeed({
          read: (_id, after, limit) => Promise.resolve(log.slice(after, after + limit)),
          sink,
          derive: { semconv: 'default' },
        });
        const mine = log.slice(cuts[p], cuts[p + 1]);
        // Commits of one to three events, as appends make them.
        for (let i = 0; i < mine.length;) {
          const size = 1 + Math.floor(next() * 3);
          feed.committed('ses_f', mine.slice(i, i + size));
          i += size;
        }
        await feed.settled();
      }
      expect(sink.spans.map((s) => s.spanId).sort(), `cuts ${cuts.join(',')}`).toEqual(
        [...expected].sort(),
      );
    }
  });
});
