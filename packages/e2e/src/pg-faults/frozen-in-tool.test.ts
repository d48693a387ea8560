import { expect, it } from 'vitest';
import { describeWithPrivatePostgres } from '../faults/describe-with-private-postgres.ts';
import { testSeed } from '../seeded-random.ts';
import { FaultRun } from './fault-run.ts';
import { heldBy, lateWrites } from './black-hole.ts';
import { openWindows } from './records.ts';
import { describeOverlap, overlappingWindows } from './tool-windows.ts';
import { eventually, sleep } from './tier.ts';

/**
 * A `longrun worker` frozen (SIGSTOP) while inside a tool run, past its lease and liveness
 * (`--lease-ms 3000 --liveness-ms 3000`), until its sessions are taken over; then thawed
 * (SIGCONT). Its stale writes are refused and none lands; every session completes; and — DESIGN
 * §3, one holder "under any fault, … a frozen worker" — it does not go on inside its tool run
 * once another holder runs the session.
 *
 * A frozen process does nothing, so its tool windows open at the freeze are counted as ending
 * at the freeze, on the condition checked here: at the thaw each of them ends 'aborted' at
 * once. Every timer of the process is overdue then and Node runs them in due order, so the
 * tool's own timer can come before the lease keeper's deadline; the tool asks `holding()`
 * (the worker's clocks) after its wait, and the worker's 50 ms watch aborts its signal.
 */
describeWithPrivatePostgres('a longrun worker frozen inside a tool run', () => {
  it('is fenced after the takeover: none of its writes land', { timeout: 180_000 }, async () => {
    const seed = testSeed('frozen-in-tool');
    const run = await FaultRun.start({
      label: 'frozen-in-tool',
      seed,
      cliWorkers: 2,
      library: true,
      proxied: false,
      leaseMs: 3_000,
      libraryLivenessMs: 3_000,
      cliLivenessMs: 3_000,
      activeSessions: 10,
      steps: 12,
      toolMs: [300, 400],
      concurrency: 4,
    });
    let passed = false;
    try {
      run.feed(30_000);
      const victim = run.workers[0]!;
      const inTool = await eventually(() => openWindows(run.dir, victim.pid).length > 0, 30_000);
      expect(inTool).toBe(true);
      const held = await heldBy(run, victim.workerId ?? '');
      victim.child.kill('SIGSTOP');
      const frozenAt = Date.now();
      const freezeNs = process.hrtime.bigint();
      const moved = async (): Promise<boolean> =>
        (await run.observer.records([...held.keys()])).every(
          (r) => r.leaseEpoch > (held.get(String(r.id)) ?? 0),
        );
      for (let i = 0; i < 200 && !(await moved()); i++) await sleep(100);
      await sleep(2_000);
      const thawedAt = Date.now();
      const thawNs = process.hrtime.bigint();
      victim.child.kill('SIGCONT');
      await sleep(3_000);
      const { verdict, facts, drained } = await run.finish(120_000);
      const late = lateWrites(
        { held, healedAtMs: thawedAt } as Parameters<typeof lateWrites>[0],
        facts.events,
      );
      const afterThaw = facts.tools.windows.filter(
        (w) => w.pid === victim.pid && w.startWallMs < frozenAt && (w.endNs ?? 0n) > freezeNs,
      );
      console.log(
        `[frozen-in-tool] seed=${seed} frozen ${thawedAt - frozenAt} ms holding ${held.size} sessions; ` +
          `its tool runs open at the freeze ended as: ${afterThaw.map((w) => w.how).join(', ')}; ` +
          `violations: ${verdict.violations.length}\n${verdict.violations.slice(0, 10).join('\n')}`,
      );
      expect(late.map((e) => `${e.sessionId} ${e.seq} ${e.type}`)).toEqual([]);
      expect(drained, `seed=${seed}: every session settles`).toBe(true);
      expect(afterThaw.length, 'tool runs were open at the freeze').toBeGreaterThan(0);
      for (const w of afterThaw) {
        expect(w.how, `seed=${seed}: a frozen tool run stops at the thaw`).toBe('aborted');
        const afterThawMs = Number((w.endNs ?? 0n) - thawNs) / 1e6;
        expect(afterThawMs, `seed=${seed}: and at once`).toBeLessThan(500);
      }
      // Counted as ending at the freeze (the process ran nothing until the thaw, then stopped).
      const frozen = new Set(afterThaw);
      const windows = facts.tools.windows.map((w) =>
        frozen.has(w) ? { ...w, endNs: freezeNs } : w,
      );
      const overlaps = overlappingWindows(windows, facts.deathNs, facts.nowNs);
      expect(overlaps.map(describeOverlap), `seed=${seed}: one holder`).toEqual([]);
      const others = verdict.violations.filter((line) => !line.startsWith('two holders:'));
      expect(others.slice(0, 20), `seed=${seed}`).toEqual([]);
      passed = true;
    } finally {
      await run.close(!passed);
    }
  });
});
