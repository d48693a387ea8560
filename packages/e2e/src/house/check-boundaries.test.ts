import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../../../../scripts/check-boundaries.ts', import.meta.url));
const run = promisify(execFile);

/** A fixture repository: package name → { deps, files }. */
type Fixture = Record<
  string,
  { deps?: string[]; exports?: Record<string, string>; files: Record<string, string> }
>;

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

async function check(fixture: Fixture): Promise<{ code: number; out: string }> {
  const root = mkdtempSync(join(tmpdir(), 'longrun-boundaries-'));
  made.push(root);
  for (const [name, pkg] of Object.entries(fixture)) {
    const dir = join(root, 'packages', name);
    mkdirSync(join(dir, 'src'), { recursive: true });
    const dependencies = Object.fromEntries(
      (pkg.deps ?? []).map((d) => [`@longrun/${d}`, '0.1.0']),
    );
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({
        name: `@longrun/${name}`,
        exports: pkg.exports ?? { '.': './src/index.ts' },
        dependencies,
      }),
    );
    for (const [file, text] of Object.entries(pkg.files)) {
      mkdirSync(dirname(join(dir, 'src', file)), { recursive: true });
      writeFileSync(join(dir, 'src', file), text);
    }
  }
  try {
    const { stdout, stderr } = await run(process.execPath, [script, root]);
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

describe('scripts/check-boundaries.ts', () => {
  it('passes a house that keeps its layers and has no cycles (type-only loops allowed)', async () => {
    const result = await check({
      core: { files: { 'index.ts': `export const x = 1;\n` } },
      runtime: {
        deps: ['core'],
        files: {
          'index.ts': `import { x } from '@longrun/core';\nimport { b } from './b.ts';\nexport const a = x + b;\n`,
          'b.ts': `import type { a } from './index.ts';\nexport const b = 2;\nexport type A = typeof a;\n`,
        },
      },
    });
    expect(result.out).toContain('no boundary violations');
    expect(result.code).toBe(0);
  });

  it('refuses a file import cycle, an import of a higher layer, and a package cycle', async () => {
    const result = await check({
      core: { files: { 'index.ts': `export const x = 1;\n` } },
      models: {
        deps: ['core', 'runtime'],
        files: {
          'index.ts': `import { r } from '@longrun/runtime';\nimport { b } from './b.ts';\nexport const m = r + b;\n`,
          'b.ts': `import { m } from './index.ts';\nexport const b = () => m;\n`,
        },
      },
      runtime: {
        deps: ['core', 'models'],
        files: { 'index.ts': `import { m } from '@longrun/models';\nexport const r = m;\n` },
      },
    });
    expect(result.code).toBe(1);
    expect(result.out).toContain(
      'file import cycle: packages/models/src/b.ts -> packages/models/src/index.ts -> packages/models/src/b.ts',
    );
    expect(result.out).toMatch(
      /models\/src\/index\.ts:1: imports @longrun\/runtime, a higher layer/,
    );
    expect(result.out).toContain(
      'import cycle: @longrun/models -> @longrun/runtime -> @longrun/models',
    );
  });

  it('refuses a test kit imported by product code, and lets tests and test helpers import it', async () => {
    const kit = `import { scripted } from '@longrun/models/testing';\nexport const m = scripted;\n`;
    const result = await check({
      core: { files: { 'index.ts': `export const x = 1;\n` } },
      models: {
        deps: ['core'],
        exports: { '.': './src/index.ts', './testing': './src/testing.ts' },
        files: {
          'index.ts': `export const m = 1;\n`,
          'testing.ts': `export const scripted = 2;\n`,
        },
      },
      runtime: {
        deps: ['core', 'models'],
        files: {
          'index.ts': kit,
          'runner.test.ts': kit,
          'testing.ts': kit,
          'test-fixtures/agent.ts': kit,
        },
      },
    });
    expect(result.code).toBe(1);
    expect(result.out).toMatch(
      /packages\/runtime\/src\/index\.ts:1: imports the test kit '@longrun\/models\/testing' from product code/,
    );
    expect(result.out).toMatch(/1 boundary violation\(s\)/);
  });

  it('refuses a package missing from the layer table', async () => {
    const result = await check({ extra: { files: { 'index.ts': `export {};\n` } } });
    expect(result.code).toBe(1);
    expect(result.out).toContain('@longrun/extra is in no layer of the layer table');
  });
});
