import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { serverSessionsShared } from './server-sessions.ts';

/** A connection that answers pg_backend_pid() with the next of `pids`, and BEGIN/COMMIT. */
function scripted(pids: number[], failBegin?: string): pg.ClientBase {
  const queue = [...pids];
  return {
    async query(text: string) {
      if (text === 'BEGIN' && failBegin !== undefined) throw new Error(failBegin);
      if (text === 'BEGIN' || text === 'COMMIT') return { rows: [] };
      const pid = queue.shift();
      if (pid === undefined) throw new Error('asked for more process ids than scripted');
      return { rows: [{ pid }] };
    },
  } as unknown as pg.ClientBase;
}

describe('serverSessionsShared', () => {
  it('a session each (direct, or pool_mode=session): nothing shared', async () => {
    await expect(serverSessionsShared(scripted([10, 10, 10]), scripted([20, 20]))).resolves.toBe(
      null,
    );
  });

  it('one connection seeing another backend, or both the same one: shared per transaction', async () => {
    const cases: [number[], number[]][] = [
      [
        [10, 10, 10],
        [10, 10],
      ], // the other took the server connection released last
      [
        [10, 11, 10],
        [20, 20],
      ], // a rotated to another server connection
      [
        [10, 10, 10],
        [20, 21],
      ],
      [
        [10, 10, 20],
        [20, 20],
      ],
    ];
    for (const [a, b] of cases) {
      const shared = await serverSessionsShared(scripted(a), scripted(b));
      expect(shared?.mode).toBe('transaction');
      expect(shared?.evidence).toContain(a[0] === b[0] ? `backend ${a[0]}` : a.join(', '));
    }
  });

  it("PgBouncer's refusal of BEGIN: shared per statement; any other failure is thrown", async () => {
    const refused = 'transaction blocks not allowed in statement pooling mode';
    await expect(
      serverSessionsShared(scripted([10]), scripted([], refused)),
    ).resolves.toMatchObject({ mode: 'statement', evidence: refused });
    await expect(
      serverSessionsShared(scripted([10]), scripted([], 'Connection terminated unexpectedly')),
    ).rejects.toThrow('Connection terminated unexpectedly');
  });
});
