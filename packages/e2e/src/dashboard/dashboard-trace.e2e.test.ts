/**
 * The dashboard's explanation of a run, in headless Chromium against `longrun dev` (one real
 * process, SQLite): a session whose first model attempt fails and is retried, that calls a tool,
 * and that waits for an approval given on the page.
 *
 * Checked: the Trace tab's waterfall has one row per turn, attempt, tool call and approval, in
 * order, with the retried attempt marked superseded; each row's offset and duration are the ones
 * the events' commit times give (the tool's measured independently from its two events); the
 * cost panel shows what the budget settlements in the log add up to, against the budget; every
 * timeline item shows its timing; the Events tab lists every seq; the sessions list has tasks and
 * costs, and its search (task text, id) and day filters are answered by the server.
 * Screenshots of the waterfall and the cost panel go to test-results/screenshots/
 * (docs/screenshots/, the README's, with LONGRUN_UPDATE_SCREENSHOTS=1).
 */
import { beforeAll, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { freePort, waitFor } from './child-process.ts';
import { dashboardHarness, screenshots } from './dashboard-harness.ts';
import { dataOf } from './page-probes.ts';
import { inspectMs, traceAgent } from './trace-agent.ts';
import { leadAgent, memberAgent } from './trace-team-agents.ts';

const traceFixture = fileURLToPath(new URL('./trace-agent.ts', import.meta.url));
const teamFixture = fileURLToPath(new URL('./trace-team-agents.ts', import.meta.url));
const { suite, harness } = dashboardHarness('dashboard trace suite');

interface Event {
  seq: number;
  type: string;
  atMs: number;
  data: Record<string, unknown>;
}

/** The local day of `ms` as an `<input type="date">` value. */
function day(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

suite('the trace, cost and search of the dashboard, against longrun dev', () => {
  const pageErrors: string[] = [];
  let page: Page;
  let url = '';

  const api = async <T>(path: string, body?: unknown): Promise<T> => {
    const init: RequestInit =
      body === undefined
        ? {}
        : {
            method: 'POST',
            body: JSON.stringify(body),
            headers: { 'content-type': 'application/json' },
          };
    const response = await fetch(`${url}${path}`, init);
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  const create = async (message: string, agent = traceAgent) =>
    (await api<{ session: { id: string } }>('/v1/sessions', { agent, message })).session.id;
  const statusOf = async (id: string) =>
    (await api<{ session: { status: string } }>(`/v1/sessions/${id}`)).session.status;
  /** Waits for a status; on a timeout, says what the session's log and the process said. */
  const untilStatus = async (id: string, status: string, timeoutMs: number) => {
    try {
      await waitFor(
        `session ${id} ${status}`,
        async () => ((await statusOf(id)) === status ? true : undefined),
        timeoutMs,
        100,
      );
    } catch (error) {
      const { events } = await api<{ events: Event[] }>(`/v1/sessions/${id}/events?limit=1000`);
      const log = events.map((e) => `${e.seq} ${e.type} ${JSON.stringify(e.data).slice(0, 200)}`);
      throw new Error(`${String(error)}\n${log.join('\n')}\n${dev?.output().slice(-3_000)}`);
    }
  };

  let dev: ReturnType<typeof harness.longrun> | null = null;
  beforeAll(async () => {
    const cwd = join(harness.tmp, 'dev');
    mkdirSync(cwd);
    const port = await freePort();
    const agents = ['--agents', traceFixture, '--agents', teamFixture];
    dev = harness.longrun(['dev', ...agents, '--port', String(port)], cwd);
    url = (await dev.waitForOutput(/longrun dev: (http:\/\/127\.0\.0\.1:\d+)/, 90_000))[1] ?? '';
    page = await harness.newPage(pageErrors);
  }, 180_000);

  let traced = '';

  it('draws the waterfall of a retried attempt, a tool call and an approval, and its cost', async () => {
    traced = await create('Roll out api, with a trace.');
    await page.goto(`${url}/#/sessions/${traced}`);
    const approve = page.locator(
      '[data-testid="approval"][data-state="requested"] [data-testid="approve"]',
    );
    await approve.waitFor({ timeout: 90_000 });
    await approve.click();
    await untilStatus(traced, 'completed', 90_000);
    await page.locator('[data-testid="session-end"].end-completed').waitFor({ timeout: 30_000 });

    // Every timeline item says when it happened; spans say how long they took.
    const items = page.locator('[data-testid="timeline"] > li');
    const timings = await page
      .locator('[data-testid="timeline"] > li [data-testid="item-timing"]')
      .allTextContents();
    expect(timings.length).toBe(await items.count());
    expect(timings.length).toBeGreaterThanOrEqual(7);
    expect(timings.filter((t) => / · took \d/.test(t)).length).toBeGreaterThanOrEqual(5);

    const { events } = await api<{ events: Event[] }>(`/v1/sessions/${traced}/events?limit=1000`);
    await page.click('[data-testid="tab-trace"]');
    const rows = page.locator('[data-testid="waterfall-row"]');
    await waitFor(
      'the waterfall',
      async () => ((await rows.count()) >= 7 ? true : undefined),
      30_000,
    );
    const keys = await dataOf(page, '[data-testid="waterfall-row"]', 'key');
    const approval = events.find((e) => e.type === 'approval.requested');
    const approvalId = String(approval?.data.approvalId);
    const requestedAt = approval?.atMs ?? Number.NaN;
    expect(keys).toEqual([
      'turn:1',
      'model:1:1',
      'model:1:2',
      'tool:1:0',
      `approval:${approvalId}`,
      'tool:1:1',
      'model:2:1',
    ]);
    expect(await dataOf(page, '[data-testid="waterfall-row"]', 'state')).toEqual([
      'completed',
      'superseded',
      'ok',
      'ok',
      'granted',
      'ok',
      'ok',
    ]);
    expect(await dataOf(page, '[data-testid="waterfall-row"]', 'supersededBy')).toEqual([
      '',
      'retry',
      '',
      '',
      '',
      '',
      '',
    ]);
    expect(
      await page
        .locator(
          '[data-testid="waterfall-row"][data-key="model:1:1"] [data-testid="waterfall-state"]',
        )
        .textContent(),
    ).toBe('superseded (retried)');

    // Offsets and durations are the commit times' differences.
    const originMs = events[0]?.atMs ?? 0;
    const at = (type: string, match: (d: Record<string, unknown>) => boolean) => {
      const found = events.find((e) => e.type === type && match(e.data));
      if (found === undefined) throw new Error(`no ${type} in the log`);
      return found.atMs;
    };
    const inspectStart = at('tool.started', (d) => d.callIndex === 0);
    const inspectEnd = at('tool.completed', (d) => d.callIndex === 0);
    const row = (key: string) =>
      page.$eval(`[data-testid="waterfall-row"][data-key="${key}"]`, (el) => {
        const data = (el as unknown as { dataset: Record<string, string> }).dataset;
        return { offsetMs: Number(data.offsetMs), durationMs: Number(data.durationMs) };
      });
    expect(await row('tool:1:0')).toEqual({
      offsetMs: inspectStart - originMs,
      durationMs: inspectEnd - inspectStart,
    });
    expect(inspectEnd - inspectStart).toBeGreaterThanOrEqual(inspectMs - 50);
    const granted = at('approval.granted', () => true);
    expect(await row(`approval:${approvalId}`)).toEqual({
      offsetMs: requestedAt - originMs,
      durationMs: granted - requestedAt,
    });
    const failedAt = at('model.failed', (d) => d.attempt === 1);
    // The attempt begins with its budget reservation, committed right before the call is sent.
    const firstRequest = at('budget.reserved', (d) => d.step === 1 && d.attempt === 1);
    expect(await row('model:1:1')).toEqual({
      offsetMs: firstRequest - originMs,
      durationMs: failedAt - firstRequest,
    });
    const ended = at('session.completed', () => true);
    expect(await row('turn:1')).toEqual({ offsetMs: 0, durationMs: ended - originMs });

    // The cost panel: what the budget's settlements add up to, against the budget.
    const charged = events
      .filter((e) => e.type === 'budget.settled')
      .reduce((sum, e) => sum + Number(e.data.costUsd), 0);
    expect(charged).toBeGreaterThan(0);
    const panel = page.locator('[data-testid="cost-panel"]');
    await panel.locator('[data-testid="cost-total"] dd').waitFor({ timeout: 30_000 });
    await waitFor(
      'the cost panel to show the session',
      async () =>
        (await panel.locator('[data-testid="cost-total"] dd').textContent()) === '…'
          ? undefined
          : true,
      30_000,
    );
    expect(await panel.locator('[data-testid="cost-total"] dd').textContent()).toBe(
      `$${charged.toFixed(4)}`,
    );
    expect(await panel.locator('[data-testid="cost-attempts"] dd').textContent()).toBe(
      '3 (1 superseded)',
    );
    expect(await panel.locator('[data-testid="cost-budget-costUsd"] dd').textContent()).toBe(
      `$${charged.toFixed(4)} of $5.00 ($${(5 - charged).toFixed(2)} left)`,
    );
    const retriedCost = events.find(
      (e) => e.type === 'budget.settled' && e.data.outcome === 'responded',
    );
    expect(
      await page
        .locator(
          '[data-testid="waterfall-row"][data-key="model:1:2"] [data-testid="waterfall-cost"]',
        )
        .textContent(),
    ).toBe(`$${Number(retriedCost?.data.costUsd).toFixed(4)}`);
    await page.screenshot({ path: join(screenshots, 'session-trace.png') });
    await page
      .locator('[data-testid="cost-section"]')
      .screenshot({ path: join(screenshots, 'session-cost.png') });

    // The raw events, every seq once, in order.
    await page.click('[data-testid="tab-events"]');
    // The tab renders its rows after the click: wait for the last one before reading them.
    await page.waitForSelector(`[data-testid="event-row"][data-seq="${events.at(-1)?.seq ?? 1}"]`, {
      timeout: 10_000,
    });
    const seqs = await dataOf(page, '[data-testid="event-row"]', 'seq');
    expect(seqs.map(Number)).toEqual(events.map((e) => e.seq));
    expect(seqs.length).toBeGreaterThanOrEqual(15);
    // A session started by nobody's tool call has no tree to show.
    expect(await page.locator('[data-testid="session-tree"]').isHidden()).toBe(true);
    expect(pageErrors).toEqual([]);
  }, 300_000);

  it('lists sessions with their task and cost, searched and filtered by the server', async () => {
    const billing = await create('Audit the billing exports.');
    const web = await create('Roll out web.');
    await untilStatus(web, 'waiting', 90_000);
    await untilStatus(billing, 'waiting', 90_000);
    await page.goto(`${url}/#/sessions`);
    const rows = page.locator('[data-testid="session-row"]');
    await waitFor(
      'three rows',
      async () => ((await rows.count()) === 3 ? true : undefined),
      30_000,
    );
    expect(await dataOf(page, '[data-testid="session-row"]', 'sessionId')).toEqual([
      web,
      billing,
      traced,
    ]);
    expect(await page.locator('[data-testid="session-task"]').allTextContents()).toEqual([
      'Roll out web.',
      'Audit the billing exports.',
      'Roll out api, with a trace.',
    ]);
    const costs = await page.locator('[data-testid="session-cost"]').allTextContents();
    expect(
      costs.every((c) => /^\$\d+\.\d+$/.test(c)),
      costs.join(', '),
    ).toBe(true);

    const shown = async (expected: string[]) => {
      await waitFor(
        `rows ${expected.join(', ') || 'none'}`,
        async () => {
          const ids = await dataOf(page, '[data-testid="session-row"]', 'sessionId');
          return JSON.stringify(ids) === JSON.stringify(expected) ? true : undefined;
        },
        30_000,
      );
    };
    const requests: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/v1/sessions?')) requests.push(r.url());
    });
    await page.fill('[data-testid="filter-search"]', 'BILLING');
    await shown([billing]);
    expect(requests.some((r) => r.includes('q=BILLING'))).toBe(true);
    await page.fill('[data-testid="filter-search"]', 'roll out');
    await shown([web, traced]);
    await page.fill('[data-testid="filter-search"]', traced.slice(-12));
    await shown([traced]);
    await page.fill('[data-testid="filter-search"]', '');
    await shown([web, billing, traced]);

    const today = Date.now();
    await page.fill('[data-testid="filter-from"]', day(today + 86_400_000));
    await shown([]);
    expect(await page.locator('[data-testid="sessions-rows"] td.empty').textContent()).toBe(
      'No sessions match.',
    );
    await page.fill('[data-testid="filter-from"]', day(today));
    await page.fill('[data-testid="filter-to"]', day(today));
    await shown([web, billing, traced]);
    expect(requests.some((r) => /createdFrom=\d+&createdTo=\d+/.test(r))).toBe(true);
    await page.fill('[data-testid="filter-to"]', day(today - 86_400_000));
    await shown([]);
    expect(pageErrors).toEqual([]);
  }, 240_000);

  it("links a sub-agent's session to its parent, and the parent to its children", async () => {
    const lead = await create('Have the canary pool checked.', leadAgent);
    await untilStatus(lead, 'completed', 90_000);
    const { children } = await api<{ children: { sessionId: string; agent: string }[] }>(
      `/v1/sessions/${lead}/tree`,
    );
    expect(children.map((c) => c.agent)).toEqual([memberAgent]);
    const child = children[0]?.sessionId ?? '';
    await page.goto(`${url}/#/sessions/${lead}`);
    const childLink = page.locator('[data-testid="tree-child-link"]');
    await childLink.waitFor({ timeout: 30_000 });
    expect(await childLink.getAttribute('href')).toBe(`#/sessions/${child}`);
    expect(await page.locator('[data-testid="tree-parent"]').count()).toBe(0);
    await childLink.click();
    const parentLink = page.locator('[data-testid="tree-parent-link"]');
    await parentLink.waitFor({ timeout: 30_000 });
    expect(await parentLink.getAttribute('href')).toBe(`#/sessions/${lead}`);
    expect(await page.locator('[data-testid="session-page"]').getAttribute('data-session-id')).toBe(
      child,
    );
    expect(pageErrors).toEqual([]);
  }, 180_000);
});
