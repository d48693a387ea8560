import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const chromiumPath = '/usr/bin/chromium';

/**
 * Whether the browser is here. Without it the suite says, loudly, that it did not run — and with
 * CI=true it fails instead (a skipped browser test nobody sees is a defect).
 */
export function chromiumPresent(suite: string): boolean {
  if (existsSync(chromiumPath)) return true;
  const message = `${suite} did NOT run: no ${chromiumPath} (apt-get install chromium)`;
  console.error(`\n!!! ${message}\n`);
  if (process.env.CI === 'true') throw new Error(`${message}; CI=true requires it`);
  return false;
}

/**
 * Headless Chromium (the Debian package) with a fresh profile, nothing that reaches the network
 * by itself, and a 1280×800 window. Its start is slow on a small machine: the timeout is generous.
 */
export async function launchChromium(): Promise<{
  context: BrowserContext;
  close(): Promise<void>;
}> {
  const profile = mkdtempSync(join(tmpdir(), 'longrun-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    timeout: 120_000,
    viewport: { width: 1280, height: 800 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
