import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  LongrunError,
  event,
  workerId,
  type AppendRequest,
  type SessionStore,
  type StoredEvent,
} from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { loadState } from './load-state.ts';
import { holdForNextMs, SessionWriter } from './session-writer.ts';
import { allEvents, tempDir } from './testing.ts';

const said = (text: string) => event('user.messaged', { text, signalId: null });

/** A real SQLite store that records each append it is asked for and refuses some on demand. */
async function writerOnStore(refuse: (request: AppendRequest) => LongrunError | null = () => null) {
  const real = await SqliteStore.open({ path: join(tempDir('session-writer'), 'db.sqlite') });
  const appends: string[][] = [];
  const store = new Proxy(real, {
    get(target, property, receiver) {
      if (property === 'append')
        return async (request: AppendRequest) => {
          appends.push(request.events.map((e) => (e.data as { text: string }).text));
          const refused = refuse(request);
          if (refused !== null) throw refused;
          return target.append(request);
        };
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value;
    },
  }) as SessionStore;
  const session = await real.createSession({ agent: 'a', input: null });
  const lease = await real.claim(session.id, workerId('w'), 60_000);
  if (lease === null) throw new Error('claim failed');
  const { state } = await loadState(real, session.id);
  const abort = new AbortController();
  const writer = new SessionWriter({ store, lease, signal: abort.signal, state });
  const heard: string[] = [];
  writer.onCommitted((e: StoredEvent) => heard.push((e.data as { text: string }).text));
  const texts = async () =>
    (await allEvents(real, session.id))
      .filter((e) => e.type === 'user.messaged')
      .map((e) => (e.data as { text: string }).text);
  return { real, writer, appends, heard, texts, abort };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the session writer', () => {
  it('commits events held for the next append with it, in one append, folded at once', async () => {
    const { real, writer, appends, heard, texts } = await writerOnStore();
    const before = writer.state.seq;
    expect(writer.appendWithNext([said('result')])).toBeNull();
    // The state and the listeners have them before any commit: the next model call is built on them.
    expect(writer.state.seq).toBe(before + 1);
    expect(heard).toEqual(['result']);
    expect(appends).toEqual([]);
    await writer.append([said('answer')]);
    expect(appends).toEqual([['result', 'answer']]);
    expect(heard).toEqual(['result', 'answer']);
    expect(await texts()).toEqual(['result', 'answer']);
    expect(writer.state.seq).toBe(before + 2);
    await writer.flush();
    expect(appends).toHaveLength(1);
    await real.close();
  });

  it('commits held events alone once nothing came to carry them', async () => {
    const { real, writer, appends, texts } = await writerOnStore();
    expect(writer.appendWithNext([said('result')])).toBeNull();
    await sleep(holdForNextMs + 50);
    expect(appends).toEqual([['result']]);
    expect(await texts()).toEqual(['result']);
    await writer.append([said('later')]);
    expect(await texts()).toEqual(['result', 'later']);
    await real.close();
  });

  it('appends at once, and is awaited, while an append is in flight', async () => {
    const { real, writer, appends } = await writerOnStore();
    const first = writer.append([said('first')]);
    const second = writer.appendWithNext([said('second')]);
    expect(second).not.toBeNull();
    await Promise.all([first, second]);
    expect(appends).toEqual([['first'], ['second']]);
    await real.close();
  });

  it('commits held events alone when the append carrying them fails for its own part', async () => {
    const { real, writer, appends, heard, texts } = await writerOnStore((request) =>
      request.events.some((e) => (e.data as { text: string }).text === 'too large')
        ? new LongrunError('INVALID_ARGUMENT', 'an event is too large')
        : null,
    );
    expect(writer.appendWithNext([said('result')])).toBeNull();
    await expect(writer.append([said('too large')])).rejects.toThrow(/too large/);
    expect(appends).toEqual([['result', 'too large'], ['result']]);
    expect(await texts()).toEqual(['result']);
    // The caller appends what it does about its failure, after the result.
    await writer.append([said('failed')]);
    expect(await texts()).toEqual(['result', 'failed']);
    expect(heard).toEqual(['result', 'failed']);
    await writer.flush();
    await real.close();
  });

  it('fails every later append, and flush, once held events could not commit', async () => {
    let refusing = true;
    const { real, writer, texts } = await writerOnStore(() =>
      refusing ? new LongrunError('LEASE_LOST', 'another worker holds the session') : null,
    );
    expect(writer.appendWithNext([said('result')])).toBeNull();
    await sleep(holdForNextMs + 50);
    refusing = false;
    // Folded ahead and not in the log: nothing may be appended after it.
    await expect(writer.append([said('answer')])).rejects.toThrow(/another worker/);
    await expect(writer.flush()).rejects.toThrow(/another worker/);
    expect(await texts()).toEqual([]);
    await real.close();
  });
});
