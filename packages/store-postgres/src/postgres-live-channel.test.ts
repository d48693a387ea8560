import { afterEach, expect, it } from 'vitest';
import type { LiveNote } from '@longrun/core';
import { PostgresStore } from './postgres-store.ts';
import { liveChannelName } from './postgres-live-channel.ts';
import {
  describeWithServer,
  dropSchema,
  eventually,
  probeTestServer,
  randomSchema,
  testUrl,
  withAdmin,
} from './test-server.ts';

const unavailable = await probeTestServer();

describeWithServer('the Postgres live channel', unavailable, () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function pair(): Promise<[string, PostgresStore, LiveNote[]]> {
    const schema = randomSchema();
    const listening = await PostgresStore.open({ url: testUrl, schema });
    const publishing = await PostgresStore.open({ url: testUrl, schema });
    cleanup.push(
      () => dropSchema(schema),
      () => listening.close(),
      () => publishing.close(),
    );
    const heard: LiveNote[] = [];
    await listening.liveChannel().subscribe((note) => heard.push(note));
    return [schema, publishing, heard];
  }

  it('carries every kind of note between stores, a long delta in pieces with their offsets', async () => {
    const [, publishing, heard] = await pair();
    const channel = publishing.liveChannel();
    const text = 'x'.repeat(2_500);
    channel.publish({ kind: 'delta', sessionId: 's1', step: 2, attempt: 1, offset: 10, text });
    channel.publish({ kind: 'committed', sessionId: 's1', endedStep: 2 });
    channel.publish({ kind: 'ended', sessionId: 's1' });
    await eventually(async () => (heard.length === 5 ? true : undefined), 5_000);
    expect(heard.map((n) => (n.kind === 'delta' ? [n.offset, n.text.length] : n.kind))).toEqual([
      [10, 1_000],
      [1_010, 1_000],
      [2_010, 500],
      'committed',
      'ended',
    ]);
    expect(heard[3]).toEqual({ kind: 'committed', sessionId: 's1', endedStep: 2 });
  });

  it('listens again after its connection is ended, and ignores what is not a note', async () => {
    const [schema, publishing, heard] = await pair();
    const channelName = liveChannelName(schema);
    await withAdmin(async (c) => {
      await c.query(`SELECT pg_notify($1, 'not json'), pg_notify($1, '{"k":"d","s":"x"}')`, [
        channelName,
      ]);
      const ended = await c.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1`,
        [`LISTEN ${channelName}`],
      );
      expect(ended.rowCount).toBe(1);
    });
    const channel = publishing.liveChannel();
    let sent = 0;
    await eventually(async () => {
      channel.publish({ kind: 'ended', sessionId: `after-${sent++}` });
      return heard.some((n) => n.kind === 'ended') ? true : undefined;
    }, 10_000);
    expect(heard.every((n) => n.kind === 'ended')).toBe(true);
  });
});
