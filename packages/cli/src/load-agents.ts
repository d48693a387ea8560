import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AgentDefinition } from '@longrun/runtime';
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

/** The module file a path names: a file, or a package directory's `exports["."]` / `main`. */
function moduleFile(path: string): string {
  const full = resolve(path);
  if (!existsSync(full))
    throw new UsageError(
      `no agent module at ${path}: give a file or a package directory exporting an agent`,
    );
  if (!statSync(full).isDirectory()) return full;
  const manifest = join(full, 'package.json');
  if (!existsSync(manifest)) throw new UsageError(`${path} is a directory without a package.json`);
  const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: unknown; main?: string };
  const entry =
    typeof pkg.exports === 'string'
      ? pkg.exports
      : ((pkg.exports as Record<string, unknown> | undefined)?.['.'] ?? pkg.main);
  if (typeof entry !== 'string')
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
    agents.push(...found);
  }
  return agents;
}
