import { describe, expect, it } from 'vitest';
import { targets } from '../store-targets.ts';
import { CrashRun, checkRun, ofType, sleep } from './agent-crash-run.ts';

/**
 * kill -9 of a worker running an agent that declares an outcome (issue 13, "Prove it"): during
 * an evaluation, and between a verdict and the next turn. The crash agent's evaluator fails its
 * last answer once and passes the revised one (agent-worker-process.ts). Every run keeps the
 * invariants of `checkRun`, and no verdict is lost or recorded twice: an evaluation cut by the
 * kill is made again; one whose verdict was committed never is.
 */
for (const target of targets) {
  describe.runIf(target.run)(`kill -9 around an outcome's evaluation, ${target.name}`, () => {
    const evaluatorRequests = (run: CrashRun): number =>
      run
        .file('evaluator-requests.jsonl')
        .split('\n')
        .filter((l) => l !== '').length;

    async function verdictsOf(run: CrashRun, context: string) {
      const events = await checkRun(run, context);
      const evaluated = ofType(events, 'outcome.evaluated');
      expect(
        evaluated.map((e) => [e.data.iteration, e.data.passed, e.data.continues]),
        `${context}: one verdict per evaluation, none twice`,
      ).toEqual([
        [1, false, true],
        [2, true, false],
      ]);
      expect(ofType(events, 'session.completed')[0]?.data.outcome, context).toBe('satisfied');
      // The feedback reached the agent: the request for the revised answer holds it.
      const revision = run.requests().filter((r) => r.step === run.steps);
      expect(revision.length, context).toBeGreaterThan(0);
      for (const r of revision) {
        expect(r.messages.at(-1), context).toMatchObject({
          role: 'user',
          content: expect.stringMatching(/\[FAIL\] the answer is revised after feedback/) as string,
        });
      }
      return events;
    }

    it('between a verdict and the next turn: the verdict stands and is never asked again', async () => {
      const run = await CrashRun.start(target.make, {
        chunkDelayMs: 0,
        textChars: 48,
        outcome: true,
      });
      try {
        run.open('all');
        run.approveAsRequested();
        const worker = run.spawn({ LONGRUN_AGENT_DIE_AT: 'outcome.evaluated' });
        await worker.exited;
        const events = await run.events();
        expect(events.at(-1)?.type, 'killed right after the verdict committed').toBe(
          'outcome.evaluated',
        );
        expect(evaluatorRequests(run)).toBe(1);
        await run.finish();
        await verdictsOf(run, 'kill after the verdict');
        // The second evaluation only: the first verdict was read from the log, not asked again.
        expect(evaluatorRequests(run)).toBe(2);
      } finally {
        await run.close();
      }
    }, 120_000);

    it('during an evaluation: nothing of it was recorded, and it is made again', async () => {
      const run = await CrashRun.start(target.make, {
        chunkDelayMs: 0,
        textChars: 48,
        outcome: true,
      });
      try {
        run.open('all');
        run.approveAsRequested();
        const worker = run.spawn({ LONGRUN_AGENT_EVALUATOR_DELAY_MS: '60000' });
        // The evaluator writes its request down, then takes a minute to answer: kill it then.
        const deadline = Date.now() + 60_000;
        while (evaluatorRequests(run) === 0) {
          if (worker.dead || Date.now() > deadline)
            throw new Error(`the evaluator was never asked\n${worker.stderr.slice(-2000)}`);
          await sleep(10);
        }
        await worker.kill();
        const events = await run.events();
        expect(ofType(events, 'outcome.evaluated')).toEqual([]);
        expect(events.at(-1)?.type, 'the answer being evaluated is the last event').toBe(
          'model.responded',
        );
        await run.finish(60_000, { LONGRUN_AGENT_EVALUATOR_DELAY_MS: '0' });
        await verdictsOf(run, 'kill during the evaluation');
        // The cut evaluation, its repeat, and the evaluation of the revised answer.
        expect(evaluatorRequests(run)).toBe(3);
      } finally {
        await run.close();
      }
    }, 120_000);
  });
}
