import { describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  ManualClock,
  isLongrunError,
  type SessionId,
  type SessionRecord,
  type SessionStore,
} from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { Worker, childSessionId } from '@longrun/runtime';
import { sqliteTarget } from '../store-targets.ts';
import { parentAgent } from './held-child-agents.ts';

const script = fileURLToPath(new URL('./held-child-worker-process.ts', import.meta.url));
const cliMain = fileURLToPath(new URL('../../../cli/src/main.ts', import.meta.url));

/** A spawned held-child-worker-process.ts. */
class ChildWorker {
  readonly process: ChildProcess;
  readonly exited: Promise<unknown>;
  readonly ready: Promise<void>;
  stderr = '';

  constructor(url: string, id: string, dir: string, env: Record<string, string> = {}) {
    this.process = spawn(process.execPath, [script, url, id, dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.exited = new Promise((resolve) => this.process.on('exit', resolve));
    this.process.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-20_000);
    });
    this.ready = new Promise((resolve) =>
      createInterface({ input: this.process.stdout! }).on('line', (line) => {
        if (line === 'ready') resolve();
      }),
    );
  }

  async stop(): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null)
      this.process.kill('SIGTERM');
    await this.exited;
  }
}

/** Polls until `ok` holds of the session's record; bounded, and says what it last saw. */
async function until(
  store: SessionStore,
  id: SessionId,
  ok: (s: SessionRecord) => boolean,
  what: string,
  ms = 30_000,
): Promise<SessionRecord> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = await store.getSession(id).catch((error: unknown) => {
      if (isLongrunError(error, 'NOT_FOUND')) return null;
      throw error;
    });
    if (s !== null && ok(s)) return s;
    if (Date.now() > deadline)
      throw new Error(`${what}: not in ${ms} ms (${s?.status}: ${s?.statusReason})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const plainWait = 'a run_subagents call waits for signal subagent:1:0';

/**
 * The probe's tree with the child on another worker process, killed -9 right after its pause is
 * committed: the signal that would tell its parent is never sent. The invariants: the parent's
 * own re-check (30 s after it started waiting, on the injected clock) names the paused child and
 * a budget command; that command, run as printed by the real CLI, resumes the child; an operator
 * who runs whatever the parent's status says until it ends gets the whole tree completed.
 */
describe('a sub-agent paused on a worker killed -9 before it told its parent', () => {
  it('shows on the parent at its re-check, and the command it prints lets the tree finish', async () => {
    const db = await sqliteTarget();
    const clock = new ManualClock(Date.now());
    const store = await SqliteStore.open({ path: db.url, clock });
    const parents = new Worker({ store, agents: [parentAgent(db.dir)], pollMs: 20 });
    const children: ChildWorker[] = [];
    try {
      const parent = (await store.createSession({ agent: 'parent', input: 'go' })).id;
      const child = childSessionId(parent, 1, 0, 0);
      await parents.start();
      const dying = new ChildWorker(db.url, 'child-0', db.dir, { LONGRUN_DIE_ON_PAUSE: '1' });
      children.push(dying);
      await dying.exited;
      expect(dying.process.signalCode, dying.stderr).toBe('SIGKILL');
      expect((await store.getSession(child)).status).toBe('paused');
      // The kill came between the pause and the signal: nothing told the parent.
      expect(await store.pendingSignals(parent, 'subagent:1:0')).toEqual([]);
      const stale = await until(store, parent, (s) => s.status === 'waiting', 'parent waits');
      expect(stale.statusReason).toBe(plainWait);

      clock.advance(30_000);
      let record = await until(
        store,
        parent,
        (s) => s.status === 'waiting' && (s.statusReason ?? '').includes(child),
        'the re-check names the child',
        10_000,
      );
      const resumer = new ChildWorker(db.url, 'child-1', db.dir);
      children.push(resumer);
      await resumer.ready;
      const commands: string[] = [];
      for (let i = 0; i < 5 && record.status !== 'completed'; i++) {
        const command = /longrun sessions budget (ses_\w+) (--[\w-]+) (\S+)/.exec(
          record.statusReason ?? '',
        );
        expect(command, `a budget command in: ${record.statusReason}`).not.toBeNull();
        const [printed = '', id = '', flag = '', value = ''] = command ?? [];
        expect(id).toBe(child);
        commands.push(printed);
        const ran = spawnSync(
          process.execPath,
          [cliMain, 'sessions', 'budget', id, flag, value, '--store', db.url],
          { encoding: 'utf8', timeout: 60_000 },
        );
        expect(ran.status, ran.stderr).toBe(0);
        // Whatever the parent says next: done, or the child paused again at its new limit.
        record = await until(
          store,
          parent,
          (s) =>
            s.status === 'completed' ||
            (s.status === 'waiting' &&
              (s.statusReason ?? '').includes(child) &&
              !(s.statusReason ?? '').includes(printed)),
          `after ${printed}`,
        );
      }
      expect(record.status).toBe('completed');
      expect(commands).toEqual([
        `longrun sessions budget ${child} --tool-calls 4`,
        `longrun sessions budget ${child} --tool-calls 8`,
      ]);
      expect((await store.getSession(child)).status).toBe('completed');
    } finally {
      await parents.stop();
      for (const c of children) await c.stop();
      await store.close();
      await db.drop();
    }
  });
});
