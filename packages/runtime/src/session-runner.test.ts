import { WorkerEvents } from './worker/worker-events.ts';
import { describe, expect, it } from 'vitest';
import { ManualClock, fold, workerId, type SessionStore } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { join } from 'node:path';
import { FileLedger } from './sample/file-ledger.ts';
import { ledgerProgram } from './sample/ledger-program.ts';
import { SessionRunner } from './session-runner.ts';
import { loadState } from './load-state.ts';
import { normalizeTranscript } from './transcript.ts';
import { allEvents, runUntil, tempDir } from './testing.ts';
import type { StepProgram, ToolDefinition } from './program.ts';

async function fresh(clock?: ManualClock): Promise<{ store: SqliteStore; dir: string }> {
  const dir = tempDir('runner');
  return {
    store: await SqliteStore.open({ path: join(dir, 'db.sqlite'), ...(clock ? { clock } : {}) }),
    dir,
  };
}

async function referenceTranscript(input: object): Promise<string[]> {
  const { store, dir } = await fresh();
  const program = ledgerProgram({ dir });
  const s = await store.createSession({ agent: 'ledger', input: input as never });
  await runUntil({ store, programs: [program] }, s.id);
  const transcript = normalizeTranscript(await allEvents(store, s.id));
  await store.close();
  return transcript;
}

describe('the durable step loop', () => {
  it('runs a session to completion with two commits per step and one keyed effect per odd step', async () => {
    const { store, dir } = await fresh();
    const s = await store.createSession({ agent: 'ledger', input: { steps: 20 } });
    await runUntil({ store, programs: [ledgerProgram({ dir })] }, s.id);
    const events = await allEvents(store, s.id);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)?.type).toBe('session.completed');
    expect(events.filter((e) => e.type === 'model.responded')).toHaveLength(20);
    expect(events.filter((e) => e.type === 'tool.completed')).toHaveLength(20);
    const ledger = new FileLedger(join(dir, 'ledger'));
    expect(
      ledger
        .applied()
        .map((a) => a.entry)
        .sort(),
    ).toEqual(Array.from({ length: 10 }, (_, i) => `step-${2 * i + 1}`).sort());
    expect((await store.getSession(s.id)).status).toBe('completed');
    await store.close();
  });

  it('resumes after being stopped at every event boundary with an identical transcript', async () => {
    const reference = await referenceTranscript({ steps: 6 });
    for (let stopAfter = 1; stopAfter < reference.length - 1; stopAfter++) {
      const { store, dir } = await fresh();
      const program = ledgerProgram({ dir });
      const s = await store.createSession({ agent: 'ledger', input: { steps: 6 } });
      const lease = (await store.claim(s.id, workerId('first'), 60_000))!;
      const controller = new AbortController();
      let seen = 1;
      const events = new WorkerEvents();
      const runner = new SessionRunner({
        store,
        program,
        lease,
        signal: controller.signal,
        events,
      });
      events.on('events.committed', (c) => {
        seen += c.events.length;
        if (seen >= stopAfter + 1) controller.abort();
      });
      await runner.run().catch(() => undefined);
      await store.releaseLease(lease);
      await runUntil({ store, programs: [program] }, s.id);
      expect(
        normalizeTranscript(await allEvents(store, s.id)),
        `stopped after ${stopAfter} appends`,
      ).toEqual(reference);
      await store.close();
    }
  });

  it('re-runs a keyed call interrupted after its side effect with the same key, applying it once', async () => {
    const { store, dir } = await fresh();
    const ledger = new FileLedger(join(dir, 'effects'));
    let crash = true;
    const keyed: ToolDefinition = {
      name: 'charge',
      effect: 'keyed',
      async run(args, ctx) {
        ledger.apply(ctx.idempotencyKey, JSON.stringify(args.n));
        if (crash) {
          crash = false;
          throw new SimulatedCrash();
        }
        return { charged: args.n ?? null };
      },
    };
    const program = oneCallProgram(keyed);
    const s = await store.createSession({ agent: 'one-call', input: null });
    await runWithCrash(store, program, s.id);
    await runUntil({ store, programs: [program] }, s.id);
    expect(ledger.applied()).toHaveLength(1);
    expect([...ledger.attempts().values()]).toEqual([2]);
    expect((await store.listEffects(s.id))[0]).toMatchObject({ status: 'completed', attempts: 2 });
    const completed = (await allEvents(store, s.id)).find((e) => e.type === 'tool.completed');
    expect(completed?.data).toMatchObject({ ok: true, attempt: 2 });
  });

  it('never repeats an interrupted unsafe call without verify: it records the outcome as unknown', async () => {
    const { store } = await fresh();
    let runs = 0;
    const unsafe: ToolDefinition = {
      name: 'launch',
      effect: 'unsafe',
      async run() {
        runs++;
        throw new SimulatedCrash();
      },
    };
    const program = oneCallProgram(unsafe);
    const s = await store.createSession({ agent: 'one-call', input: null });
    await runWithCrash(store, program, s.id);
    await runUntil({ store, programs: [program] }, s.id);
    expect(runs).toBe(1);
    const types = (await allEvents(store, s.id)).map((e) => e.type);
    expect(types).toContain('tool.interrupted');
    expect((await store.listEffects(s.id))[0]?.status).toBe('unknown');
  });

  it('settles an interrupted unsafe call through verify instead of running it again', async () => {
    const { store } = await fresh();
    let runs = 0;
    const unsafe: ToolDefinition = {
      name: 'launch',
      effect: 'unsafe',
      async run() {
        runs++;
        throw new SimulatedCrash();
      },
      async verify() {
        return { applied: true, output: 'found the launch already done' };
      },
    };
    const program = oneCallProgram(unsafe);
    const s = await store.createSession({ agent: 'one-call', input: null });
    await runWithCrash(store, program, s.id);
    await runUntil({ store, programs: [program] }, s.id);
    expect(runs).toBe(1);
    const completed = (await allEvents(store, s.id)).find((e) => e.type === 'tool.completed');
    expect(completed?.data).toMatchObject({ ok: true, output: 'found the launch already done' });
  });

  it('waits on a timer holding no lease, then resumes when it is due', async () => {
    const clock = new ManualClock(Date.now());
    const { store, dir } = await fresh(clock);
    const s = await store.createSession({
      agent: 'ledger',
      input: { steps: 4, waitEvery: 2, waitMs: 60_000 },
    });
    const program = ledgerProgram({ dir, nowMs: () => clock.nowMs() });
    await runUntil({ store, programs: [program] }, s.id, ['waiting']);
    expect(await store.getSession(s.id)).toMatchObject({ status: 'waiting', leaseOwner: null });
    expect(await store.claimNext(workerId('eager'), 1000)).toBeNull();
    clock.advance(60_000);
    await runUntil({ store, programs: [program] }, s.id);
    const types = (await allEvents(store, s.id)).map((e) => e.type);
    expect(types.filter((t) => t === 'wait.resolved')).toHaveLength(1);
  });

  it('waits for a signal and resumes with its payload once it arrives', async () => {
    const { store, dir } = await fresh();
    const s = await store.createSession({ agent: 'ledger', input: { steps: 3, signalAfter: 1 } });
    const program = ledgerProgram({ dir });
    await runUntil({ store, programs: [program] }, s.id, ['waiting']);
    await store.sendSignal(s.id, 'continue', { by: 'test' });
    await runUntil({ store, programs: [program] }, s.id);
    const resolved = (await allEvents(store, s.id)).find((e) => e.type === 'wait.resolved');
    expect(resolved?.data).toMatchObject({ payload: { by: 'test' } });
    expect(await store.pendingSignals(s.id, 'continue')).toEqual([]);
  });

  it('stops a runner whose lease was taken over; none of its later writes land', async () => {
    const clock = new ManualClock(Date.now());
    const { store, dir } = await fresh(clock);
    const s = await store.createSession({ agent: 'ledger', input: { steps: 5 } });
    const program = ledgerProgram({ dir });
    const stale = (await store.claim(s.id, workerId('stale'), 1_000))!;
    clock.advance(1_000);
    const current = (await store.claim(s.id, workerId('current'), 60_000))!;
    const runner = new SessionRunner({
      store,
      program,
      lease: stale,
      signal: new AbortController().signal,
    });
    await expect(runner.run()).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect((await allEvents(store, s.id)).length).toBe(1);
    expect(current.epoch).toBe(2);
  });
});

class SimulatedCrash extends Error {}

function oneCallProgram(tool: ToolDefinition): StepProgram {
  return {
    name: 'one-call',
    tools: [tool],
    async decide(state) {
      if (state.steps === 0) {
        return {
          kind: 'tool-calls',
          text: '',
          toolCalls: [{ tool: tool.name, args: { n: 1 } }],
          usage: { inputTokens: 1, outputTokens: 1 },
        };
      }
      return { kind: 'finish', output: null };
    },
  };
}

/**
 * Runs until the tool throws SimulatedCrash, then abandons the runner as a killed process would:
 * no result is recorded and the lease is simply left to the next claimer.
 */
async function runWithCrash(store: SessionStore, program: StepProgram, id: string): Promise<void> {
  const lease = (await store.claim(id as never, workerId('doomed'), 60_000))!;
  const crashing: StepProgram = {
    ...program,
    tools: program.tools.map((t) => ({
      ...t,
      run: async (args, ctx) => {
        try {
          return await t.run(args, ctx);
        } catch (error) {
          if (error instanceof SimulatedCrash) await new Promise(() => undefined); // hangs: the "process" died
          throw error;
        }
      },
    })),
  };
  const runner = new SessionRunner({
    store,
    program: crashing,
    lease,
    signal: new AbortController().signal,
  });
  void runner.run();
  for (let i = 0; i < 200 && !(await store.listEffects(id as never)).length; i++)
    await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 20));
  await store.releaseLease(lease);
}

describe('checkpoints', () => {
  it('let a resume read only the tail of the log, one checkpoint per session', async () => {
    const { store, dir } = await fresh();
    const s = await store.createSession({ agent: 'ledger', input: { steps: 120 } });
    await runUntil({ store, programs: [ledgerProgram({ dir })], checkpointEvery: 50 }, s.id);
    const head = (await store.getSession(s.id)).headSeq;
    const checkpoint = await store.latestCheckpoint(s.id);
    expect(checkpoint?.seq).toBeGreaterThan(head - 50);
    const { state, tailEvents } = await loadState(store, s.id);
    expect(tailEvents).toBe(head - (checkpoint?.seq ?? 0));
    expect(tailEvents).toBeLessThan(50);
    // The state rebuilt from checkpoint + tail equals the fold of the whole log.
    expect(state).toEqual(fold(await allEvents(store, s.id)));
    await store.close();
  });
});
