import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import openapiTS, { astToString } from 'openapi-typescript';
import { SqliteStore } from '@longrun/store-sqlite';
import { createApi } from './create-api.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const require = createRequire(import.meta.url);

/** The document as the server serves it. */
async function openApiDocument(): Promise<Record<string, unknown>> {
  const store = await SqliteStore.open({ path: ':memory:' });
  const api = createApi({ store, auth: 'none' });
  try {
    const response = await api.fetch(new Request('http://localhost/v1/openapi.json'));
    return (await response.json()) as Record<string, unknown>;
  } finally {
    api.close();
    await store.close();
  }
}

// Under the repository (git-ignored test-results/), so the client file resolves openapi-fetch.
mkdirSync(join(root, 'test-results'), { recursive: true });
const dir = mkdtempSync(join(root, 'test-results', 'openapi-client-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const clientSource = `import createClient from 'openapi-fetch';
import type { components, paths } from './schema.ts';

const client = createClient<paths>({ baseUrl: 'http://127.0.0.1:7070' });

export async function start(): Promise<string | undefined> {
  const { data, error } = await client.POST('/v1/sessions', {
    body: { agent: 'coder', message: 'The tests fail; fix them.', input: { repo: 'x' } },
    params: { header: { 'Idempotency-Key': 'ticket-1' } },
  });
  if (error !== undefined) return error.error.code;
  return data.session.id;
}

export function missingMessage() {
  // @ts-expect-error: the task (message) is required
  return client.POST('/v1/sessions', { body: { agent: 'coder' } });
}

type StoredEvent = components['schemas']['StoredEvent'];

/** Event data is typed by the event's type. */
export function keyOf(e: StoredEvent): string | null {
  if (e.type === 'tool.started') return e.data.idempotencyKey ?? null;
  if (e.type === 'session.created') {
    // @ts-expect-error: session.created has no idempotency key
    return e.data.idempotencyKey;
  }
  return null;
}
`;

describe('the OpenAPI document with standard tools', () => {
  it('passes redocly lint with no error', async () => {
    const file = join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(await openApiDocument(), null, 2));
    const manifest = require.resolve('@redocly/cli/package.json');
    const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin: Record<string, string> };
    const redocly = join(dirname(manifest), bin.redocly ?? Object.values(bin)[0] ?? '');
    const r = spawnSync(process.execPath, [redocly, 'lint', file, '--format=summary'], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    });
    const output = `${r.stdout}\n${r.stderr}`;
    expect(output, output).toMatch(/valid/i);
    expect(output).not.toMatch(/^error\s/m);
    expect(r.status, output).toBe(0);
  });

  it('generates types with openapi-typescript that an openapi-fetch client type-checks against', async () => {
    const ast = await openapiTS(
      (await openApiDocument()) as unknown as Parameters<typeof openapiTS>[0],
    );
    writeFileSync(join(dir, 'schema.ts'), astToString(ast));
    writeFileSync(join(dir, 'client.ts'), clientSource);
    const program = ts.createProgram([join(dir, 'client.ts')], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      allowImportingTsExtensions: true,
      skipLibCheck: true,
      types: [],
    });
    const problems = ts
      .getPreEmitDiagnostics(program)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(problems).toEqual([]);
  });
});
