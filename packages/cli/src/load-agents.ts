import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { defineAgent, type AgentDefinition } from '@longrun/runtime';
import { isLongrunError } from '@longrun/core';
import { UsageError } from './args.ts';

function isAgent(value: unknown): value is AgentDefinition {
  return (
    typeof value === 'object' &&
    value !== null &&
    'name' in value &&
    'tools' in value &&
    'model' in value
  );
}

/** `--conditions` given to this process (flags or NODE_OPTIONS): `@longrun/source` in the repository. */
function userConditions(): string[] {
  const args = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return args.flatMap((arg, i) => {
    if (arg.startsWith('--conditions=')) return [arg.slice('--conditions='.length)];
    const next = args[i + 1];
    return (arg === '--conditions' || arg === '-C') && next !== undefined ? [next] : [];
  });
}

/**
 * The file an `exports` target names for an import by this process: a string, or the first
 * matching condition of a conditions object (Node's order: the object's own).
 */
function exportTarget(target: unknown, conditions: ReadonlySet<string>): string | undefined {
  if (typeof target === 'string') return target;
  if (typeof target !== 'object' || target === null || Array.isArray(target)) return undefined;
  for (const [condition, value] of Object.entries(target)) {
    if (conditions.has(condition)) return exportTarget(value, conditions);
  }
  return undefined;
}

/** A package.json's entry point: `exports["."]` (or its sugar forms), else `main`. */
function packageEntry(pkg: { exports?: unknown; main?: string }): string | undefined {
  const conditions = new Set(['import', 'node', 'default', ...userConditions()]);
  const { exports } = pkg;
  if (exports === undefined) return pkg.main;
  const subpaths =
    typeof exports === 'object' &&
    exports !== null &&
    Object.keys(exports).some((k) => k.startsWith('.'));
  return exportTarget(subpaths ? (exports as Record<string, unknown>)['.'] : exports, conditions);
}

/**
 * The module file a path names, relative to the current directory: a file, or a package
 * directory's entry point (`exports["."]`, conditional or not, or `main`).
 */
function moduleFile(path: string): string {
  const full = resolve(path);
  if (!existsSync(full))
    throw new UsageError(
      `no agent module at ${path}: give a file or a package directory exporting an agent`,
    );
  if (!statSync(full).isDirectory()) return full;
  const manifest = join(full, 'package.json');
  if (!existsSync(manifest)) throw new UsageError(`${path} is a directory without a package.json`);
  const entry = packageEntry(
    JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: unknown; main?: string },
  );
  if (entry === undefined)
    throw new UsageError(`${manifest} names no entry point (exports["."] or main)`);
  return join(full, entry);
}

/**
 * Loads agent definitions from modules: each module's default export is an agent or a list of
 * agents (its other exports are ignored).
 */
export async function loadAgents(paths: readonly string[]): Promise<AgentDefinition[]> {
  const agents: AgentDefinition[] = [];
  for (const path of paths) {
    const module = (await import(pathToFileURL(moduleFile(path)).href)) as { default?: unknown };
    const exported = Array.isArray(module.default)
      ? (module.default as unknown[])
      : [module.default];
    const found = exported.filter(isAgent);
    if (found.length === 0)
      throw new UsageError(
        `${path} has no default export that is an agent (defineAgent(...)) or a list of agents`,
      );
    // Through defineAgent again (it is idempotent): an object literal that never went through it
    // is checked here, at load, not when its first session runs (a raw model of an unknown kind,
    // a tool longrun cannot run).
    for (const agent of found) {
      try {
        agents.push(defineAgent(agent));
      } catch (error) {
        if (isLongrunError(error, 'INVALID_ARGUMENT'))
          throw new UsageError(`${path}: ${(error as Error).message}`);
        throw error;
      }
    }
  }
  return agents;
}
