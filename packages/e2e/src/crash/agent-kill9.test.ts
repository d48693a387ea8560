import { describe, expect, it } from 'vitest';
import { approvalSignal } from '@longrun/runtime';
import { join } from 'node:path';
import type { StoredEvent } from '@longrun/core';
import { seededRandom, testSeed } from '../seeded-random.ts';
import { targets } from '../store-targets.ts';
import { FileLedger } from '../ledger/file-ledger.ts';
import { scriptSteps, scriptText, toolNames } from './agent-script.ts';
import {
  CrashRun,
  checkRun,
  landing,
  ofType,
  reconnectingReader,
  sleep,
  type Of,
} from './agent-crash-run.ts';

/**
 * kill -9 of a worker running an agent (issue 3, "Prove it"; DESIGN §4 and §5), on SQLite and
 * Postgres: during a model stream, between tool.started and tool.completed for each effect class,
 * during an approval wait and around the grant, at seeded random instants, and under a reader that
 * reconnects. Every run must keep the invariants of `checkRun`: the session completes, no
 * acknowledged event is lost, seq is contiguous, keyed effects are applied once per key, an unsafe
 * call without verify never runs twice, and the model only ever sees whole responses with every
 * tool call answered. Soak: LONGRUN_AGENT_KILL_RUNS / LONGRUN_AGENT_KILLS_PER_RUN; repeat a run
 * with the printed LONGRUN_SEED.
 */
const randomRuns = Number(process.env.LONGRUN_AGENT_KILL_RUNS ?? 5);
const killsPerRun = Number(process.env.LONGRUN_AGENT_KILLS_PER_RUN ?? 5);

for (const target of targets) {
  describe.runIf(target.run)(`kill -9 of an agent worker, ${target.name}`, () => {
    const seed = testSeed(`agent-kill9-${target.name}`);

    it('during a model stream: the attempt is superseded (WORKER_STOPPED) and the call made again on the same transcript', async () => {
      const run = await CrashRun.start(target.make, { chunkDelayMs: 8, textChars: 128 });
      try {
        run.open('all');
        run.approveAsRequested();
        for (const step of [1, 3]) {
          const worker = run.spawn();
          await worker.until(
            () => worker.acked.some((a) => a.type === 'model.streamed' && a.step === step),
            30_000,
            `model.streamed of step ${step}`,
          );
          await worker.kill();
          const events = await run.events();
          const last = events.at(-1);
          expect(last?.type, 'killed mid-stream: streamed text is the last durable event').toBe(
            'model.streamed',
          );
          expect(ofType(events, 'model.responded').some((r) => r.data.step === step)).toBe(false);
        }
        await run.finish();
        const events = await checkRun(run, `seed=${seed}`);

        for (const step of [1, 3]) {
          const ofStep = events.filter(
            (e) =>
              (e.type === 'model.requested' ||
                e.type === 'model.streamed' ||
                e.type === 'model.failed' ||
                e.type === 'model.responded') &&
              e.data.step === step,
          );
          const shape = ofStep.map((e) => `${e.type}#${(e.data as { attempt?: number }).attempt}`);
          const firstAttempt = shape.filter((s) => s.endsWith('#1'));
          expect(firstAttempt[0]).toBe('model.requested#1');
          expect(firstAttempt.at(-1)).toBe('model.failed#1');
          expect(firstAttempt.slice(1, -1).every((s) => s === 'model.streamed#1')).toBe(true);
          expect(firstAttempt.length).toBeGreaterThanOrEqual(3);
          expect(shape.at(-1)).toBe('model.responded#2');
          const failed = ofType(ofStep, 'model.failed')[0]!;
          expect(failed.data).toMatchObject({
            attempt: 1,
            code: 'WORKER_STOPPED',
            retryable: true,
          });
          // The superseded text was a real part of the answer, cut short.
          const superseded = ofType(ofStep, 'model.streamed')
            .filter((s) => s.data.attempt === 1)
            .map((s) => s.data.text)
            .join('');
          expect(superseded.length).toBeGreaterThan(0);
          expect(superseded.length).toBeLessThan(scriptText(step, 128).length);
          // The model got the very same transcript on both attempts.
          const requests = run.requests().filter((r) => r.step === step);
          expect(requests.length).toBe(2);
          expect(requests[1]!.messages).toEqual(requests[0]!.messages);
          expect(requests[1]!.pid).not.toBe(requests[0]!.pid);
        }
        expect(ofType(events, 'model.failed').length).toBe(2);
      } finally {
        await run.close();
      }
    });

    it('between tool.started and tool.completed, by effect class: re-run, re-run with the key, or settled without re-running', async () => {
      const run = await CrashRun.start(target.make, { chunkDelayMs: 1, textChars: 48 });
      try {
        run.open(toolNames.approval);
        run.approveAsRequested();
        const order = [
          toolNames.pure,
          toolNames.idempotent,
          toolNames.keyed,
          toolNames.unsafe,
          toolNames.unsafeVerified,
        ];
        for (const tool of order) {
          const worker = run.spawn();
          await worker.until(
            () => worker.effects.some((e) => e.tool === tool),
            30_000,
            `the effect of ${tool}`,
          );
          await worker.kill();
          const events = await run.events();
          const started = ofType(events, 'tool.started').filter((e) => e.data.tool === tool);
          expect(started.length, `${tool} started once`).toBe(1);
          expect(
            events.filter(
              (e) =>
                (e.type === 'tool.completed' || e.type === 'tool.interrupted') &&
                e.data.tool === tool,
            ),
            `${tool} was killed before its result`,
          ).toEqual([]);
          run.open(tool);
        }
        await run.finish();
        const events = await checkRun(run, `seed=${seed}`);
        const completed = (step: number): Of<'tool.completed'> | undefined =>
          ofType(events, 'tool.completed').find(
            (e) => e.data.step === step && e.data.callIndex === 0,
          );
        const effects = new Map(
          (await run.store.listEffects(run.sessionId)).map((r) => [r.idempotencyKey, r]),
        );

        // pure and idempotent: run again.
        expect(run.runs(run.key(1, 0)).length).toBe(2);
        expect(completed(1)?.data).toMatchObject({ ok: true, output: 5, attempt: 2 });
        expect(run.runs(run.key(2, 0)).length).toBe(2);
        expect(completed(2)?.data).toMatchObject({
          ok: true,
          output: { written: 'plan' },
          attempt: 2,
        });
        expect(run.file('notes/plan')).toBe('charge, email, transfer, deploy');

        // keyed: run again with the same key; the ledger applied it once.
        const chargeKey = run.key(3, 0);
        expect(run.runs(chargeKey).map((l) => l[2])).toEqual([chargeKey, chargeKey]);
        const ledger = new FileLedger(join(run.dir, 'ledger'));
        expect(ledger.attempts().get(chargeKey)).toBe(2);
        expect(ledger.applied().filter((a) => a.key === chargeKey)).toEqual([
          { key: chargeKey, entry: 'charge 42' },
        ]);
        expect(completed(3)?.data).toMatchObject({
          ok: true,
          output: { charged: 42, appliedNow: false },
          attempt: 2,
        });

        // unsafe without verify: not run again; recorded as unknown; the model is told.
        const emailKey = run.key(4, 0);
        expect(run.lines('unsafe-attempts.log').filter((l) => l[0] === emailKey).length).toBe(1);
        expect(run.runs(emailKey).length).toBe(1);
        expect(completed(4)).toBeUndefined();
        expect(ofType(events, 'tool.interrupted').map((e) => e.data)).toEqual([
          { step: 4, callIndex: 0, tool: toolNames.unsafe, outcome: 'unknown' },
        ]);
        expect(effects.get(emailKey)).toMatchObject({ status: 'unknown', attempts: 1 });
        const step5 = run.requests().find((r) => r.step === 5)!;
        expect(step5.messages.at(-1)).toMatchObject({
          role: 'tool',
          results: [
            {
              id: 's4c0',
              isError: true,
              output: expect.stringMatching(/outcome unknown/) as string,
            },
          ],
        });

        // unsafe with verify: verify found it applied; not run again.
        const transferKey = run.key(5, 0);
        expect(run.runs(transferKey).length).toBe(1);
        expect(
          run
            .lines('calls.log')
            .filter((l) => l[0] === 'verify')
            .map((l) => [l[2], l[3]]),
        ).toEqual([[transferKey, 'true']]);
        expect(new FileLedger(join(run.dir, 'transfers')).attempts().get(transferKey)).toBe(1);
        expect(completed(5)?.data).toMatchObject({ ok: true, output: { transferred: 7 } });
        expect(effects.get(transferKey)).toMatchObject({ status: 'completed', attempts: 1 });

        for (const [key, attempts] of [
          [run.key(1, 0), 2],
          [run.key(2, 0), 2],
          [chargeKey, 2],
        ] as const) {
          expect(effects.get(key)).toMatchObject({ status: 'completed', attempts });
        }
      } finally {
        await run.close();
      }
    });

    it('during an approval wait, right after the grant, and while the approved call runs: it runs once, approved once', async () => {
      const run = await CrashRun.start(target.make, { chunkDelayMs: 1, textChars: 48 });
      try {
        for (const tool of Object.values(toolNames))
          if (tool !== toolNames.approval) run.open(tool);
        // 1. Killed while waiting: nothing runs; the wait is a row, not a process.
        const first = run.spawn();
        await first.until(() => first.acked.some((a) => a.type === 'wait.started'), 30_000, 'wait');
        await first.kill();
        const waiting = await run.store.getSession(run.sessionId);
        const [request] = ofType(await run.events(), 'approval.requested');
        expect(waiting).toMatchObject({
          status: 'waiting',
          leaseOwner: null,
          waitingFor: approvalSignal(request!.data.approvalId),
        });
        expect(request!.data).toMatchObject({ step: 6, callIndex: 0, tool: toolNames.approval });

        // 2. A new worker; the grant arrives; it dies the moment approval.granted is durable.
        const second = run.spawn({ LONGRUN_AGENT_DIE_AT: 'approval.granted' });
        await second.ready();
        expect(second.acked).toEqual([]);
        await run.grant(request!);
        await second.until(() => second.dead, 30_000, 'death at approval.granted');
        let events = await run.events();
        expect(events.at(-1)?.type).toBe('approval.granted');

        // 3. The next worker runs the approved call without asking again; killed mid-run.
        const third = run.spawn();
        await third.until(
          () => third.effects.some((e) => e.tool === toolNames.approval),
          30_000,
          'the approved call running',
        );
        await third.kill();
        events = await run.events();
        expect(events.at(-1)).toMatchObject({
          type: 'tool.started',
          data: { tool: toolNames.approval },
        });

        run.open(toolNames.approval);
        await run.finish();
        events = await checkRun(run, `seed=${seed}`);
        expect(ofType(events, 'approval.requested').length).toBe(1);
        expect(ofType(events, 'approval.granted').map((e) => e.data)).toEqual([
          { approvalId: request!.data.approvalId, by: 'test', reason: null, scope: 'call' },
        ]);
        expect(ofType(events, 'approval.denied')).toEqual([]);
        const deployKey = run.key(6, 0);
        // Re-run after the crash with the same key (it is keyed): applied once.
        expect(run.runs(deployKey).map((l) => l[2])).toEqual([deployKey, deployKey]);
        const ledger = new FileLedger(join(run.dir, 'ledger'));
        expect(ledger.applied().filter((a) => a.key === deployKey)).toEqual([
          { key: deployKey, entry: 'deploy api' },
        ]);
        expect(
          ofType(events, 'tool.completed').find((e) => e.data.tool === toolNames.approval)?.data,
        ).toMatchObject({ ok: true, output: { deployed: 'api', appliedNow: false } });
      } finally {
        await run.close();
      }
    });

    it(
      `at seeded random instants: ${randomRuns} runs x ${killsPerRun} kills`,
      { timeout: 600_000 },
      async () => {
        const random = seededRandom(seed);
        const landings = new Map<string, number>();
        let midRunKills = 0;
        for (let r = 0; r < randomRuns; r++) {
          // Streams of ~150, ~400 and ~600 ms: none, one or two durable flushes (every 250 ms).
          const chunkDelayMs = [2, 6, 9][Math.floor(random() * 3)] ?? 6;
          const run = await CrashRun.start(target.make, {
            chunkDelayMs,
            textChars: 128,
            toolHoldMs: 30,
          });
          const context = `seed=${seed} run=${r} chunkDelayMs=${chunkDelayMs}`;
          try {
            run.open('all');
            run.approveAsRequested(seededRandom(seed + 100 + r), 600);
            for (let k = 0; k < killsPerRun; k++) {
              if (await run.terminal()) break;
              const worker = run.spawn();
              await worker.until(
                () => worker.acked.length > 0 || worker.endedWith(run.sessionId),
                30_000,
                `first ack (${context})`,
              );
              await sleep(random() * 500);
              const at = landing(worker.acked.at(-1));
              await worker.kill();
              if (!(await run.terminal())) {
                midRunKills++;
                landings.set(at, (landings.get(at) ?? 0) + 1);
              }
            }
            await run.finish();
            await checkRun(run, context);
          } finally {
            await run.close();
          }
        }
        console.log(
          `[agent-kill9-${target.name}] ${midRunKills}/${randomRuns * killsPerRun} kills mid-run; landed: ${JSON.stringify(Object.fromEntries(landings))}`,
        );
        expect(midRunKills).toBeGreaterThanOrEqual(Math.ceil((randomRuns * killsPerRun) / 2));
      },
    );

    it('readers that reconnect get every durable token once, in order, across worker kills', async () => {
      const random = seededRandom(seed + 1);
      const run = await CrashRun.start(target.make, { chunkDelayMs: 8, textChars: 128 });
      try {
        run.open('all');
        run.approveAsRequested();
        const reader = reconnectingReader(run.target.url, run.sessionId, seededRandom(seed + 2));
        const killSteps = [1 + Math.floor(random() * 3), 4 + Math.floor(random() * 2), 7];
        for (const step of killSteps) {
          const worker = run.spawn();
          await worker.until(
            () => worker.acked.some((a) => a.type === 'model.streamed' && (a.step ?? 0) >= step),
            30_000,
            `model.streamed of step ${step}`,
          );
          await worker.kill();
        }
        await run.finish();
        const got = await reader;
        const events = await checkRun(run, `seed=${seed}`);
        const tokens = (list: StoredEvent[]): string[] =>
          list
            .filter((e) => e.type === 'model.streamed' || e.type === 'model.failed')
            .map((e) => `${e.seq} ${e.type} ${JSON.stringify(e.data)}`);
        expect(tokens(got.events), `seed=${seed}: the reader's tokens`).toEqual(tokens(events));
        expect(ofType(events, 'model.failed').length).toBe(killSteps.length);
        expect(ofType(events, 'model.streamed').length).toBeGreaterThan(scriptSteps);
        expect(got.connections, 'the reader reconnected many times').toBeGreaterThanOrEqual(5);
        console.log(
          `[agent-kill9-${target.name}] reader: ${got.connections} connections, ${ofType(events, 'model.streamed').length} streamed events`,
        );
      } finally {
        await run.close();
      }
    });
  });
}
