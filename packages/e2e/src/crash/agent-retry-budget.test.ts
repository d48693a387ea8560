import { describe, expect, it } from 'vitest';
import { sqliteTarget } from '../store-targets.ts';
import { CrashRun, ofType } from './agent-crash-run.ts';

/**
 * Worker crashes do not spend the model's retry budget: a crash mid-stream is recorded as
 * `model.failed` WORKER_STOPPED (a new attempt number), but only failures the model caused count
 * against `maxModelAttempts`. Found by the crash suites; before the fix, five kills during one
 * model call and then a single retryable provider error failed the session for good.
 */
describe('the model retry budget under worker crashes', () => {
  it(
    'five kills mid-stream and one retryable model error: the call is retried, the session completes',
    { timeout: 60_000 },
    async () => {
      const run = await CrashRun.start(sqliteTarget, { chunkDelayMs: 8, textChars: 128 });
      try {
        run.open('all');
        run.approveAsRequested();
        for (let k = 0; k < 5; k++) {
          const worker = run.spawn();
          await worker.until(
            () => worker.acked.some((a) => a.type === 'model.streamed' && a.step === 1),
            30_000,
            'a durable stream of step 1',
          );
          await worker.kill();
        }
        // This worker's first call for step 1 fails once with a retryable MODEL_UNAVAILABLE.
        await run.finish(30_000, { LONGRUN_AGENT_FAIL_STEP: '1' });
        const events = await run.events();
        const failures = ofType(events, 'model.failed').map((e) => e.data.code);
        expect(failures).toEqual([...Array<string>(5).fill('WORKER_STOPPED'), 'MODEL_UNAVAILABLE']);
        expect(ofType(events, 'session.failed').map((e) => e.data.message)).toEqual([]);
        expect(events.at(-1)?.type).toBe('session.completed');
      } finally {
        await run.close();
      }
    },
  );
});
