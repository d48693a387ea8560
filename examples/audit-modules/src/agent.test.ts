import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SessionId, SessionStore, StoredEvent } from '@longrun/core';
import { Worker } from '@longrun/runtime';
import { SqliteStore } from '@longrun/store-sqlite';
import { auditModulesAgent } from './agent.ts';
import { signOffSignal } from './audit-script.ts';
import { modulePath } from './sample-modules.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(
  what: string,
  test: () => Promise<boolean>,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs} ms`);
    await sleep(10);
  }
}

async function events(store: SessionStore, id: SessionId): Promise<StoredEvent[]> {
  return store.readEvents(id, 0, 100_000);
}

const ofType = <T extends StoredEvent['type']>(all: StoredEvent[], type: T) =>
  all.filter((e): e is Extract<StoredEvent, { type: T }> => e.type === type);

describe('the audit-modules example, offline', () => {
  it(
    'audits 120 modules over hundreds of steps: compacted, resumed by a new worker, signed off, evaluated',
    { timeout: 240_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'longrun-audit-'));
      const store = await SqliteStore.open({ path: join(dir, 'longrun.db') });
      const agent = auditModulesAgent({ workspaceRoot: join(dir, 'workspaces') });
      const session = await store.createSession({
        agent: agent.name,
        input: { task: 'Audit every module of the repository.' },
      });
      const id = session.id;
      try {
        // A first worker runs a hundred steps and stops; a second one takes the session up.
        const first = new Worker({ store, agents: [agent], pollMs: 5 });
        await first.start();
        await until('100 steps', async () => (await store.getSession(id)).headSeq > 300);
        await first.stop();
        const second = new Worker({ store, agents: [agent], pollMs: 5 });
        await second.start();
        try {
          // It parks the session to wait for the sign-off, holding no worker.
          await until('the sign-off wait', async () => {
            const s = await store.getSession(id);
            return s.status === 'waiting' && s.leaseOwner === null;
          });
          expect((await store.getSession(id)).waitingFor).toContain(signOffSignal);
          await store.sendSignal(id, signOffSignal, { by: 'ana' });
          await until(
            'completion',
            async () => (await store.getSession(id)).status === 'completed',
          );
        } finally {
          await second.stop();
        }

        const all = await events(store, id);
        const steps = ofType(all, 'model.responded').length;
        expect(steps).toBeGreaterThan(200);
        expect(ofType(all, 'context.compacted').length).toBeGreaterThan(2);
        // The evaluator caught the skipped generated modules, and passed the fixed report.
        const verdicts = ofType(all, 'outcome.evaluated');
        expect(verdicts.map((v) => [v.data.passed, v.data.continues])).toEqual([
          [false, true],
          [true, false],
        ]);
        expect(verdicts[0]?.data.criteria[0]?.reason).toMatch(
          /10 modules have no finding: src\/mod-011\.js/,
        );
        expect(ofType(all, 'session.completed')[0]?.data).toMatchObject({
          outcome: 'satisfied',
          output: expect.stringMatching(/signed off by ana/) as string,
        });
        const report = readFileSync(join(dir, 'workspaces', id, 'REPORT.md'), 'utf8');
        const lines = report.trim().split('\n');
        expect(lines).toHaveLength(120);
        expect(lines.filter((l) => l.includes('skipped'))).toEqual([]);
        expect(lines).toContain(
          `- ${modulePath(77)}: generated: calls eval on its input: replace it with a parser`,
        );
        expect(lines).toContain(`- ${modulePath(1)}: clean`);
      } finally {
        await store.close();
      }
    },
  );
});
