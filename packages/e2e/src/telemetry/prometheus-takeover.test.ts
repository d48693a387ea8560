import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StoredEvent } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { startLongrun, waitFor, type Child } from '../dashboard/child-process.ts';
import { sampleOf } from './prometheus-process.ts';

const agentModule = fileURLToPath(new URL('./prometheus-ledger-agent.fixture.ts', import.meta.url));

function inputTokens(events: readonly StoredEvent[]): number {
  return events.reduce(
    (sum, e) => sum + (e.type === 'model.responded' ? e.data.usage.inputTokens : 0),
    0,
  );
}

/** A `longrun worker` with its own metrics port on the SQLite file, and its metrics URL. */
async function startWorker(dir: string, db: string, id: string): Promise<[Child, string]> {
  const worker = startLongrun(
    [
      'worker',
      '--store',
      db,
      '--agents',
      agentModule,
      '--worker-id',
      id,
      '--lease-ms',
      '1000',
      '--metrics-port',
      '0',
    ],
    dir,
  );
  const url = (
    await worker.waitForOutput(/"metrics":"(http:\/\/127\.0\.0\.1:\d+\/metrics)"/, 60_000)
  )[1]!;
  return [worker, url];
}

describe('metrics of a session taken over after kill -9', () => {
  it('the new holder counts only what it committed, and one takeover with its recovery time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'longrun-metrics-takeover-'));
    const db = join(dir, 'longrun.db');
    const children: Child[] = [];
    const previous = process.env.LONGRUN_METRICS_LEDGER_DIR;
    process.env.LONGRUN_METRICS_LEDGER_DIR = dir;
    const store = await SqliteStore.open({ path: db });
    try {
      const [first] = await startWorker(dir, db, 'metrics-a');
      children.push(first);
      const session = await store.createSession({
        agent: 'ledger',
        input: { steps: 12, toolDelayMs: 100 },
      });
      // Invariant: a worker that takes a session over counts none of the tokens its previous
      // holder committed (they were that process's to count), and all of those it commits.
      await waitFor(
        'the first worker to commit 4 model responses',
        async () => {
          const events = await store.readEvents(session.id);
          return events.filter((e) => e.type === 'model.responded').length >= 4 ? true : undefined;
        },
        60_000,
        20,
      );
      await first.kill();
      const [second, metricsUrl] = await startWorker(dir, db, 'metrics-b');
      children.push(second);
      const log = await waitFor(
        'the session to complete on the second worker',
        async () =>
          (await store.getSession(session.id)).status === 'completed'
            ? store.readEvents(session.id)
            : undefined,
        60_000,
      );
      const secondEpoch = Math.max(...log.map((e) => e.epoch));
      const bySecond = log.filter((e) => e.epoch === secondEpoch);
      const byFirst = log.filter((e) => e.epoch > 0 && e.epoch < secondEpoch);
      expect(inputTokens(byFirst)).toBeGreaterThanOrEqual(4 * 12);
      expect(inputTokens(bySecond)).toBeGreaterThan(0);
      const text = await (await fetch(metricsUrl)).text();
      expect(sampleOf(text, 'gen_ai_client_token_usage_sum', { gen_ai_token_type: 'input' })).toBe(
        inputTokens(bySecond),
      );
      expect(
        sampleOf(text, 'gen_ai_client_token_usage_count', { gen_ai_token_type: 'input' }),
      ).toBe(bySecond.filter((e) => e.type === 'model.responded').length);
      expect(sampleOf(text, 'longrun_lease_takeovers_total')).toBe(1);
      expect(sampleOf(text, 'longrun_recovery_duration_count')).toBe(1);
      expect(sampleOf(text, 'gen_ai_invoke_agent_duration_count')).toBe(0); // its start was the first's
      expect(sampleOf(text, 'gen_ai_execute_tool_duration_count')).toBe(
        bySecond.filter((e) => e.type === 'tool.completed').length -
          // a call started by the first worker and completed by the second has no known start
          bySecond.filter(
            (e) =>
              e.type === 'tool.completed' &&
              !bySecond.some(
                (s) =>
                  (s.type === 'tool.started' || s.type === 'tool.resumed') &&
                  s.data.step === e.data.step &&
                  s.data.callIndex === e.data.callIndex,
              ),
          ).length,
      );
    } finally {
      for (const child of children.reverse()) await child.kill();
      await store.close();
      if (previous === undefined) delete process.env.LONGRUN_METRICS_LEDGER_DIR;
      else process.env.LONGRUN_METRICS_LEDGER_DIR = previous;
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
