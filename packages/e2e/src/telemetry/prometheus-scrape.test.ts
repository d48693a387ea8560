import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SessionId, StoredEvent } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { freePort, startLongrun, waitFor } from '../dashboard/child-process.ts';
import { startPrometheus } from './prometheus-process.ts';

const fixture = (name: string) => fileURLToPath(new URL(`./${name}`, import.meta.url));

/** Token usage a session recorded (its model calls' `model.responded`), by token type. */
function recordedUsage(events: readonly StoredEvent[]): { input: number; output: number } {
  let input = 0;
  let output = 0;
  for (const e of events) {
    if (e.type !== 'model.responded') continue;
    input += e.data.usage.inputTokens;
    output += e.data.usage.outputTokens;
  }
  return { input, output };
}

async function waitForSession(store: SqliteStore, id: SessionId): Promise<StoredEvent[]> {
  return waitFor(
    `session ${id} completed`,
    async () => {
      const record = await store.getSession(id);
      if (record.status === 'failed')
        throw new Error(`session ${id} failed: ${record.statusReason}`);
      return record.status === 'completed' ? store.readEvents(id) : undefined;
    },
    60_000,
  );
}

describe('Prometheus scrapes GET /metrics of longrun dev and of a separate longrun worker', () => {
  it("a PromQL query returns each finished session's token usage, by the process that ran it", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'longrun-prometheus-'));
    const children: { kill(): Promise<void> }[] = [];
    try {
      // `longrun dev` runs metrics-dev; a separate worker on the same SQLite file runs
      // metrics-worker, serving its metrics on a port of its own.
      const dev = startLongrun(
        ['dev', '--agents', fixture('prometheus-dev-agent.fixture.ts'), '--port', '0'],
        dir,
      );
      children.push(dev);
      const devUrl = (
        await dev.waitForOutput(/longrun dev: (http:\/\/127\.0\.0\.1:\d+)/, 60_000)
      )[1]!;
      const dbPath = join(dir, '.longrun', 'longrun.db');
      const worker = startLongrun(
        [
          'worker',
          '--store',
          dbPath,
          '--agents',
          fixture('prometheus-worker-agent.fixture.ts'),
          '--metrics-port',
          '0',
        ],
        dir,
      );
      children.push(worker);
      const workerMetrics = (
        await worker.waitForOutput(/"metrics":"(http:\/\/127\.0\.0\.1:\d+\/metrics)"/, 60_000)
      )[1]!;

      // Prometheus, on a free loopback port, with its own config and storage, scraping every second.
      const target = (url: string) => new URL(url).host;
      const prometheus = await startPrometheus(join(dir, 'prometheus'), await freePort(), {
        'longrun-dev': target(devUrl),
        'longrun-worker': target(workerMetrics),
      });
      children.push(prometheus);

      // One session for each process, run to completion.
      const created = await fetch(`${devUrl}/v1/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ agent: 'metrics-dev', message: 'Say something.' }),
      });
      expect(created.status).toBe(201);
      const devSession = ((await created.json()) as { session: { id: SessionId } }).session.id;
      const store = await SqliteStore.open({ path: dbPath });
      try {
        const workerSession = (await store.createSession({ agent: 'metrics-worker', input: 'Go.' }))
          .id;
        const devUsage = recordedUsage(await waitForSession(store, devSession));
        const workerUsage = recordedUsage(await waitForSession(store, workerSession));
        expect(devUsage).toEqual({ input: 1_234, output: 56 });
        expect(workerUsage).toEqual({ input: 1_510, output: 29 });

        const promql = 'sum by (job, gen_ai_token_type) (gen_ai_client_token_usage_sum)';
        const expected = new Map([
          ['gen_ai_token_type=input,job=longrun-dev', devUsage.input],
          ['gen_ai_token_type=output,job=longrun-dev', devUsage.output],
          ['gen_ai_token_type=input,job=longrun-worker', workerUsage.input],
          ['gen_ai_token_type=output,job=longrun-worker', workerUsage.output],
        ]);
        let last = new Map<string, number>();
        await waitFor(
          `${promql} = ${JSON.stringify([...expected])}`,
          async () => {
            last = await prometheus.query(promql);
            return JSON.stringify([...last].sort()) === JSON.stringify([...expected].sort())
              ? true
              : undefined;
          },
          30_000,
          250,
        ).catch((error: Error) => {
          throw new Error(`${error.message}; Prometheus answered ${JSON.stringify([...last])}`);
        });
        // The model calls the worker made, and the sessions by status the store reports.
        const calls = await prometheus.query(
          'sum by (job) (gen_ai_client_operation_duration_count)',
        );
        expect(calls.get('job=longrun-worker')).toBe(2);
        expect(calls.get('job=longrun-dev')).toBe(1);
        const completed = await prometheus.query(
          'max(longrun_sessions{longrun_session_status="completed"})',
        );
        expect([...completed.values()]).toEqual([2]);
        // Each process's store counts the appends it committed and the commits that carried them.
        const appends = await prometheus.query('sum by (job) (longrun_store_appends_total)');
        const commits = await prometheus.query('sum by (job) (longrun_store_append_commits_total)');
        for (const job of ['job=longrun-worker', 'job=longrun-dev']) {
          expect(commits.get(job)).toBeGreaterThan(0);
          expect(appends.get(job)).toBeGreaterThanOrEqual(commits.get(job) as number);
        }
        // Aggregates only: no session id in either exposition.
        for (const url of [`${devUrl}/metrics`, workerMetrics]) {
          const text = await (await fetch(url)).text();
          expect(text).toContain('gen_ai_client_token_usage_bucket');
          expect(text).not.toContain(devSession);
          expect(text).not.toContain(workerSession);
        }
      } finally {
        await store.close();
      }
    } finally {
      for (const child of children.reverse()) await child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
