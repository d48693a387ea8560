import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
  LongrunError,
  event,
  workerId,
  type AppendRequest,
  type AppendResult,
  type SessionStore,
} from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { allEvents, tempDir } from './testing.ts';
import { loadState } from './load-state.ts';
import { SessionWriter, aheadWindowFor } from './session-writer.ts';

/**
 * A real SQLite store whose appends pass through `onAppend`, which may fail one (before or after
 * the real commit, as a dropped connection would) and which sees how many are in flight at once.
 */
async function faultyStore(
  onAppend: (request: AppendRequest, commit: () => Promise<AppendResult>) => Promise<AppendResult>,
) {
  const store = await SqliteStore.open({ path: join(tempDir('writer'), 'db.sqlite') });
  let inFlight = 0;
  let maxInFlight = 0;
  const sends: string[] = [];
  const wrapped = new Proxy(store, {
    get(target, property, receiver) {
      if (property !== 'append') {
        const value = Reflect.get(target, property, receiver) as unknown;
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      }
      return async (request: AppendRequest) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        sends.push(`${request.expectedSeq}:${request.appendId}`);
        try {
          return await onAppend(request, () => target.append(request));
        } finally {
          inFlight--;
        }
      };
    },
  }) as SessionStore;
  const s = await store.createSession({ agent: 'a', input: null });
  const lease = await store.claim(s.id, workerId('writer'), 60_000);
  if (lease === null) throw new Error('claim failed');
  const { state } = await loadState(store, s.id);
  return { store, wrapped, lease, state, sends, maxInFlight: () => maxInFlight };
}

type WriterOptions = ConstructorParameters<typeof SessionWriter>[0];

/** A writer of the faulty store's session, under its lease. */
function writerOn(
  f: Awaited<ReturnType<typeof faultyStore>>,
  options: Partial<WriterOptions> = {},
): SessionWriter {
  return new SessionWriter({
    store: f.wrapped,
    lease: f.lease,
    signal: new AbortController().signal,
    state: f.state,
    ...options,
  });
}

const said = (text: string) => [event('user.messaged', { text, signalId: null })];

function texts(events: Awaited<ReturnType<typeof allEvents>>): string[] {
  return events.flatMap((e) => (e.type === 'user.messaged' ? [e.data.text] : []));
}

function seqsContiguous(events: Awaited<ReturnType<typeof allEvents>>): boolean {
  return events.every((e, i) => e.seq === i + 1);
}

const unavailable = () => new LongrunError('STORE_UNAVAILABLE', 'the connection dropped');

describe('the session writer', () => {
  it('sends ahead appends without waiting for the ones before them, and commits them in order', async () => {
    const f = await faultyStore(async (_request, commit) => {
      await new Promise((r) => setTimeout(r, 5));
      return commit();
    });
    const writer = writerOn(f);
    const applied: number[] = [];
    writer.onApplied((e) => applied.push(e.seq));
    const startSeq = writer.state.seq;
    for (let i = 0; i < 6; i++) await writer.appendAhead(said(`ahead ${i}`));
    // Sent, folded and told at once; not yet committed.
    expect(writer.state.seq).toBe(startSeq + 6);
    expect(applied).toEqual([1, 2, 3, 4, 5, 6].map((n) => startSeq + n));
    expect(texts(await allEvents(f.store, f.lease.sessionId))).toEqual([]);
    await writer.settled();
    expect(f.maxInFlight()).toBeGreaterThan(1);
    const events = await allEvents(f.store, f.lease.sessionId);
    expect(texts(events)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `ahead ${i}`));
    expect(seqsContiguous(events)).toBe(true);
    await f.store.close();
  });

  it('keeps at most a window of appends in flight', async () => {
    const f = await faultyStore(async (_request, commit) => {
      await new Promise((r) => setTimeout(r, 2));
      return commit();
    });
    const writer = writerOn(f, { aheadWindow: () => 3 });
    for (let i = 0; i < 20; i++) await writer.appendAhead(said(`w ${i}`));
    await writer.settled();
    expect(f.maxInFlight()).toBe(3);
    expect(texts(await allEvents(f.store, f.lease.sessionId))).toHaveLength(20);
    await f.store.close();
  });

  it('sends nothing behind an append that waits for its commit, nor that append behind others', async () => {
    const order: string[] = [];
    const f = await faultyStore(async (request, commit) => {
      const text = (request.events[0]?.data as { text?: string } | undefined)?.text ?? '';
      order.push(`send ${text}`);
      await new Promise((r) => setTimeout(r, 3));
      const result = await commit();
      order.push(`commit ${text}`);
      return result;
    });
    const writer = writerOn(f);
    await writer.appendAhead(said('a1'));
    await writer.appendAhead(said('a2'));
    const barrier = writer.append(said('sync'));
    const after = writer.appendAhead(said('a3'));
    await Promise.all([barrier, after]);
    await writer.settled();
    expect(order).toEqual([
      'send a1',
      'send a2',
      'commit a1',
      'commit a2',
      'send sync',
      'commit sync',
      'send a3',
      'commit a3',
    ]);
    await f.store.close();
  });

  for (const committed of [false, true]) {
    it(`sends every append again in order when one in flight fails transiently (${committed ? 'its acknowledgement lost' : 'not committed'}), each once in the log`, async () => {
      let failed = false;
      const f = await faultyStore(async (request, commit) => {
        await new Promise((r) => setTimeout(r, 2));
        const text = (request.events[0]?.data as { text?: string } | undefined)?.text;
        if (text === 'r 2' && !failed) {
          failed = true;
          if (committed) await commit();
          throw unavailable();
        }
        return commit();
      });
      const stalls: string[] = [];
      const writer = writerOn(f, {
        events: {
          emit: (name: string) => void stalls.push(name),
        } as unknown as WriterOptions['events'],
      });
      for (let i = 0; i < 6; i++) await writer.appendAhead(said(`r ${i}`));
      await writer.settled();
      const events = await allEvents(f.store, f.lease.sessionId);
      expect(texts(events)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `r ${i}`));
      expect(seqsContiguous(events)).toBe(true);
      expect(stalls).toContain('append.stalled');
      expect(stalls).toContain('append.recovered');
      // The appends behind the failed one were sent again, with their append ids.
      expect(f.sends.length).toBeGreaterThan(6);
      await f.store.close();
    });
  }

  it('breaks on an ahead append that fails for good: later appends fail with its error, the log keeps the prefix', async () => {
    const f = await faultyStore(async (request, commit) => {
      await new Promise((r) => setTimeout(r, 2));
      const text = (request.events[0]?.data as { text?: string } | undefined)?.text;
      if (text === 'b 2') throw new LongrunError('LEASE_LOST', 'fenced by a newer epoch');
      return commit();
    });
    const writer = writerOn(f);
    for (let i = 0; i < 5; i++) await writer.appendAhead(said(`b ${i}`));
    await expect(writer.settled()).rejects.toThrow('fenced by a newer epoch');
    await expect(writer.append(said('after'))).rejects.toThrow('fenced by a newer epoch');
    await expect(writer.appendAhead(said('after'))).rejects.toThrow('fenced by a newer epoch');
    const events = await allEvents(f.store, f.lease.sessionId);
    expect(texts(events)).toEqual(['b 0', 'b 1']);
    expect(seqsContiguous(events)).toBe(true);
    await f.store.close();
  });

  it('forgets an append that waited for its commit and failed, and goes on', async () => {
    const f = await faultyStore(async (request, commit) => {
      const text = (request.events[0]?.data as { text?: string } | undefined)?.text;
      if (text === 'refused') throw new LongrunError('INVALID_ARGUMENT', 'too large');
      return commit();
    });
    const writer = writerOn(f);
    const before = writer.state.seq;
    await expect(writer.append(said('refused'))).rejects.toThrow('too large');
    expect(writer.state.seq).toBe(before);
    await writer.append(said('next'));
    expect(texts(await allEvents(f.store, f.lease.sessionId))).toEqual(['next']);
    await f.store.close();
  });

  it('commits an append asked withNext with the next ahead append of the same turn, as one', async () => {
    const f = await faultyStore((_request, commit) => commit());
    const writer = writerOn(f);
    const start = writer.state.seq;
    // A tool's result, then the next model response in the same turn: one request.
    await writer.appendAhead(said('result'), {}, { withNext: true });
    await writer.appendAhead(said('response'));
    expect(writer.state.seq).toBe(start + 2);
    await writer.settled();
    expect(f.sends).toHaveLength(1);
    // Alone, it goes at the end of the turn without anyone asking.
    const alone = writer.appendAhead(said('last result'), {}, { withNext: true });
    await alone;
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 20));
    expect(f.sends).toHaveLength(2);
    // An append that waits for its commit is not joined: the held one goes first, then it.
    await writer.appendAhead(said('held'), {}, { withNext: true });
    await writer.append(said('waits'));
    expect(f.sends).toHaveLength(4);
    const events = await allEvents(f.store, f.lease.sessionId);
    expect(texts(events)).toEqual(['result', 'response', 'last result', 'held', 'waits']);
    expect(seqsContiguous(events)).toBe(true);
    await f.store.close();
  });

  it('sends a held append when asked to settle', async () => {
    const f = await faultyStore((_request, commit) => commit());
    const writer = writerOn(f);
    await writer.appendAhead(said('held'), {}, { withNext: true });
    expect(f.sends).toHaveLength(0);
    await writer.settled();
    expect(f.sends).toHaveLength(1);
    expect(texts(await allEvents(f.store, f.lease.sessionId))).toEqual(['held']);
    await f.store.close();
  });

  it('gives each of many sessions a smaller window', () => {
    expect(aheadWindowFor(1)).toBe(8);
    expect(aheadWindowFor(8)).toBe(4);
    expect(aheadWindowFor(32)).toBe(1);
    expect(aheadWindowFor(500)).toBe(1);
  });
});
