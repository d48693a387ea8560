import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import type { DerivedSpan, SpanSink } from '@longrun/telemetry';
import { WorkerEvents } from './worker-events.ts';
import { openTraceExport, otlpTracesConfigured } from './trace-subscriber.ts';

class ListSink implements SpanSink {
  readonly spans: DerivedSpan[] = [];
  closed = false;
  send(spans: readonly DerivedSpan[]): void {
    this.spans.push(...spans);
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

describe('openTraceExport', () => {
  it('is off without an OTLP endpoint in the env, and off when the env turns traces off', async () => {
    const store = { readEvents: () => Promise.resolve([]) };
    expect(await openTraceExport({ store, env: {} })).toBeNull();
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' };
    expect(otlpTracesConfigured(endpoint)).toBe(true);
    expect(otlpTracesConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://x/v1/traces' })).toBe(
      true,
    );
    expect(otlpTracesConfigured({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
    expect(otlpTracesConfigured({ ...endpoint, OTEL_SDK_DISABLED: 'true' })).toBe(false);
  });

  it("exports the spans a worker's commits close, reading what came before from the store", async () => {
    const store = await SqliteStore.open({
      path: join(mkdtempSync(join(tmpdir(), 'longrun-traces-')), 'db.sqlite'),
    });
    try {
      const session = await store.createSession({ agent: 'echo', input: 'go' });
      const sink = new ListSink();
      const traces = await openTraceExport({ store, sink, env: {} });
      const worker = new WorkerEvents();
      const off = traces?.subscribe(worker);
      const at = Date.now();
      const stored = (seq: number, e: Pick<StoredEvent, 'type' | 'data'>): StoredEvent =>
        ({ ...e, sessionId: session.id, seq, v: 1, atMs: at + seq, epoch: 1 }) as StoredEvent;
      worker.emit('events.committed', {
        sessionId: session.id,
        events: [
          stored(2, {
            type: 'model.responded',
            data: {
              step: 1,
              attempt: 1,
              text: 'hi',
              toolCalls: [],
              usage: { inputTokens: 3, outputTokens: 1 },
              modelId: 'openai:gpt-5-mini',
              transcriptSeq: 1,
            },
          }),
          stored(3, { type: 'session.completed', data: { output: 'hi' } }),
        ],
      });
      worker.emit('session.ended', { sessionId: session.id, outcome: 'completed' });
      await traces?.flush();
      expect(sink.spans.map((s) => [s.name, s.openSeq, s.closeSeq])).toEqual([
        ['chat gpt-5-mini', 2, 2],
        // Opened by session.created, which the store wrote and the subscriber read.
        ['invoke_agent echo', 1, 3],
      ]);
      off?.();
      await traces?.close();
      expect(sink.closed).toBe(true);
    } finally {
      await store.close();
    }
  });
});
