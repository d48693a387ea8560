import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './test-fixtures/cli-process.ts';
import { assembleDevParts } from './test-fixtures/dev-parts.ts';
import { postgresStoreUrls } from './test-fixtures/postgres-stores.ts';

const pgStore = await postgresStoreUrls('the Postgres cases of assembleProcess', 'cli_asm');
const stores: Record<string, () => string> = {
  sqlite: () => join(mkdtempSync(join(tmpdir(), 'longrun-assemble-')), 'longrun.db'),
  ...(pgStore === null ? {} : { postgres: pgStore }),
};
const assembleAndClose = fileURLToPath(
  new URL('./test-fixtures/assemble-and-close.ts', import.meta.url),
);
const json = { 'content-type': 'application/json' };

describe.each(Object.keys(stores))('assembleProcess on %s', (kind) => {
  it('runs a session created through the API at once: the API wakes the worker it was built with', async () => {
    const running = await assembleDevParts(stores[kind]!());
    try {
      const made = await fetch(`${running.served.url}/v1/sessions`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ agent: 'approval-fixture', message: 'deploy api' }),
      });
      expect(made.status).toBe(201);
      const { session } = (await made.json()) as { session: { id: string } };
      // The fixture's first turn asks for an approval: the session waits once the worker ran it.
      // The worker's own next look is a minute away; without the wake this times out.
      const status = await waitFor(
        'the session to wait for its approval',
        async () => {
          const got = await fetch(`${running.served.url}/v1/sessions/${session.id}`);
          const { session: now } = (await got.json()) as { session: { status: string } };
          return now.status === 'waiting' ? now.status : undefined;
        },
        10_000,
      );
      expect(status).toBe('waiting');
      const figures = (await (await fetch(`${running.served.url}/v1/figures`)).json()) as {
        worker: { eventsCommitted: number };
        sandboxPool: unknown;
      };
      expect(figures.worker.eventsCommitted).toBeGreaterThan(0);
      expect(figures.sandboxPool).toBeNull();
      // GET /metrics on the API port, without a key: the worker's model call, the store's sessions.
      const metrics = await fetch(`${running.served.url}/metrics`);
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await metrics.text();
      expect(text).toMatch(
        /^gen_ai_client_token_usage_count\{[^}]*gen_ai_token_type="input"[^}]*\} 1$/m,
      );
      const waiting = /^longrun_sessions\{longrun_session_status="waiting"[^}]*\} (\d+)$/m.exec(
        text,
      );
      expect(Number(waiting?.[1])).toBeGreaterThanOrEqual(1);
      expect(text).not.toContain(session.id);
    } finally {
      await running.close();
    }
  });

  it('leaves nothing open once closed: a process that closed it ends by itself', () => {
    const run = spawnSync(process.execPath, [assembleAndClose, stores[kind]!()], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});
