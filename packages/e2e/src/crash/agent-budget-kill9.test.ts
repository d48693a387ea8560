import { describe, expect, it } from 'vitest';
import { chargedSpend, fold, type StoredEvent } from '@longrun/core';
import { targets } from '../store-targets.ts';
import { CrashRun, checkRun, ofType, sleep } from './agent-crash-run.ts';

/**
 * kill -9 of a worker around a budget's reservation (issue 14, "Prove it"): between the
 * reservation and the model call, and between the call's answer and its settlement. The
 * invariants: no call goes out uncharged (every request the model received was reserved first),
 * none is charged twice (each reservation settled exactly once; the charge is the sum of the
 * settlements), and a reservation whose worker died stays charged at its projection.
 */
const budgetEnv = {
  LONGRUN_AGENT_BUDGET: JSON.stringify({ costUsd: 1_000, steps: 500 }),
  // The tenant's day is charged by the same calls: it must agree with the log.
  LONGRUN_TENANT_DAILY_BUDGET: JSON.stringify({ costUsd: 1_000_000 }),
};
const kills = 3;

function checkCharges(events: StoredEvent[], requestsByStep: Map<number, number>, context: string) {
  const reserved = ofType(events, 'budget.reserved');
  const settled = ofType(events, 'budget.settled');
  const ids = settled.map((e) => e.data.reservationId);
  expect(new Set(ids).size, `${context}: no reservation settled twice`).toBe(ids.length);
  expect(new Set(ids), `${context}: every reservation settled, and only reservations`).toEqual(
    new Set(reserved.map((e) => e.data.reservationId)),
  );
  // Each settlement comes after its reservation.
  for (const s of settled) {
    const r = reserved.find((e) => e.data.reservationId === s.data.reservationId);
    expect(
      r !== undefined && r.seq < s.seq,
      `${context}: ${s.data.reservationId} reserved first`,
    ).toBe(true);
  }
  // No call uncharged: at every step, at least as many reservations as requests the model got.
  for (const [step, requests] of requestsByStep) {
    const forStep = reserved.filter((e) => e.data.kind === 'step' && e.data.step === step).length;
    expect(forStep, `${context}: step ${step} got ${requests} requests`).toBeGreaterThanOrEqual(
      requests,
    );
  }
  const ledger = fold(events).budget;
  expect(ledger?.open, `${context}: nothing left open`).toEqual([]);
  const sum = settled.reduce((n, e) => n + e.data.costUsd, 0);
  expect(chargedSpend(ledger!).costUsd, `${context}: charged = the settlements`).toBeCloseTo(
    sum,
    9,
  );
  const interrupted = settled.filter((e) => e.data.outcome === 'interrupted');
  for (const s of interrupted) {
    const r = reserved.find((e) => e.data.reservationId === s.data.reservationId)!;
    expect(s.data.costUsd, `${context}: an interrupted call stays charged at its projection`).toBe(
      r.data.costUsd,
    );
    expect(s.data.costUsd).toBeGreaterThan(0);
  }
  return { reserved, settled, interrupted };
}

function requestsByStep(run: CrashRun): Map<number, number> {
  const counts = new Map<number, number>();
  for (const r of run.requests()) counts.set(r.step, (counts.get(r.step) ?? 0) + 1);
  return counts;
}

for (const target of targets) {
  describe.runIf(target.run)(`kill -9 around a budget reservation, ${target.name}`, () => {
    it('between the reservation and the call: the call is never made uncharged, the reservation stays charged once', async () => {
      const run = await CrashRun.start(target.make, { chunkDelayMs: 0, textChars: 48 });
      try {
        run.open('all');
        run.approveAsRequested();
        for (let k = 0; k < kills; k++) {
          // Dies the moment its first reservation is committed: before the model call is sent.
          const worker = run.spawn({ ...budgetEnv, LONGRUN_AGENT_DIE_AT: 'budget.reserved' });
          await worker.exited;
          expect((await run.events()).at(-1)?.type).toBe('budget.reserved');
        }
        const requestsBefore = run.requests().length;
        await run.finish(60_000, budgetEnv);
        const events = await checkRun(run, 'kill after a reservation');
        const { reserved, interrupted } = checkCharges(
          events,
          requestsByStep(run),
          'kill after a reservation',
        );
        // The killed reservations had no call: every other reservation had exactly one.
        expect(interrupted).toHaveLength(kills);
        expect(reserved.length).toBe(run.requests().length + kills);
        expect(requestsBefore).toBe(0);
      } finally {
        await run.close();
      }
    }, 180_000);

    it('between the call and its settlement: the answered call stays charged at its reservation, once', async () => {
      const run = await CrashRun.start(target.make, { chunkDelayMs: 0, textChars: 48 });
      try {
        run.open('all');
        run.approveAsRequested();
        for (let k = 0; k < kills; k++) {
          // Dies when its first model call has answered, before the answer (and its settlement)
          // is recorded.
          const worker = run.spawn({ ...budgetEnv, LONGRUN_AGENT_DIE_AFTER_CALL: '1' });
          await worker.exited;
        }
        expect(run.requests().length).toBe(kills);
        await run.finish(60_000, budgetEnv);
        const events = await checkRun(run, 'kill after a call');
        const { reserved, interrupted } = checkCharges(
          events,
          requestsByStep(run),
          'kill after a call',
        );
        // Every call the model answered was reserved, the killed ones included.
        expect(interrupted).toHaveLength(kills);
        expect(reserved.length).toBe(run.requests().length);
      } finally {
        await run.close();
      }
    }, 180_000);

    it('at random points of both kinds (seeded): every call charged, none twice', async () => {
      const seed = Number(process.env.LONGRUN_CRASH_SEED ?? Math.floor(Math.random() * 1_000_000));
      console.log(
        `[budget kill -9] ${target.name} seed ${seed} (LONGRUN_CRASH_SEED=${seed} replays it)`,
      );
      let x = seed || 1;
      const random = (n: number): number => {
        x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
        return x % n;
      };
      const run = await CrashRun.start(target.make, { chunkDelayMs: 0, textChars: 48 });
      try {
        run.open('all');
        run.approveAsRequested();
        const plan: string[] = [];
        for (let k = 0; k < 4; k++) {
          const afterCall = random(2) === 0;
          const nth = String(1 + random(3));
          const env: Record<string, string> = afterCall
            ? { LONGRUN_AGENT_DIE_AFTER_CALL: nth }
            : { LONGRUN_AGENT_DIE_AT: 'budget.reserved' };
          const worker = run.spawn({ ...budgetEnv, ...env });
          // A worker that finishes the session before its crash point is stopped, not counted.
          const deadline = Date.now() + 60_000;
          while (!worker.dead && !(await run.terminal()) && Date.now() < deadline) await sleep(20);
          if (!worker.dead) {
            if (!(await run.terminal())) throw new Error(`seed ${seed}: no crash and no end`);
            await worker.kill();
            break;
          }
          plan.push(afterCall ? `after call ${nth}` : 'after a reservation');
          if (await run.terminal()) break;
        }
        await run.finish(60_000, budgetEnv);
        const context = `seed ${seed}: ${plan.join(', ')}`;
        const events = await checkRun(run, context);
        const { reserved, interrupted } = checkCharges(events, requestsByStep(run), context);
        expect(interrupted.length, context).toBe(plan.length);
        const emptyReservations = plan.filter((p) => p === 'after a reservation').length;
        expect(reserved.length, context).toBe(run.requests().length + emptyReservations);
        // The tenant's day: each reservation charged once, at what the log settled it for.
        const day = await run.store.tenantSpend.daySpend('default');
        expect(day.calls, context).toBe(reserved.length);
        const settledUsd = ofType(events, 'budget.settled').reduce((n, e) => n + e.data.costUsd, 0);
        expect(day.costUsd, context).toBeCloseTo(settledUsd, 9);
      } finally {
        await run.close();
      }
    }, 180_000);
  });
}
