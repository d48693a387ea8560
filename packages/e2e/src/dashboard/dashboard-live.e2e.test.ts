/**
 * The dashboard's live paths in headless Chromium: API keys (the key prompt, a 401, the stream's
 * `access_token`), and `longrun dev` — one process that streams every token delta live — killed
 * with SIGKILL mid-stream and started again on the same port, so the page's EventSource has to
 * find its way back and replay. Each token must still show exactly once.
 */
import { expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitFor, type Child } from './child-process.ts';
import { agent, dashboardHarness, fixture, sampleTurns, turn } from './dashboard-harness.ts';
import {
  countLiveDeltas,
  liveDeltas,
  scrollState,
  scrollTo,
  sessionStatus,
} from './page-probes.ts';
import { planText, reportText } from './streaming-approval-agent.ts';

const { suite, harness } = dashboardHarness('dashboard live-stream suite');

suite('the dashboard against a server that requires API keys', () => {
  it('asks for a key, asks again after a 401, and streams with the key it was given', async () => {
    const { url, key } = await harness.startServer('keys', true);
    const headers = { authorization: `Bearer ${key ?? ''}`, 'content-type': 'application/json' };
    const response = await fetch(`${url}/v1/sessions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ agent, message: 'Roll out api behind a key.' }),
    });
    expect(response.status).toBe(201);
    const sessionId = ((await response.json()) as { session: { id: string } }).session.id;

    const errors: string[] = [];
    const page = await harness.newPage(errors);
    await page.goto(`${url}/#/sessions/${sessionId}`);
    const dialog = page.locator('[data-testid="api-key-dialog"]');
    await dialog.waitFor({ timeout: 60_000 });
    await page.fill('[data-testid="api-key-input"]', `lr_0123456789abcdef_${'x'.repeat(43)}`);
    await page.click('[data-testid="api-key-save"]');
    // The wrong key gets a 401, and the dialog comes back.
    await dialog.waitFor({ timeout: 60_000 });
    expect(
      await page.evaluate(
        () => (globalThis as unknown as { localStorage: { length: number } }).localStorage.length,
      ),
    ).toBe(0);
    await page.fill('[data-testid="api-key-input"]', key ?? '');
    await page.click('[data-testid="api-key-save"]');
    // With the right key: the header loads, and the stream (key as access_token) delivers the log.
    await page
      .locator('[data-testid="session-status"][data-status="queued"]')
      .waitFor({ timeout: 60_000 });
    await page
      .locator('[data-testid="user-message"]', { hasText: 'behind a key' })
      .waitFor({ timeout: 60_000 });
    await page
      .locator('[data-testid="stream-status"][data-status="live"]')
      .waitFor({ timeout: 30_000 });
    expect(errors).toEqual([]);
    await page.close();
  }, 240_000);
});

suite('longrun dev: live token deltas, and the whole process killed with SIGKILL', () => {
  it('places live deltas once, reconnects by itself after a restart, and shows each token once', async () => {
    const cwd = join(harness.tmp, 'dev');
    mkdirSync(cwd);
    const port = await freePort();
    const startDev = (): Child =>
      harness.longrun(['dev', '--agents', fixture, '--port', String(port)], cwd);
    const first = startDev();
    const url = (await first.waitForOutput(/longrun dev: (http:\/\/127\.0\.0\.1:\d+)/, 60_000))[1];
    expect(url).toBe(`http://127.0.0.1:${port}`);
    const created = await fetch(`${url}/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ agent, message: 'Roll out api, live.' }),
    });
    const sessionId = ((await created.json()) as { session: { id: string } }).session.id;

    const errors: string[] = [];
    const violations: string[] = [];
    const page = await harness.newPage(errors);
    await countLiveDeltas(page);
    await page.goto(`${url}/#/sessions/${sessionId}`);
    const sample = () => sampleTurns(page, violations);
    const approve = page.locator(
      '[data-testid="approval"][data-state="requested"] [data-testid="approve"]',
    );
    await waitFor(
      'the approval',
      async () => (await sample(), (await approve.count()) > 0 ? true : undefined),
      90_000,
      50,
    );
    expect(await liveDeltas(page), 'live model.delta frames').toBeGreaterThan(0);
    await approve.click();
    // Scrolled up, the reader stays where they are while text arrives, and can jump back.
    const pane = '[data-testid="timeline-pane"]';
    await waitFor(
      'the report to start',
      async () => (turn(await sample(), 2, 1) ? true : undefined),
      60_000,
      50,
    );
    await scrollTo(page, pane, 0);
    await page.locator('[data-testid="jump-latest"]').waitFor({ timeout: 30_000 });
    expect(await scrollState(page, pane)).toMatchObject({ top: 0 });
    await page.click('[data-testid="jump-latest"]');
    const after = await scrollState(page, pane);
    expect(after.height - after.top - after.client).toBeLessThan(50);
    await waitFor(
      'a third of the report, live',
      async () =>
        (turn(await sample(), 2, 1)?.text.length ?? 0) >= reportText.length / 3 ? true : undefined,
      60_000,
      50,
    );
    // The API and the worker are one process: the stream breaks, and the page must find its way back.
    await first.kill();
    expect(turn(await sample(), 2, 1)?.state).toBe('streaming');
    await startDev().waitForOutput(/longrun dev: http/, 60_000);
    await page.locator('[data-testid="resume-marker"]').waitFor({ timeout: 60_000 });
    // The header's status and the timeline render separately (the timeline on the next frame),
    // so completion is the status and the last turn's final state, both on the page.
    await waitFor(
      'completion after the restart',
      async () =>
        turn(await sample(), 2, 2)?.state === 'responded' &&
        (await sessionStatus(page)) === 'completed'
          ? true
          : undefined,
      120_000,
      50,
    );
    const turns = await sample();
    expect(violations).toEqual([]);
    expect(turns.map((t) => [t.step, t.attempt, t.state])).toEqual([
      [1, 1, 'responded'],
      [2, 1, 'superseded'],
      [2, 2, 'responded'],
    ]);
    expect(turns.filter((t) => t.state !== 'superseded').map((t) => t.text)).toEqual([
      planText,
      reportText,
    ]);
    expect(errors).toEqual([]);
    await page.close();
  }, 300_000);
});
