// `npm run build`'s second half, after `tsc -b`: bundles each public package's built JavaScript
// into one module per entry point (`dist/index.bundled.js` beside `dist/index.js`), which is what
// the package's `exports` and `bin` name. A worker that imported ~270 modules one by one spent
// ~90 ms of its start resolving and loading them; the bundles load in a few.
//
// One build per package, so a package's entry points share its modules (one instance of each);
// every bare import (`node:*`, `@longrun/*`, dependencies) stays an import, so packages keep their
// boundaries and a user's `zod` is the one longrun sees. Bundles and their shared chunks are
// written beside the entry points they replace, so `new URL('../package.json', import.meta.url)`
// and the like resolve as they do from tsc's output. Each bundled package gets
// `dist/bundled.stamp`, newer than its tsbuildinfo, so `./longrun` knows the bundles are current.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { build } from 'rolldown';

interface Manifest {
  name: string;
  private?: boolean;
  exports?: Record<string, Record<string, string>>;
  bin?: Record<string, string>;
  /** Modules loaded by path at run time (a worker thread's script), bundled as entries too. */
  longrunBundleEntries?: string[];
}

const root = join(import.meta.dirname, '..');
const bundledSuffix = '.bundled.js';

/** The tsc-built file a bundle is made from: `./dist/index.bundled.js` → `dist/index.js`. */
function sourceOf(packageDir: string, target: string): string {
  if (!target.endsWith(bundledSuffix))
    throw new Error(`${packageDir}: ${target} should name a bundle (*${bundledSuffix})`);
  return join(packageDir, `${target.slice(0, -bundledSuffix.length)}.js`);
}

async function bundlePackage(packageDir: string, manifest: Manifest): Promise<number> {
  const targets = [
    ...Object.values(manifest.exports ?? {}).flatMap((conditions) =>
      Object.entries(conditions)
        .filter(([condition]) => condition === 'import')
        .map(([, target]) => target),
    ),
    ...Object.values(manifest.bin ?? {}),
  ];
  const inputs = [
    ...new Set([
      ...targets.map((target) => sourceOf(packageDir, target)),
      ...(manifest.longrunBundleEntries ?? []).map((entry) => join(packageDir, entry)),
    ]),
  ];
  if (inputs.length === 0) return 0;
  // Every entry point sits in one directory (dist/, or dist/src/ for the dashboard).
  const outDir = dirname(inputs[0] as string);
  const input = Object.fromEntries(
    inputs.map((file) => {
      if (dirname(file) !== outDir)
        throw new Error(`${manifest.name}: entry points in two directories (${outDir}, ${file})`);
      return [relative(outDir, file).slice(0, -'.js'.length), file];
    }),
  );
  // Chunks are named by their hash: the last build's would linger, and be packed, if kept.
  for (const file of readdirSync(outDir))
    if (file.endsWith(bundledSuffix) || file.endsWith(`${bundledSuffix}.map`))
      rmSync(join(outDir, file));
  const output = await build({
    input,
    platform: 'node',
    // Bare specifiers are other packages: imported, not copied in.
    external: (id) => !id.startsWith('.') && !id.startsWith('/') && !id.startsWith('\0'),
    logLevel: 'warn',
    output: {
      dir: outDir,
      format: 'esm',
      entryFileNames: `[name]${bundledSuffix}`,
      chunkFileNames: `[name]-[hash]${bundledSuffix}`,
      // Errors and classes keep their names (LongrunError, a tool's function) in a bundle.
      keepNames: true,
      // A map beside each bundle, to the built modules it was made from (dist/**/*.js, shipped
      // beside it): run with --enable-source-maps, a stack trace names those files and lines.
      sourcemap: true,
      sourcemapExcludeSources: true,
      cleanDir: false,
    },
  });
  writeFileSync(join(packageDir, 'dist', 'bundled.stamp'), `${new Date().toISOString()}\n`);
  return output.output.length;
}

const readManifest = (dir: string): Manifest & { workspaces?: string[] } =>
  JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

const workspaces = readManifest(root).workspaces ?? [];
const started = performance.now();
let files = 0;
for (const workspace of workspaces) {
  const packageDir = join(root, workspace);
  const manifest = readManifest(packageDir);
  if (manifest.private === true) continue;
  files += await bundlePackage(packageDir, manifest);
}
console.log(`bundled ${files} files in ${Math.round(performance.now() - started)} ms`);
