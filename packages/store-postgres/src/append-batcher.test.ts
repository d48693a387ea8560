import { describe, expect, it } from 'vitest';
import { isLongrunError } from '@longrun/core';
import { AppendBatcher, type AppendBatching, type BatchOutcome } from './append-batcher.ts';

/**
 * The batching policy on its own: a send function that records each batch and answers only
 * when the test opens its gate, so "in flight" is a state the test controls, not a timing.
 */
interface Sent {
  items: string[];
  answer(outcomes?: BatchOutcome<string>[]): void;
  fail(error: unknown): void;
}

function recorder(options: AppendBatching = {}) {
  const sent: Sent[] = [];
  const batcher = new AppendBatcher<string, string>(
    (items) =>
      new Promise((resolve, reject) => {
        sent.push({
          items,
          answer: (outcomes) =>
            resolve(outcomes ?? items.map((item) => ({ ok: true, value: `done ${item}` }))),
          fail: reject,
        });
      }),
    options,
  );
  // Items are named "<key><n>", e.g. a1 is key a's first append.
  const submit = (item: string, bytes = 1) => batcher.submit(item.slice(0, 1), item, bytes);
  return { batcher, sent, submit };
}

/** Lets queued ticks and promise callbacks run (a flush happens on process.nextTick). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('append batcher', () => {
  it('sends the appends of one burst as one batch, and a lone append at once', async () => {
    const { sent, submit } = recorder({ maxInFlight: 1 });
    const done = [submit('a1'), submit('b1'), submit('c1')];
    expect(sent).toHaveLength(0);
    await settle();
    expect(sent.map((s) => s.items)).toEqual([['a1', 'b1', 'c1']]);
    sent[0]!.answer();
    expect(await Promise.all(done)).toEqual(['done a1', 'done b1', 'done c1']);
    const lone = submit('d1');
    await settle();
    expect(sent[1]!.items).toEqual(['d1']);
    sent[1]!.answer();
    expect(await lone).toBe('done d1');
  });

  it('queues while the limit of batches is out, then sends what accumulated as one', async () => {
    const { sent, submit } = recorder({ maxInFlight: 1 });
    const first = submit('a1');
    await settle();
    const later = [submit('b1'), submit('c1')];
    await settle();
    expect(sent).toHaveLength(1);
    sent[0]!.answer();
    await first;
    await settle();
    expect(sent[1]!.items).toEqual(['b1', 'c1']);
    sent[1]!.answer();
    await Promise.all(later);
  });

  it('never lets an append of a session overtake an earlier one still in flight', async () => {
    const { sent, submit } = recorder({ maxInFlight: 3, splitMinItems: 1 });
    const a1 = submit('a1');
    await settle();
    // a2 and a3 wait for a1's batch; b1 does not, and neither does c1, queued behind a2.
    const rest = [submit('a2'), submit('b1'), submit('a3'), submit('c1')];
    await settle();
    expect(sent.map((s) => s.items)).toEqual([['a1'], ['b1', 'c1']]);
    sent[1]!.answer();
    await settle();
    expect(sent).toHaveLength(2);
    sent[0]!.answer();
    await a1;
    await settle();
    expect(sent[2]!.items).toEqual(['a2', 'a3']);
    sent[2]!.answer();
    await Promise.all(rest);
  });

  it('spreads a burst over the free slots, sorted by session within each batch', async () => {
    const { sent, submit } = recorder({ maxInFlight: 2, splitMinItems: 2 });
    const done = ['d1', 'c1', 'b1', 'a1', 'a2'].map((item) => submit(item));
    await settle();
    // Five over two slots: batches of up to three, each in session order (a1 before a2 kept).
    expect(sent.map((s) => s.items)).toEqual([
      ['b1', 'c1', 'd1'],
      ['a1', 'a2'],
    ]);
    for (const s of sent) s.answer();
    await Promise.all(done);
    const { sent: small, submit: submitSmall } = recorder({ maxInFlight: 4, splitMinItems: 8 });
    const few = ['a1', 'b1', 'c1'].map((item) => submitSmall(item));
    await settle();
    expect(small.map((s) => s.items)).toEqual([['a1', 'b1', 'c1']]);
    small[0]!.answer();
    await Promise.all(few);
  });

  it('caps a batch by items and by bytes; one larger append still goes, alone', async () => {
    const { sent, submit } = recorder({ maxInFlight: 1, maxItems: 2, maxBytes: 100 });
    const done = [submit('a1', 10), submit('b1', 10), submit('c1', 500), submit('d1', 60)];
    done.push(submit('e1', 60));
    const batches: string[][] = [];
    for (let i = 0; i < 4; i++) {
      await settle();
      expect(sent).toHaveLength(i + 1);
      batches.push(sent[i]!.items);
      sent[i]!.answer();
    }
    expect(batches).toEqual([['a1', 'b1'], ['c1'], ['d1'], ['e1']]);
    await Promise.all(done);
  });

  it('settles each append with its own outcome, and fails a whole batch together', async () => {
    const { sent, submit } = recorder({ maxInFlight: 1 });
    const mixed = [submit('a1'), submit('b1')].map((p) => p.then(String, (e: unknown) => e));
    await settle();
    const conflict = new Error('b1 conflicts');
    sent[0]!.answer([
      { ok: true, value: 'a1 ok' },
      { ok: false, error: conflict },
    ]);
    expect(await Promise.all(mixed)).toEqual(['a1 ok', conflict]);
    const dropped = [submit('c1'), submit('d1')].map((p) => p.then(String, (e: unknown) => e));
    await settle();
    const gone = new Error('connection terminated');
    sent[1]!.fail(gone);
    expect(await Promise.all(dropped)).toEqual([gone, gone]);
    const short = submit('e1').catch((e: unknown) => e);
    await settle();
    sent[2]!.answer([]);
    expect(isLongrunError(await short, 'INTERNAL')).toBe(true);
  });

  it('drains: resolves once every submitted append has settled', async () => {
    const { batcher, sent, submit } = recorder({ maxInFlight: 1 });
    await batcher.drain();
    const order: string[] = [];
    void submit('a1').then(() => order.push('a1'));
    await settle();
    void submit('b1').then(() => order.push('b1'));
    const drained = batcher.drain().then(() => order.push('drained'));
    sent[0]!.answer();
    await settle();
    sent[1]!.answer();
    await drained;
    expect(order).toEqual(['a1', 'b1', 'drained']);
  });

  it('gives the outcomes of one batch to their callers one turn of the event loop apart', async () => {
    const { sent, submit } = recorder({ maxInFlight: 1 });
    let turn = 0;
    let ticking = true;
    const tick = (): void => {
      turn++;
      if (ticking) setImmediate(tick);
    };
    const items = Array.from({ length: 32 }, (_, i) => String.fromCharCode(65 + i) + '1');
    const turns = items.map(async (item) => {
      await submit(item);
      return turn;
    });
    await settle();
    expect(sent).toHaveLength(1);
    setImmediate(tick);
    sent[0]!.answer();
    const perTurn = new Map<number, number>();
    for (const t of await Promise.all(turns)) perTurn.set(t, (perTurn.get(t) ?? 0) + 1);
    ticking = false;
    // Resolved together, all 32 continuations would run in one task (one turn).
    expect(Math.max(...perTurn.values())).toBeLessThanOrEqual(2);
    expect(perTurn.size).toBeGreaterThanOrEqual(16);
  });

  it('refuses bad limits with a typed error', () => {
    for (const bad of [{ maxInFlight: 0 }, { maxItems: 1.5 }, { maxBytes: -1 }]) {
      expect(() => new AppendBatcher(() => Promise.resolve([]), bad)).toThrow(/appendBatching\./);
    }
  });
});
