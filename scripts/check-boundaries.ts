// Fails (exit 1, one line per offender) when a workspace package crosses a boundary:
//   - a deep import of another package (`@longrun/x/src/…`, any subpath x does not export),
//   - a relative import that escapes its own package (`../../core/src/…`),
//   - an import of a workspace package not declared in package.json
//     (dependencies, devDependencies or peerDependencies),
//   - @longrun/core importing any other @longrun package (core is the bottom layer),
//   - an import cycle between workspace packages,
//   - an import cycle between files (value imports; `import type` is erased and may loop),
//   - an import against the layer table (DESIGN §11): core < adapters < runtime < edges; a
//     package imports its own layer or lower ones, never a higher one,
//   - product code importing a test kit (`@longrun/x/testing`): only tests, test helpers and
//     fixtures, testing entry points and the test-only packages may.
// Imports are read with TypeScript's own scanner, so comments, strings, `import type`,
// `export … from` and `import()` are all handled the way the compiler sees them.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

// The repository to check: this one, or the directory given as the first argument (the tests
// check fixture repositories that break each rule).
const root = resolve(process.argv[2] ?? join(import.meta.dirname, '..'));
const scope = '@longrun/';
const corePackage = '@longrun/core';

/**
 * The layers of the house (DESIGN §11), lowest first. Adapters are siblings that implement core
 * ports; runtime composes them; the edges (API, dashboard, client, CLI) face people and code.
 * Test-only packages sit on top. Every workspace package must be listed.
 */
const layers: readonly (readonly string[])[] = [
  ['core'],
  [
    'store-sqlite',
    'store-postgres',
    'models',
    'sandbox',
    'workspace',
    'telemetry',
    'store-conformance',
  ],
  ['runtime'],
  ['api', 'dashboard', 'client'],
  ['cli'],
  ['e2e'],
];

/** Packages that are test code through and through. */
const testOnlyPackages = new Set(['@longrun/e2e', '@longrun/store-conformance']);

/**
 * Test code, which may import test kits: `*.test.ts`, a package's own `testing.ts`, test helpers
 * and fixtures (`test-*`, `*-test-support.ts`, `*.fixture.ts`, `*.child.ts`, files in a `test-`
 * directory).
 */
function isTestCode(pkg: WorkspacePackage, file: string): boolean {
  if (testOnlyPackages.has(pkg.name)) return true;
  const parts = relative(join(pkg.dir, 'src'), file).split(sep);
  const base = parts.at(-1) ?? '';
  return (
    parts.slice(0, -1).some((dir) => dir.startsWith('test-')) ||
    base === 'testing.ts' ||
    base.startsWith('test-') ||
    /(\.test|-test-support|\.fixture|\.child)\.ts$/.test(base)
  );
}

function layerOf(name: string): number {
  return layers.findIndex((layer) => layer.some((n) => `${scope}${n}` === name));
}

interface WorkspacePackage {
  name: string;
  dir: string;
  declared: Set<string>;
  /** Subpaths other packages may import, from package.json `exports` ("." is the bare name). */
  exported: Set<string>;
}

interface Manifest {
  name: string;
  exports?: string | Record<string, unknown>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

function loadPackages(): Map<string, WorkspacePackage> {
  const packages = new Map<string, WorkspacePackage>();
  for (const entry of readdirSync(join(root, 'packages'))) {
    const dir = join(root, 'packages', entry);
    if (!existsSync(join(dir, 'package.json'))) continue;
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
    const declared = new Set(
      [manifest.dependencies, manifest.devDependencies, manifest.peerDependencies].flatMap((deps) =>
        Object.keys(deps ?? {}),
      ),
    );
    const { exports = '.' } = manifest;
    const exported = new Set(typeof exports === 'string' ? ['.'] : Object.keys(exports));
    packages.set(manifest.name, { name: manifest.name, dir, declared, exported });
  }
  return packages;
}

function sourceFiles(pkg: WorkspacePackage): string[] {
  const src = join(pkg.dir, 'src');
  if (!existsSync(src)) return [];
  return readdirSync(src, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => join(src, file));
}

/** Every module specifier in a file, with its 1-based line. */
function importsOf(file: string): { specifier: string; line: number }[] {
  const text = readFileSync(file, 'utf8');
  return ts.preProcessFile(text, true, true).importedFiles.map((ref) => ({
    specifier: ref.fileName,
    line: text.slice(0, ref.pos).split('\n').length,
  }));
}

/**
 * The relative imports of a file that exist at run time: `import type`, `export type` and
 * imports whose every name is a type are erased, so they cannot make a loading cycle.
 */
function valueImportsOf(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const found: string[] = [];
  for (const statement of source.statements) {
    let specifier: ts.Expression | undefined;
    if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause;
      const bindings = clause?.namedBindings;
      const onlyTypes =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            bindings !== undefined &&
            ts.isNamedImports(bindings) &&
            bindings.elements.length > 0 &&
            bindings.elements.every((e) => e.isTypeOnly)));
      if (!onlyTypes) specifier = statement.moduleSpecifier;
    } else if (ts.isExportDeclaration(statement) && !statement.isTypeOnly) {
      const clause = statement.exportClause;
      const onlyTypes =
        clause !== undefined &&
        ts.isNamedExports(clause) &&
        clause.elements.length > 0 &&
        clause.elements.every((e) => e.isTypeOnly);
      if (!onlyTypes) specifier = statement.moduleSpecifier;
    }
    if (
      specifier !== undefined &&
      ts.isStringLiteral(specifier) &&
      specifier.text.startsWith('.')
    ) {
      found.push(resolve(dirname(file), specifier.text));
    }
  }
  return found;
}

/** What is wrong with one import, or null; records package edges for the cycle check. */
function checkImport(
  pkg: WorkspacePackage,
  file: string,
  specifier: string,
  packages: Map<string, WorkspacePackage>,
  edges: Set<string>,
): string | null {
  if (specifier.startsWith('.')) {
    const target = resolve(dirname(file), specifier);
    return target.startsWith(pkg.dir + sep) ? null : `'${specifier}' escapes ${pkg.name}`;
  }
  if (!specifier.startsWith(scope)) return null;
  const [scopeName = '', baseName = '', ...rest] = specifier.split('/');
  const name = `${scopeName}/${baseName}`;
  const target = packages.get(name);
  if (target === undefined) return `'${specifier}' is not a workspace package`;
  if (target === pkg) return null;
  edges.add(name);
  const subpath = rest.length === 0 ? '.' : `./${rest.join('/')}`;
  if (!target.exported.has(subpath)) {
    return `deep import '${specifier}': ${name} does not export it`;
  }
  if (subpath === './testing' && !isTestCode(pkg, file)) {
    return `imports the test kit '${specifier}' from product code (only tests and test helpers may)`;
  }
  if (pkg.name === corePackage) return `${corePackage} must not import other packages ('${name}')`;
  if (!pkg.declared.has(name)) return `imports ${name}, which its package.json does not declare`;
  if (layerOf(name) > layerOf(pkg.name)) {
    return `imports ${name}, a higher layer (layers: ${layers.map((l) => l.join(' ')).join(' < ')})`;
  }
  return null;
}

/** Each cycle once, as `a -> b -> a`, found by depth-first search over the package graph. */
function findCycles(graph: Map<string, Set<string>>): string[] {
  const cycles = new Set<string>();
  const done = new Set<string>();
  const visit = (name: string, path: string[]): void => {
    const at = path.indexOf(name);
    if (at >= 0) {
      const cycle = path.slice(at);
      // Rotate so the smallest name leads: the same cycle found from elsewhere dedupes.
      const start = cycle.indexOf([...cycle].sort()[0] ?? name);
      const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
      cycles.add([...rotated, rotated[0]].join(' -> '));
      return;
    }
    if (done.has(name)) return;
    for (const next of graph.get(name) ?? []) visit(next, [...path, name]);
    done.add(name);
  };
  for (const name of graph.keys()) visit(name, []);
  return [...cycles];
}

function main(): number {
  const packages = loadPackages();
  const problems: string[] = [];
  const graph = new Map<string, Set<string>>();
  const fileGraph = new Map<string, Set<string>>();
  let fileCount = 0;
  for (const pkg of packages.values()) {
    if (layerOf(pkg.name) < 0) {
      problems.push(`${relative(root, pkg.dir)}: ${pkg.name} is in no layer of the layer table`);
    }
    const edges = new Set<string>();
    graph.set(pkg.name, edges);
    for (const file of sourceFiles(pkg)) {
      fileCount += 1;
      for (const { specifier, line } of importsOf(file)) {
        const problem = checkImport(pkg, file, specifier, packages, edges);
        if (problem !== null) problems.push(`${relative(root, file)}:${line}: ${problem}`);
      }
      fileGraph.set(
        relative(root, file),
        new Set(valueImportsOf(file).map((f) => relative(root, f))),
      );
    }
  }
  problems.push(...findCycles(graph).map((cycle) => `import cycle: ${cycle}`));
  problems.push(...findCycles(fileGraph).map((cycle) => `file import cycle: ${cycle}`));
  const checked = `${fileCount} files in ${packages.size} packages`;
  if (problems.length === 0) {
    console.log(`check-boundaries: ${checked}, no boundary violations`);
    return 0;
  }
  console.error(problems.join('\n'));
  console.error(`check-boundaries: ${problems.length} boundary violation(s) in ${checked}`);
  return 1;
}

process.exitCode = main();
