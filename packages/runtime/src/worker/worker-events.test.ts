import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel } from '@longrun/models/testing';
import { allEvents, tempDir } from '../testing.ts';
import { Worker } from '../worker.ts';
import { defineAgent } from '../agent/define-agent.ts';
import { WorkerEvents, type WorkerLogEntry } from './worker-events.ts';
import { countWorkerFigures } from './figures-subscriber.ts';
import { publishLive } from './live-subscriber.ts';

describe('the worker event map', () => {
  it('tells subscribers until they unsubscribe; one that throws is logged, not fatal', () => {
    const events = new WorkerEvents();
    const got: string[] = [];
    const logged: WorkerLogEntry[] = [];
    const listener = ({ sessionId }: { sessionId: string }): void => void got.push(sessionId);
    events.on('append.recovered', listener);
    events.on('append.recovered', () => {
      throw new Error('broken subscriber');
    });
    events.on('log', (entry) => logged.push(entry));
    events.emit('append.recovered', { sessionId: 'a' });
    events.off('append.recovered', listener);
    events.emit('append.recovered', { sessionId: 'b' });
    expect(got).toEqual(['a']);
    expect(logged.map((l) => l.msg)).toEqual([
      'a append.recovered subscriber threw: broken subscriber',
      'a append.recovered subscriber threw: broken subscriber',
    ]);
    expect(events.has('append.recovered')).toBe(true);
    expect(events.has('lease.lost')).toBe(false);
  });

  it('a run tells deltas, commits and its end; the live channel and figures are subscribers', async () => {
    const dir = tempDir('events');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const agent = defineAgent({
      name: 'echo',
      model: scriptedModel([{ text: 'Hello, world.' }], { chunkSize: 4 }),
      instructions: 'Say hello.',
      tools: [],
      workspaceSnapshots: false,
      workspaceRoot: join(dir, 'ws'),
    });
    const worker = new Worker({ store, agents: [agent], pollMs: 5 });
    const live: string[] = [];
    const stopLive = publishLive(worker, {
      textDelta: (_s, _step, _attempt, text) => live.push(`delta ${text}`),
      appended: (events) => live.push(...events.map((e) => `commit ${e.seq}`)),
      ended: (sessionId) => live.push(`ended ${sessionId}`),
    });
    const figures = countWorkerFigures(worker);
    let ended!: (outcome: string) => void;
    const done = new Promise<string>((resolve) => (ended = resolve));
    worker.on('session.ended', ({ outcome }) => ended(outcome));
    const session = await store.createSession({ agent: 'echo', input: 'hi' });
    await worker.start();
    expect(await done).toBe('completed');
    await worker.stop();
    stopLive();
    const log = await allEvents(store, session.id);
    expect(live).toEqual([
      'delta Hell',
      'delta o, w',
      'delta orld',
      'delta .',
      ...log.slice(1).map((e) => `commit ${e.seq}`),
      `ended ${session.id}`,
    ]);
    expect(figures.figures()).toMatchObject({
      sessionsEnded: { completed: 1 },
      eventsCommitted: log.length - 1,
      appendStalls: 0,
    });
    await store.close();
  });
});
