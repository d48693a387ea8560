import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { StoredEvent } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel } from '@longrun/models/testing';
import { allEvents, tempDir } from '../testing.ts';
import { Worker } from '../worker.ts';
import { defineAgent } from '../agent/define-agent.ts';
import { feedWorkerMetrics, type WorkerMetricsSink } from './metrics-subscriber.ts';

describe('the metrics subscriber', () => {
  it('feeds each claim with the log event before it, and every commit once, never the re-read log', async () => {
    const dir = tempDir('metrics');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const agent = defineAgent({
      name: 'echo',
      model: scriptedModel([{ text: 'Hello.', usage: { inputTokens: 12, outputTokens: 3 } }]),
      instructions: 'Say hello.',
      tools: [],
      workspaceSnapshots: false,
      workspaceRoot: join(dir, 'ws'),
    });
    const worker = new Worker({ store, agents: [agent], pollMs: 5 });
    const calls: string[] = [];
    const committed: StoredEvent[] = [];
    let lastBeforeClaim: StoredEvent | null = null;
    let after!: () => void;
    const claimRead = new Promise<void>((resolve) => (after = resolve));
    const sink: WorkerMetricsSink = {
      claimed: (id, atMs) => calls.push(`claimed ${id} ${typeof atMs}`),
      claimedAfter: (_id, last) => {
        lastBeforeClaim = last;
        after();
      },
      committed: (_id, events) => committed.push(...events),
      appendStalled: () => calls.push('stalled'),
      appendRecovered: () => calls.push('recovered'),
    };
    const stop = feedWorkerMetrics(worker, sink, store);
    let ended!: () => void;
    const done = new Promise<void>((resolve) => (ended = resolve));
    worker.on('session.ended', () => ended());
    const session = await store.createSession({ agent: 'echo', input: 'hi' });
    await worker.start();
    await done;
    await claimRead;
    await worker.stop();
    stop();
    const log = await allEvents(store, session.id);
    expect(calls).toEqual([`claimed ${session.id} number`]);
    expect(lastBeforeClaim).toMatchObject({ seq: 1, type: 'session.created' });
    expect(committed.map((e) => e.seq)).toEqual(log.slice(1).map((e) => e.seq));
    const usage = committed.flatMap((e) => (e.type === 'model.responded' ? [e.data.usage] : []));
    expect(usage).toEqual([expect.objectContaining({ inputTokens: 12, outputTokens: 3 })]);
    await store.close();
  });
});
