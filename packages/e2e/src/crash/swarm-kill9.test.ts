import { describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SessionId, StoredEvent } from '@longrun/core';
import { openStore } from '@longrun/cli';
import {
  postgresStatus,
  postgresTarget,
  sqliteTarget,
  type StoreTarget,
} from '../store-targets.ts';
import { FileLedger } from '../ledger/file-ledger.ts';

const script = fileURLToPath(new URL('./swarm-worker-process.ts', import.meta.url));
const compileCache = process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), 'longrun-e2e-compile-cache');
const members = 8;

function startWorker(
  target: StoreTarget,
  id: string,
): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(process.execPath, [script, target.url, id, target.dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      NODE_COMPILE_CACHE: compileCache,
      LONGRUN_SWARM_MEMBERS: String(members),
    },
  });
  child.stderr?.resume();
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`worker ${id} exited (${code}) before it was ready`)),
    );
  });
  return { child, ready };
}

async function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
}

const stores = [
  { name: 'sqlite', make: sqliteTarget, run: true },
  { name: 'postgres', make: postgresTarget, run: postgresStatus.ok },
];

describe.each(stores)('a swarm of sub-agents under kill -9 ($name)', ({ make, run }) => {
  it.runIf(run)(
    'resumes as a swarm: every child runs to completion once, each charge applied once, the parent gets every result',
    { timeout: 240_000 },
    async () => {
      const seed = Number(process.env.LONGRUN_SEED ?? Date.now() % 1_000_000_007);
      console.log(`[swarm-kill9] seed=${seed} (repeat with LONGRUN_SEED=${seed})`);
      let state = seed;
      const random = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
      const target = await make();
      const store = await openStore(target.url);
      const workers = ['w1', 'w2'].map((id) => ({ id, ...startWorker(target, id) }));
      let kills = 0;
      try {
        await Promise.all(workers.map((w) => w.ready));
        // A budget whose share the children get: the hold on it must be made and settled once.
        const parent = await store.createSession({
          agent: 'lead',
          input: 'run the swarm',
          budget: { toolCalls: 10 * members + 1, inputTokens: 50_000_000, subAgents: members },
        });
        const deadline = Date.now() + 180_000;
        // Kill a random worker every 0.2–0.6 s, 8 times, restarting it under the same id.
        while ((await store.getSession(parent.id)).status !== 'completed') {
          if (Date.now() > deadline) throw new Error(`the swarm did not finish (seed ${seed})`);
          await new Promise((r) => setTimeout(r, 200 + random() * 400));
          if (kills < 8) {
            const i = Math.floor(random() * workers.length);
            const w = workers[i]!;
            await killed(w.child);
            kills++;
            workers[i] = { id: w.id, ...startWorker(target, w.id) };
            await workers[i].ready;
          }
        }
        const events = await store.readEvents(parent.id, 0, 10_000);
        const results = events.filter(
          (e): e is Extract<StoredEvent, { type: 'tool.completed' }> => e.type === 'tool.completed',
        );
        expect(results, `seed ${seed}`).toHaveLength(1);
        const outputs = results[0]!.data.output as {
          sessionId: SessionId;
          status: string;
          output: string;
        }[];
        expect(outputs.map((o) => o.status)).toEqual(Array(members).fill('completed'));
        expect(outputs.map((o) => o.output).sort()).toEqual(
          Array.from({ length: members }, (_, i) => `done: task-${i}`).sort(),
        );
        // Exactly the children of the call, none started twice, each completed once.
        const children = await store.listSessions({ agent: 'member' });
        expect(children.map((c) => c.id).sort()).toEqual(outputs.map((o) => o.sessionId).sort());
        for (const child of children) {
          const childEvents = await store.readEvents(child.id, 0, 10_000);
          expect(childEvents.filter((e) => e.type === 'session.completed')).toHaveLength(1);
          expect(childEvents[0]).toMatchObject({
            type: 'session.created',
            data: { parent: { sessionId: parent.id, rootSessionId: parent.id } },
          });
        }
        // One hold on the parent's budget, settled once with what the children spent.
        const holds = events.filter(
          (e) => e.type === 'budget.reserved' && e.data.kind === 'subagent',
        );
        expect(holds, `seed ${seed}`).toHaveLength(1);
        const holdId = holds[0]?.type === 'budget.reserved' ? holds[0].data.reservationId : '';
        const settled = events.flatMap((e) =>
          e.type === 'budget.settled' && e.data.reservationId === holdId ? [e.data] : [],
        );
        expect(settled, `seed ${seed}`).toHaveLength(1);
        let childCalls = 0;
        let childInput = 0;
        for (const child of children) {
          const childEvents = await store.readEvents(child.id, 0, 10_000);
          const created = childEvents[0];
          if (created?.type === 'session.created') expect(created.data.budget?.toolCalls).toBe(10);
          for (const e of childEvents) {
            if (e.type === 'tool.started') childCalls++;
            if (e.type === 'budget.settled') childInput += e.data.inputTokens;
          }
        }
        expect(settled[0]).toMatchObject({ toolCalls: childCalls, inputTokens: childInput });
        // Every charge applied once, whatever was retried.
        const applied = new FileLedger(join(target.dir, 'ledger')).applied();
        expect(applied.map((a) => a.entry).sort(), `seed ${seed}`).toEqual(
          Array.from({ length: members }, (_, i) => [1, 2, 3].map((k) => `task-${i}#${k}`))
            .flat()
            .sort(),
        );
        console.log(`[swarm-kill9] ${kills} kills; finished (seed ${seed})`);
      } finally {
        for (const w of workers) await killed(w.child);
        await store.close();
        await target.drop();
      }
    },
  );
});
