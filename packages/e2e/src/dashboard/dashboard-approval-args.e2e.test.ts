/**
 * Nobody approves arguments they cannot see, in headless Chromium against `longrun serve` and
 * `longrun worker` as processes. A prompt-injected model pads a command with 40,000 spaces so its
 * payload falls past the log's 8,000-character view of large arguments, and hides a right-to-left
 * override in the part shown.
 *
 * Invariants checked, on the session's timeline and in the inbox: the card says loudly how many
 * characters are not shown, and Approve is disabled; the override shows as a marker; once the
 * person loads the whole arguments, the payload is drawn inside the card and the viewport (the
 * padding written out as one marker), and only then may they approve; the call granted runs the
 * very arguments shown. A screenshot goes to test-results/screenshots/.
 */
import { beforeAll, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { waitFor } from './child-process.ts';
import { dashboardHarness, screenshots } from './dashboard-harness.ts';
import { paddedCommand } from './hidden-args-agent.ts';

const fixture = fileURLToPath(new URL('./hidden-args-agent.ts', import.meta.url));
const { suite, harness } = dashboardHarness('dashboard approval-arguments suite');

/** The view keeps the first 8,000 characters of the arguments' JSON text (the default). */
const wholeChars = JSON.stringify({ command: paddedCommand }).length;
const notShown = (wholeChars - 8_000).toLocaleString('en-US');

// The little of the DOM the in-page probe touches: this package compiles without lib.dom.
interface Box {
  left: number;
  right: number;
  top: number;
  bottom: number;
}
interface ProbeRange {
  setStart(node: unknown, offset: number): void;
  setEnd(node: unknown, offset: number): void;
  getBoundingClientRect(): Box;
}
interface ProbeWindow {
  innerWidth: number;
  innerHeight: number;
  document: {
    createTreeWalker(root: unknown, show: number): { nextNode(): { nodeValue: string } | null };
    createRange(): ProbeRange;
  };
}

/** Where `needle` is drawn, the box of the element that holds it, and the viewport's size. */
function placement(
  element: Locator,
  needle: string,
): Promise<{ text: Box; box: Box; width: number; height: number } | null> {
  return element.evaluate((el, text) => {
    const win = globalThis as unknown as ProbeWindow;
    const copy = (r: Box): Box => ({ left: r.left, right: r.right, top: r.top, bottom: r.bottom });
    const walker = win.document.createTreeWalker(el, 4 /* NodeFilter.SHOW_TEXT */);
    for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
      const at = node.nodeValue.indexOf(text);
      if (at === -1) continue;
      const range = win.document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + text.length);
      return {
        text: copy(range.getBoundingClientRect()),
        box: copy((el as unknown as { getBoundingClientRect(): Box }).getBoundingClientRect()),
        width: win.innerWidth,
        height: win.innerHeight,
      };
    }
    return null;
  }, needle);
}

/**
 * Checks a card before and after the whole arguments are loaded into it; `shoot` takes a
 * screenshot of the moment before.
 */
async function readWholeBeforeApproving(
  card: Locator,
  shoot: () => Promise<unknown> = async () => undefined,
): Promise<void> {
  const warning = card.locator('[data-testid="args-truncated"]');
  await warning.waitFor({ timeout: 60_000 });
  expect(await warning.innerText()).toContain(`${notShown} more characters not shown`);
  const approve = card.locator('[data-testid="approve"]');
  expect(await approve.isDisabled(), 'Approve before the whole arguments were shown').toBe(true);
  const args = card.locator('[data-testid="approval-args"]');
  const short = await args.innerText();
  expect(short).toContain('ls -la ⟨U+202E⟩txt.exe');
  expect(short).not.toContain('\u202E');
  expect(short).not.toContain('HIDDEN-PAYLOAD-RAN');
  await card.scrollIntoViewIfNeeded();
  await shoot();

  await card.locator('[data-testid="load-full-args"]').click();
  await card.locator('[data-testid="args-whole"]').waitFor({ timeout: 30_000 });
  const whole = await args.innerText();
  expect(whole).toContain(
    'ls -la ⟨U+202E⟩txt.exe⟨40,000 spaces⟩; echo HIDDEN-PAYLOAD-RAN > /workspace/pwned',
  );
  await args.scrollIntoViewIfNeeded();
  const at = await placement(args, 'HIDDEN-PAYLOAD-RAN');
  expect(at, 'the payload is in the card').not.toBeNull();
  if (at === null) return;
  const { text, box } = at;
  expect(text.right - text.left).toBeGreaterThan(0);
  // Drawn inside the card's box and the viewport: nothing scrolled or clipped it away.
  expect(text.left).toBeGreaterThanOrEqual(Math.max(box.left, 0));
  expect(text.right).toBeLessThanOrEqual(Math.min(box.right, at.width) + 0.5);
  expect(text.top).toBeGreaterThanOrEqual(Math.max(box.top, 0));
  expect(text.bottom).toBeLessThanOrEqual(Math.min(box.bottom, at.height) + 0.5);
  expect(await approve.isDisabled(), 'Approve once they were shown').toBe(false);
}

suite('the approval card with arguments past the log’s view', () => {
  const pageErrors: string[] = [];
  let page: Page;
  let baseUrl = '';
  let cwd = '';
  let db = '';

  beforeAll(async () => {
    ({ cwd, db, url: baseUrl } = await harness.startServer('hidden-args'));
    page = await harness.newPage(pageErrors);
  }, 120_000);

  it('warns, shows the whole arguments with hidden characters written out, then lets them be approved', async () => {
    const worker = harness.longrun(['worker', '--store', db, '--agents', fixture], cwd);
    await worker.waitForOutput(/worker started/, 60_000);
    const created = await fetch(`${baseUrl}/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ agent: 'hidden-args', message: 'list files' }),
    });
    expect(created.status).toBe(201);
    const sessionId = ((await created.json()) as { session: { id: string } }).session.id;

    await page.setViewportSize({ width: 1300, height: 900 });
    await page.goto(`${baseUrl}/#/sessions/${sessionId}`);
    const card = page.locator('[data-testid="approval"][data-state="requested"]');
    await card.waitFor({ timeout: 60_000 });
    // Before anything is loaded, the payload is nowhere on the page: that is the danger.
    expect(await page.locator('body').innerText()).not.toContain('HIDDEN-PAYLOAD-RAN');
    await readWholeBeforeApproving(card, () =>
      page.screenshot({ path: join(screenshots, 'approval-args-cut.png') }),
    );
    await card.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(screenshots, 'approval-hidden-args.png') });

    // The inbox's card does the same.
    const inbox = await harness.newPage(pageErrors);
    await inbox.setViewportSize({ width: 1300, height: 900 });
    await inbox.goto(`${baseUrl}/#/approvals`);
    await readWholeBeforeApproving(inbox.locator('[data-testid="inbox-approval"]').first());
    await inbox.close();

    await card.locator('[data-testid="approve"]').click();
    await page
      .locator('[data-testid="approval"][data-state="granted"]')
      .waitFor({ timeout: 60_000 });
    await waitFor(
      'the session to complete',
      async () => {
        const r = await fetch(`${baseUrl}/v1/sessions/${sessionId}`);
        const { session } = (await r.json()) as { session: { status: string } };
        return session.status === 'completed' ? true : undefined;
      },
      60_000,
    );
    // The grant ran exactly the arguments the person was shown whole.
    const ran = await fetch(`${baseUrl}/v1/sessions/${sessionId}/files/content?path=ran.txt`);
    expect(await ran.text()).toBe(paddedCommand);
    expect(pageErrors).toEqual([]);
    await worker.kill();
  }, 240_000);
});
