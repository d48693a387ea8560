// longrun as a user gets it from npm: every public package built, packed with `npm pack` and
// installed from its tarball into a fresh project under the system's temporary directory, where
// agents written in JavaScript and in TypeScript run with `npx longrun run` and `npx longrun dev`
// — on this Node (24, from scripts/use-node.sh) and on the lowest Node the packages' `engines`
// allow, installed from the npm registry. Nothing here resolves to the repository's sources.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, existsSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildAndPack,
  createUserProject,
  installNode,
  lowestSupportedNode,
  npx,
  npxInBackground,
  publicWorkspaces,
} from './packed-project.ts';

const lowestNode = lowestSupportedNode();
const task = 'count these four words';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`no ${what} within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('longrun installed from its npm tarballs, outside the repository', () => {
  let packDir = '';
  let project = '';
  /** bin directories of the Node versions the agents run on, by version (`v24.…`, `v22.…`). */
  const nodes = new Map<string, string>();

  beforeAll(() => {
    packDir = mkdtempSync(join(tmpdir(), 'longrun-tarballs-'));
    project = createUserProject(buildAndPack(packDir));
    nodes.set(process.version, dirname(process.execPath));
    nodes.set(`v${lowestNode}`, installNode(lowestNode));
  }, 600_000);

  afterAll(() => {
    for (const dir of [project, packDir])
      if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('installs every public package with built JavaScript, declarations and its LICENSE, and no sources', () => {
    let mapped = 0;
    for (const { manifest } of publicWorkspaces()) {
      const installed = join(project, 'node_modules', manifest.name);
      const shipped = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
        exports: Record<string, Record<string, string>>;
        license: string;
        bin?: Record<string, string>;
      };
      expect(shipped.license, manifest.name).toBe('Apache-2.0');
      expect(readFileSync(join(installed, 'LICENSE'), 'utf8')).toMatch(
        /Apache License\s+Version 2\.0/,
      );
      expect(existsSync(join(installed, 'src')), `${manifest.name} ships src/`).toBe(false);
      for (const [subpath, conditions] of Object.entries(shipped.exports)) {
        expect(conditions.import, `${manifest.name} ${subpath}`).toMatch(
          /^\.\/dist\/.*\.bundled\.js$/,
        );
        expect(conditions.types, `${manifest.name} ${subpath}`).toMatch(/^\.\/dist\/.*\.d\.ts$/);
        expect(existsSync(join(installed, conditions.import!)), conditions.import).toBe(true);
        expect(existsSync(join(installed, conditions.types!)), conditions.types).toBe(true);
        // Its source map ships beside it, and names built modules that ship too (an entry that
        // only re-exports a chunk has no lines of its own to map).
        const bundle = join(installed, conditions.import!);
        const mapRef = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(bundle, 'utf8'));
        if (mapRef === null) continue;
        mapped++;
        const mapFile = join(dirname(bundle), mapRef[1]!);
        const map = JSON.parse(readFileSync(mapFile, 'utf8')) as { sources: string[] };
        expect(map.sources.length, mapFile).toBeGreaterThan(0);
        for (const source of map.sources)
          expect(existsSync(join(dirname(mapFile), source)), `${mapFile}: ${source}`).toBe(true);
      }
      const files = readdirSync(installed, { recursive: true, encoding: 'utf8' });
      expect(files.filter((file) => /\.test\.(js|d\.ts)$/.test(file))).toEqual([]);
    }
    expect(mapped).toBeGreaterThan(5);
    // The dashboard's page and scripts, served from the installed package.
    expect(existsSync(join(project, 'node_modules/@longrun/dashboard/ui/index.html'))).toBe(true);
    // Test kits are subpaths, not main entry points.
    const models = readFileSync(
      join(project, 'node_modules/@longrun/models/dist/index.d.ts'),
      'utf8',
    );
    expect(models).not.toMatch(/scripted-model|wire-server/);
  });

  it('names the built module and line in a stack trace under --enable-source-maps', () => {
    const thrown = spawnSync(
      process.execPath,
      [
        '--enable-source-maps',
        '--input-type=module',
        '-e',
        "import { defineAgent } from '@longrun/runtime'; try { defineAgent({ name: '' }); } catch (e) { console.log(e.stack); }",
      ],
      // Without the repository's source condition, which vitest's NODE_OPTIONS carries.
      { cwd: project, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } },
    );
    expect(thrown.stdout, thrown.stderr).toMatch(/^LongrunError: an agent needs a name/);
    expect(thrown.stdout).toMatch(/at defineAgent \(.*\/dist\/agent\/define-agent\.js:\d+:\d+\)/);
  });

  it('type-checks the TypeScript agent and its test against the installed declarations', () => {
    const checked = npx(project, dirname(process.execPath), ['tsc']);
    // tsc reports type errors on stdout; npm may warn on stderr.
    expect(checked.stdout, checked.stderr).toBe('');
    expect(checked.status, checked.stderr).toBe(0);
  });

  it("runs the user's own vitest test of the agent, written with the testing kits", () => {
    const tested = npx(project, dirname(process.execPath), ['vitest', 'run', '--reporter=verbose']);
    const output = stripVTControlCharacters(tested.stdout);
    expect(output, tested.stderr).toMatch(/✓ .*counts the words of its task with its tool/);
    expect(output).toMatch(/Tests\s+1 passed \(1\)/);
    expect(tested.status, tested.stderr).toBe(0);
  });

  describe.for([process.version, `v${lowestNode}`])('on Node %s', (version) => {
    const bin = (): string => nodes.get(version) ?? '';
    const toolLine = `✓ count_words: {"words":4,"node":"${version}"}`;

    it.for([
      ['./my-agent.mjs', 'JavaScript', 'word-counter-js'],
      ['./my-agent.ts', 'TypeScript', 'word-counter-ts'],
    ])('npx longrun run %s "…" (a %s agent)', ([module, language, agent]) => {
      const run = npx(project, bin(), ['longrun', 'run', module!, task]);
      expect(run.stdout, run.stderr).toContain(`agent ${agent} · store sqlite`);
      expect(run.stdout).toContain(`→ count_words {"text":"${task}"}`);
      expect(run.stdout).toContain(toolLine);
      expect(run.stdout).toContain(
        `session completed: "${language} agent: {\\"words\\":4,\\"node\\":\\"${version}\\"}"`,
      );
      expect(run.stdout).toMatch(/^completed in [\d.]+ s/m);
      // The store's commits ran on its writer thread, whose bundle the package ships.
      expect(run.stderr).not.toMatch(/writer thread/);
      expect(run.status, run.stderr).toBe(0);
    });

    it('npx longrun dev --agents ./my-agent.ts serves the API and the dashboard, and runs a session', async () => {
      const port = await freePort();
      const dev = npxInBackground(project, bin(), [
        'longrun',
        'dev',
        '--agents',
        './my-agent.ts',
        '--port',
        String(port),
      ]);
      try {
        const [, url] = await dev.waitFor(/longrun dev: (http:\/\/127\.0\.0\.1:\d+)/, 60_000);
        expect(url).toBe(`http://127.0.0.1:${port}`);
        expect(dev.output()).toContain('agents: word-counter-ts');
        const created = await fetch(`${url}/v1/sessions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ agent: 'word-counter-ts', message: task }),
        });
        expect(created.status).toBe(201);
        const { id } = ((await created.json()) as { session: { id: string } }).session;
        const session = await eventually('ended session', async () => {
          const response = await fetch(`${url}/v1/sessions/${id}`);
          const view = ((await response.json()) as { session: { status: string } }).session;
          return view.status === 'completed' || view.status === 'failed' ? view : undefined;
        });
        expect(session).toMatchObject({ status: 'completed', steps: 2 });
        const { events } = (await (await fetch(`${url}/v1/sessions/${id}/events`)).json()) as {
          events: { type: string; data: Record<string, unknown> }[];
        };
        expect(events.find((e) => e.type === 'tool.completed')?.data).toMatchObject({
          tool: 'count_words',
          ok: true,
          output: { words: 4, node: version },
        });
        // The dashboard, served from the installed package: its page and a script, types stripped.
        const page = await fetch(`${url}/`);
        expect(page.status).toBe(200);
        expect(await page.text()).toContain('/assets/app.ts');
        const script = await fetch(`${url}/assets/app.ts`);
        expect(script.status).toBe(200);
        expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
        expect(await script.text()).toMatch(/\bimport\b/);
      } finally {
        await dev.stop();
      }
    });
  });
});
