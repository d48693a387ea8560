import { describe, expect, it } from 'vitest';
import { OnePerTurn } from './one-per-turn.ts';

/** Counts turns of the event loop (check phases) until stopped. */
function turnCounter(): { readonly turn: number; stop(): void } {
  let turn = 0;
  let ticking = true;
  const tick = (): void => {
    turn++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get turn() {
      return turn;
    },
    stop: () => (ticking = false),
  };
}

async function settled(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('OnePerTurn', () => {
  it('runs the first callback at once and the rest of one push a turn apart', async () => {
    const turns = turnCounter();
    const ran: number[] = [];
    new OnePerTurn().push(...[0, 1, 2, 3].map(() => () => ran.push(turns.turn)));
    expect(ran).toEqual([0]);
    await settled();
    turns.stop();
    expect(new Set(ran).size).toBe(4);
  });

  it('runs callbacks pushed apart in one turn (answers of several messages) a turn apart too', async () => {
    const turns = turnCounter();
    const queue = new OnePerTurn();
    const ran: number[] = [];
    // As three messages handled in one turn each push their one answer.
    for (let i = 0; i < 3; i++) queue.push(() => ran.push(turns.turn));
    expect(ran).toHaveLength(1);
    await settled();
    expect(new Set(ran).size).toBe(3);
    // Once the queue has drained and a turn has passed, the next push runs at once again.
    queue.push(() => ran.push(-1));
    expect(ran.at(-1)).toBe(-1);
    turns.stop();
    expect(queue.empty).toBe(true);
  });

  it('runs everything queued at once on flush', () => {
    const queue = new OnePerTurn();
    const ran: number[] = [];
    queue.push(...[0, 1, 2].map((i) => () => ran.push(i)));
    queue.flush();
    expect(ran).toEqual([0, 1, 2]);
    expect(queue.empty).toBe(true);
  });
});
