/**
 * What the dashboard's browser suites share: one headless Chromium per test file, `longrun`
 * processes started (and killed by pid) for the file, and probes of what the page shows.
 */
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { chromiumPresent, launchChromium } from './chromium.ts';
import { startLongrun, type Child } from './child-process.ts';
import { shownTurns, type ShownTurn } from './page-probes.ts';
import { planText, reportText } from './streaming-approval-agent.ts';

export const fixture = fileURLToPath(new URL('./streaming-approval-agent.ts', import.meta.url));
/**
 * Where a run's screenshots go: test-results/screenshots/ (not tracked), or docs/screenshots/ —
 * the README's — with LONGRUN_UPDATE_SCREENSHOTS=1, so a test run leaves the checkout clean.
 */
export const screenshots = fileURLToPath(
  new URL(
    process.env.LONGRUN_UPDATE_SCREENSHOTS === '1'
      ? '../../../../docs/screenshots/'
      : '../../../../test-results/screenshots/',
    import.meta.url,
  ),
);
export const agent = 'dashboard-fixture';

export interface Harness {
  /** A fresh directory for this file's processes. */
  readonly tmp: string;
  /** Starts `longrun <args>` in `cwd`; killed in afterAll if still running. */
  longrun(args: string[], cwd: string): Child;
  /** A new tab that records uncaught page errors into `errors`. */
  newPage(errors: string[]): Promise<Page>;
  /** `longrun serve` on its own SQLite file; with `keys`, a key made by `longrun keys create`. */
  startServer(
    name: string,
    keys?: boolean,
  ): Promise<{ cwd: string; db: string; url: string; key: string | null }>;
}

/**
 * Registers the file's beforeAll/afterAll and returns the suite function to use: `describe`, or
 * `describe.skip` (said loudly, and an error with CI=true) when there is no Chromium.
 */
export function dashboardHarness(name: string): {
  suite: ReturnType<typeof describe.skipIf>;
  harness: Harness;
} {
  const browserHere = chromiumPresent(name);
  const started: Child[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'longrun-dashboard-e2e-'));
  let browser: Awaited<ReturnType<typeof launchChromium>> | null = null;
  beforeAll(async () => {
    if (!browserHere) return;
    mkdirSync(screenshots, { recursive: true });
    browser = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    for (const child of started) await child.kill();
    rmSync(tmp, { recursive: true, force: true });
  }, 60_000);
  const longrun = (args: string[], cwd: string): Child => {
    const child = startLongrun(args, cwd);
    started.push(child);
    return child;
  };
  const harness: Harness = {
    tmp,
    longrun,
    newPage: async (errors) => {
      if (browser === null) throw new Error('the browser did not start');
      const page = await browser.context.newPage();
      page.on('pageerror', (error) => errors.push(error.message));
      return page;
    },
    startServer: async (dirName, keys = false) => {
      const cwd = join(tmp, dirName);
      mkdirSync(cwd);
      const db = join(cwd, 'longrun.db');
      let key: string | null = null;
      if (keys) {
        const create = longrun(
          ['keys', 'create', '--tenant', 'default', '--role', 'admin', '--store', db],
          cwd,
        );
        key = (await create.waitForOutput(/^(lr_\S+)$/m, 60_000))[1] ?? null;
        expect(await create.exited).toBe(0);
      }
      const auth = keys ? [] : ['--no-auth'];
      const server = longrun(['serve', '--store', db, '--port', '0', ...auth], cwd);
      const url = (await server.waitForOutput(/^(http:\/\/127\.0\.0\.1:\d+)$/m, 60_000))[1] ?? '';
      return { cwd, db, url, key };
    },
  };
  return { suite: describe.skipIf(!browserHere), harness };
}

/** Every text on the page must be a prefix of its model text: samples that are not are kept. */
export async function sampleTurns(page: Page, violations: string[]): Promise<ShownTurn[]> {
  const turns = await shownTurns(page);
  for (const t of turns) {
    const expected = t.step === 1 ? planText : reportText;
    if (!expected.startsWith(t.text)) violations.push(`step ${t.step}/${t.attempt}: ${t.text}`);
  }
  return turns;
}

export function turn(turns: ShownTurn[], step: number, attempt: number): ShownTurn | undefined {
  return turns.find((t) => t.step === step && t.attempt === attempt);
}
