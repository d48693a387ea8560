import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { section } from './sections.ts';

const benchMain = fileURLToPath(new URL('./main.ts', import.meta.url));

describe('bench sections', () => {
  it('gives a section its figures, or { skipped: reason } when it throws, saying so', async () => {
    const lines: string[] = [];
    expect(
      await section(
        'fine',
        () => ({ p50Ms: 1 }),
        (l) => lines.push(l),
      ),
    ).toEqual({ p50Ms: 1 });
    const failed = await section(
      'broken',
      async () => {
        throw new Error('no such tool here');
      },
      (l) => lines.push(l),
    );
    expect(failed).toEqual({ skipped: 'no such tool here' });
    expect(lines).toEqual([
      '[bench] broken: could not run (no such tool here); reported as skipped',
    ]);
  });

  it('prints the figures it measured and marks bubblewrap skipped when it is missing (exit 0)', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-bench-'));
    const r = spawnSync(process.execPath, [benchMain], {
      cwd,
      encoding: 'utf8',
      timeout: 120_000,
      env: {
        ...process.env,
        LONGRUN_BENCH_QUICK: '1',
        LONGRUN_BENCH_ONLY: 'sandbox',
        LONGRUN_BWRAP: '/nonexistent/bwrap',
      },
    });
    expect(r.status, r.stderr).toBe(0);
    const figures = JSON.parse(r.stdout) as {
      sqliteCommitBaselineMs: unknown;
      sandbox: { process: { noPool: unknown }; bwrap: { skipped?: string } };
    };
    expect(figures.sandbox.process.noPool).toBeDefined();
    expect(figures.sandbox.bwrap.skipped).toMatch(/bwrap|bubblewrap/i);
    expect(figures.sqliteCommitBaselineMs).toBeDefined();
    expect(r.stderr).toMatch(/\[bench\] sandbox, bwrap driver: could not run/);
    expect(JSON.parse(readFileSync(join(cwd, 'bench-results/latest.json'), 'utf8'))).toEqual(
      figures,
    );
  });
});
