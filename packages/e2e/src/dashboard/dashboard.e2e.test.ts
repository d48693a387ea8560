/**
 * The dashboard end to end: headless Chromium against `longrun serve` and `longrun worker`, each
 * a real process on one SQLite file. The worker is killed with SIGKILL in the middle of a
 * streamed text and a new one resumes the session.
 *
 * Invariants checked: the session's status shows before its first token; the text grows while
 * it streams; at every sample, every text on the page is a prefix of what the model says (no
 * fragment ever shows twice); after the crash the cut attempt is marked superseded, a "resumed"
 * marker shows, and the final texts equal the model's texts exactly, each sentence once.
 * A session parked as paused shows why, and its Resume button brings it back.
 * Screenshots of the run go to test-results/screenshots/ (docs/screenshots/, the README's, with
 * LONGRUN_UPDATE_SCREENSHOTS=1).
 */
import { beforeAll, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { sessionId, workerId, type SessionId } from '@longrun/core';
import { openStore } from '@longrun/cli';
import { waitFor, type Child } from './child-process.ts';
import {
  agent,
  dashboardHarness,
  fixture,
  sampleTurns,
  screenshots,
  turn,
} from './dashboard-harness.ts';
import {
  dataOf,
  firstAppearances,
  scrollTo,
  sessionStatus,
  watchFirstAppearances,
} from './page-probes.ts';
import { planText, reportText } from './streaming-approval-agent.ts';

const { suite, harness } = dashboardHarness('dashboard end-to-end suite');

suite('the dashboard in headless Chromium, against a server and workers as processes', () => {
  const pageErrors: string[] = [];
  let page: Page;
  let baseUrl = '';
  let cwd = '';
  let db = '';

  const startWorker = (): Child =>
    harness.longrun(['worker', '--store', db, '--agents', fixture], cwd);
  const api = async <T>(path: string, body?: unknown): Promise<T> => {
    const init: RequestInit =
      body === undefined
        ? {}
        : {
            method: 'POST',
            body: JSON.stringify(body),
            headers: { 'content-type': 'application/json' },
          };
    const response = await fetch(`${baseUrl}${path}`, init);
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  const shoot = (name: string) => page.screenshot({ path: join(screenshots, `${name}.png`) });

  beforeAll(async () => {
    ({ cwd, db, url: baseUrl } = await harness.startServer('no-keys'));
    page = await harness.newPage(pageErrors);
  }, 120_000);

  /** The worker running the fixture agent now (the first test's second one, then the last's). */
  let worker: Child | null = null;
  const violations: string[] = [];
  const sample = () => sampleTurns(page, violations);
  /** Sessions the first test made, for the second. */
  const sessionIds: string[] = [];

  it('streams, takes an approval, survives kill -9 of its worker and shows every token once', async () => {
    const firstWorker = startWorker();
    await firstWorker.waitForOutput(/worker started/, 60_000);
    await page.goto(`${baseUrl}/#/sessions`);
    await page.waitForSelector('[data-testid="sessions-table"]', { timeout: 60_000 });
    await watchFirstAppearances(page);

    // Start the session from the page's form.
    await page.click('[data-testid="new-session-toggle"]');
    await page.fill('[data-testid="new-session-agent"]', agent);
    await page.fill('[data-testid="new-session-message"]', 'Roll out api, then verify it.');
    await page.click('[data-testid="new-session-submit"]');
    await page.waitForURL(/#\/sessions\/ses_/, { timeout: 30_000 });
    const sessionId = decodeURIComponent(/#\/sessions\/([^/]+)/.exec(page.url())?.[1] ?? '');
    sessionIds.push(sessionId);

    // The plan streams in: the text grows over time, and the status was there before it.
    const lengths: number[] = [];
    let streamingShot = false;
    await waitFor(
      'the first model turn to complete',
      async () => {
        const first = turn(await sample(), 1, 1);
        if (first?.state === 'streaming' && first.text.length !== lengths.at(-1)) {
          lengths.push(first.text.length);
          if (!streamingShot && first.text.length > planText.length * 0.4) {
            streamingShot = true;
            await shoot('session-streaming');
          }
        }
        return first?.state === 'responded' ? first : undefined;
      },
      90_000,
      50,
    );
    expect(
      lengths.length,
      `text lengths seen while streaming: ${lengths.join(', ')}`,
    ).toBeGreaterThanOrEqual(3);
    expect(lengths.every((n, i) => i === 0 || n > (lengths[i - 1] ?? 0))).toBe(true);
    expect(lengths.at(-1)).toBeLessThan(planText.length);
    const firsts = await firstAppearances(page);
    expect(firsts.status, 'status badge shown').toBeGreaterThan(0);
    expect(firsts.status).toBeLessThan(firsts.text ?? Infinity);

    // The approval shows inline, and in the inbox with a link to the session.
    const approve = page.locator(
      '[data-testid="approval"][data-state="requested"] [data-testid="approve"]',
    );
    await approve.waitFor({ timeout: 60_000 });
    expect(await sessionStatus(page)).toBe('waiting');
    await page
      .locator('[data-testid="nav-approvals-count"]', { hasText: /^1$/ })
      .waitFor({ timeout: 30_000 });
    await page.locator('[data-testid="approval"]').scrollIntoViewIfNeeded();
    await shoot('session-approval');
    const inbox = await harness.newPage(pageErrors);
    await inbox.goto(`${baseUrl}/#/approvals`);
    const link = inbox.locator('[data-testid="inbox-approval"] [data-testid="inbox-session-link"]');
    await link.first().waitFor({ timeout: 30_000 });
    expect(await link.first().getAttribute('href')).toBe(`#/sessions/${sessionId}`);
    await inbox.close();
    // Approved for this tool with these arguments for the rest of the session.
    await page
      .locator('[data-testid="approval"][data-state="requested"] [data-testid="approval-scope"]')
      .selectOption('arguments');
    await approve.click();
    await page
      .locator('[data-testid="approval"][data-state="granted"]')
      .waitFor({ timeout: 60_000 });
    const decided = await openStore(db);
    try {
      const granted = (await decided.readEvents(sessionId as SessionId)).find(
        (e) => e.type === 'approval.granted',
      );
      expect(granted?.data).toMatchObject({ by: 'api', scope: 'arguments' });
    } finally {
      await decided.close();
    }

    // The report streams; the worker is killed with SIGKILL in the middle of it.
    const cut = await waitFor(
      'a third of the report on the page',
      async () => {
        const report = turn(await sample(), 2, 1);
        return report !== undefined && report.text.length >= reportText.length / 3
          ? report
          : undefined;
      },
      60_000,
      50,
    );
    await firstWorker.kill();
    const atKill = turn(await sample(), 2, 1);
    expect(atKill?.state, 'killed mid-stream').toBe('streaming');
    expect(atKill?.text.length).toBeLessThan(reportText.length);

    // A new worker resumes: the cut attempt is superseded, and the retry streams again.
    worker = startWorker();
    await page.locator('[data-testid="resume-marker"]').waitFor({ timeout: 60_000 });
    let resumedShot = false;
    await waitFor(
      'the session to complete',
      async () => {
        const retry = turn(await sample(), 2, 2);
        if (!resumedShot && retry !== undefined && retry.text.length > reportText.length * 0.4) {
          resumedShot = true;
          await shoot('session-resumed');
        }
        return (await sessionStatus(page)) === 'completed' ? true : undefined;
      },
      120_000,
      50,
    );
    await page.locator('[data-testid="session-end"].end-completed').waitFor({ timeout: 30_000 });

    const turns = await sample();
    expect(violations, 'a text on the page that is not a prefix of the model text').toEqual([]);
    expect(turns.map((t) => [t.step, t.attempt, t.state])).toEqual([
      [1, 1, 'responded'],
      [2, 1, 'superseded'],
      [2, 2, 'responded'],
    ]);
    const counted = turns.filter((t) => t.state !== 'superseded').map((t) => t.text);
    expect(counted).toEqual([planText, reportText]);
    for (const n of Array.from({ length: 46 }, (_, i) => String(i + 1).padStart(2, '0'))) {
      expect(counted.join('\n').split(`Verified ${n}:`).length - 1, `Verified ${n}`).toBe(1);
    }
    const superseded = turn(turns, 2, 1);
    expect(superseded?.text.length).toBeGreaterThanOrEqual(cut.text.length);
    expect(await page.locator('[data-testid="model-failure"]').textContent()).toMatch(
      /WORKER_STOPPED/,
    );
    // The crash really happened mid-stream: the log holds the cut attempt's text and its supersession.
    const { events } = await api<{
      events: { type: string; atMs: number; data: Record<string, unknown> }[];
    }>(`/v1/sessions/${sessionId}/events?limit=1000`);
    const of = (type: string, attempt: number) =>
      events.filter((e) => e.type === type && e.data.step === 2 && e.data.attempt === attempt);
    expect(of('model.streamed', 1).length).toBeGreaterThan(0);
    expect(of('model.failed', 1).map((e) => e.data.code)).toEqual(['WORKER_STOPPED']);
    expect(of('model.responded', 2)).toHaveLength(1);
    await scrollTo(page, '[data-testid="timeline-pane"]', Infinity);
    await shoot('session-completed');

    // The trace marks the cut attempt as superseded by a crash, and ends it at its own last
    // event (its last streamed text), not at the recovery that recorded its failure.
    await page.click('[data-testid="tab-trace"]');
    const cutRow = page.locator('[data-testid="waterfall-row"][data-key="model:2:1"]');
    await cutRow.waitFor({ timeout: 30_000 });
    expect(await cutRow.getAttribute('data-state')).toBe('superseded');
    expect(await cutRow.getAttribute('data-superseded-by')).toBe('crash');
    const cutEvents = events;
    const lastStreamed = cutEvents
      .filter((e) => e.type === 'model.streamed' && e.data.step === 2 && e.data.attempt === 1)
      .at(-1);
    const cutStart = Number(await cutRow.getAttribute('data-offset-ms'));
    const cutMs = Number(await cutRow.getAttribute('data-duration-ms'));
    expect(cutStart + cutMs).toBe((lastStreamed?.atMs ?? 0) - (cutEvents[0]?.atMs ?? 0));
    expect(
      await page
        .locator('[data-testid="waterfall-row"][data-key="model:2:2"]')
        .getAttribute('data-state'),
    ).toBe('ok');

    // Workspace files, as of the latest snapshot (if the runtime took one).
    await page.click('[data-testid="tab-files"]');
    const summary = page.locator('[data-testid="files-summary"]');
    await waitFor(
      'the file list',
      async () => ((await summary.textContent()) === 'Loading…' ? undefined : true),
      30_000,
    );
    expect(await summary.textContent()).not.toMatch(/Could not/);
    // The deploy tool wrote files: the runtime snapshotted them after the call.
    expect(events.some((e) => e.type === 'workspace.snapshotted')).toBe(true);
    await page.click('[data-testid="files-changes"]');
    await page
      .locator('[data-testid="file-content"]', { hasText: '+ rollout.md' })
      .waitFor({ timeout: 30_000 });
    await page.click('[data-testid="file-entry"][data-path="rollout.md"]');
    await page
      .locator('[data-testid="file-content"]', { hasText: 'api deployed.' })
      .waitFor({ timeout: 30_000 });
    await shoot('session-files');
    expect(pageErrors).toEqual([]);
  }, 420_000);

  it('cancels from the page, lists sessions by state, and shows pending approvals in the inbox', async () => {
    const created = await api<{ session: { id: string } }>('/v1/sessions', {
      agent,
      message: 'Roll out web.',
    });
    const cancelled = created.session.id;
    await page.goto(`${baseUrl}/#/sessions/${cancelled}`);
    await page.click('[data-testid="cancel-session"]');
    await page.click('[data-testid="cancel-confirm"]');
    await page
      .locator('[data-testid="session-status"][data-status="cancelled"]')
      .waitFor({ timeout: 60_000 });
    await page.locator('[data-testid="session-end"].end-cancelled').waitFor({ timeout: 60_000 });

    const waiting = (
      await api<{ session: { id: string } }>('/v1/sessions', { agent, message: 'Roll out db.' })
    ).session.id;
    await waitFor(
      'the second session to wait for its approval',
      async () =>
        (await api<{ session: { status: string } }>(`/v1/sessions/${waiting}`)).session.status ===
        'waiting'
          ? true
          : undefined,
      90_000,
      200,
    );
    // A fourth session is mid-stream (its plan takes seconds) while the list is looked at.
    const running = (
      await api<{ session: { id: string } }>('/v1/sessions', { agent, message: 'Roll out cache.' })
    ).session.id;
    await waitFor(
      'the fourth session to run',
      async () =>
        (await api<{ session: { status: string } }>(`/v1/sessions/${running}`)).session.status ===
        'running'
          ? true
          : undefined,
      60_000,
      100,
    );
    await page.goto(`${baseUrl}/#/sessions`);
    const rows = page.locator('[data-testid="session-row"]');
    await waitFor('four rows', async () => ((await rows.count()) === 4 ? true : undefined), 30_000);
    expect(await dataOf(page, '[data-testid="session-row"]', 'sessionId')).toEqual([
      running,
      waiting,
      cancelled,
      sessionIds[0],
    ]);
    expect(await dataOf(page, '[data-testid="session-row"]', 'status')).toEqual([
      'running',
      'waiting',
      'cancelled',
      'completed',
    ]);
    await shoot('sessions-list');
    await page.selectOption('[data-testid="filter-status"]', 'cancelled');
    await waitFor(
      'the filter',
      async () => ((await rows.count()) === 1 ? true : undefined),
      30_000,
    );
    expect(await rows.first().getAttribute('data-session-id')).toBe(cancelled);

    await page.goto(`${baseUrl}/#/approvals`);
    // The fourth session may have reached its own approval by now: look for the second one's.
    const card = page.locator('[data-testid="inbox-approval"]', {
      has: page.locator(`[data-testid="inbox-session-link"][href="#/sessions/${waiting}"]`),
    });
    await card.waitFor({ timeout: 30_000 });
    expect(await card.count()).toBe(1);
    await shoot('approvals-inbox');

    // A follow-up message to the completed session starts a new turn, shown in its timeline.
    await page.goto(`${baseUrl}/#/sessions/${sessionIds[0]}`);
    await page.fill('[data-testid="message-input"]', 'Thanks. Check the canary pool once more.');
    await page.click('[data-testid="message-send"]');
    await page
      .locator('[data-testid="user-message"]', { hasText: 'Check the canary pool once more.' })
      .waitFor({ timeout: 60_000 });
    expect(pageErrors).toEqual([]);
  }, 300_000);

  it('shows why a session is paused, the gate that paused it, and resumes it from the header', async () => {
    // No worker runs; the new session is parked as a worker's gate parks one it must not go on with.
    await worker?.kill();
    const { session } = await api<{ session: { id: string } }>('/v1/sessions', {
      agent,
      message: 'Roll out search.',
    });
    const store = await openStore(db);
    const lease = await store.claim(sessionId(session.id), workerId('parker'), 10_000);
    await store.append({
      fence: lease!,
      expectedSeq: 1,
      events: [
        {
          type: 'gate.decided',
          data: {
            gate: 'workspace',
            point: 'model.call',
            decision: 'pause',
            reason: 'stopped by an error: the workspace is gone',
            step: 1,
          },
        },
      ],
      status: { status: 'paused', reason: 'stopped by an error: the workspace is gone' },
      releaseLease: true,
    });
    await store.close();
    await page.goto(`${baseUrl}/#/sessions/${session.id}`);
    await page
      .locator('[data-testid="session-status"][data-status="paused"]')
      .waitFor({ timeout: 60_000 });
    expect(await page.locator('[data-testid="session-status-reason"]').textContent()).toMatch(
      /the workspace is gone/,
    );
    const gate = page.locator('[data-testid="gate-decision"]');
    await gate.waitFor({ timeout: 30_000 });
    expect(await gate.textContent()).toMatch(
      /Gate workspace paused the session before the model call of step 1: stopped by an error: the workspace is gone/,
    );
    const resume = page.locator('[data-testid="resume-session"]');
    expect(await resume.isVisible()).toBe(true);
    worker = startWorker();
    await worker.waitForOutput(/worker started/, 60_000);
    await resume.click();
    await page
      .locator('[data-testid="session-resumed"]', { hasText: 'Resumed by api' })
      .waitFor({ timeout: 60_000 });
    await resume.waitFor({ state: 'hidden', timeout: 30_000 });
    await page.locator('[data-testid="model-turn"]').first().waitFor({ timeout: 60_000 });
    expect(pageErrors).toEqual([]);
  }, 180_000);
});
