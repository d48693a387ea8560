import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveDashboard, serveDashboardAsset } from './serve-dashboard.ts';

const uiFiles = readdirSync(fileURLToPath(new URL('../ui/', import.meta.url)));

describe('serveDashboardAsset', () => {
  it('serves the page at / with a strict content security policy', async () => {
    const response = serveDashboardAsset('/');
    expect(response?.status).toBe(200);
    expect(response?.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response?.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(await response?.text()).toMatch(/<script type="module" src="\/assets\/app.ts">/);
  });

  it('serves every ui script as a JavaScript module that parses', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dashboard-assets-'));
    const scripts = uiFiles.filter((f) => f.endsWith('.ts'));
    expect(scripts.length).toBeGreaterThan(10);
    for (const file of scripts) {
      const response = serveDashboardAsset(`/assets/${file}`);
      expect(response?.headers.get('content-type'), file).toBe('text/javascript; charset=utf-8');
      const body = (await response?.text()) ?? '';
      // Type-only syntax is gone; a script the browser parses as a module must not keep any.
      expect(body, file).not.toMatch(/^\s*import type |^\s*export (interface|type) /m);
      const copy = join(dir, file.replace(/\.ts$/, '.mjs'));
      writeFileSync(copy, body);
      const check = spawnSync(process.execPath, ['--check', copy], { encoding: 'utf8' });
      expect(check.stderr, file).toBe('');
      expect(check.status, file).toBe(0);
    }
  });

  it('answers a matching ETag with 304', () => {
    const etag = serveDashboardAsset('/assets/styles.css')?.headers.get('etag');
    expect(etag).toMatch(/^".+"$/);
    expect(serveDashboardAsset('/assets/styles.css', { ifNoneMatch: etag })?.status).toBe(304);
    expect(serveDashboardAsset('/assets/styles.css', { ifNoneMatch: '"x"' })?.status).toBe(200);
  });

  it('refuses traversal and anything outside the ui directory', () => {
    for (const path of [
      '/assets/../package.json',
      '/assets/..%2Fpackage.json',
      '/assets/%2e%2e/src/index.ts',
      '/assets/tsconfig.json',
      '/assets/.hidden.ts',
      '/assets/sub/app.ts',
      '/assets//etc/passwd',
      '/assets/app.ts/',
      '/assets/missing-file.ts',
      '/assets/',
      '/v1/sessions',
      '/src/index.ts',
      '/../ui/app.ts',
    ]) {
      expect(serveDashboardAsset(path), path).toBeNull();
    }
  });

  it('answers as a request handler, with the API error body for what it does not serve', async () => {
    const page = serveDashboard(new Request('http://127.0.0.1/'));
    expect(page.status).toBe(200);
    const etag = page.headers.get('etag') ?? '';
    const again = new Request('http://127.0.0.1/', { headers: { 'if-none-match': etag } });
    expect(serveDashboard(again).status).toBe(304);
    const missing = serveDashboard(new Request('http://127.0.0.1/assets/%2e%2e%2fpackage.json'));
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });
});
