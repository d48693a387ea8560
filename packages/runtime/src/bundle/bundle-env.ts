import { existsSync, readFileSync } from 'node:fs';
import type { SessionStore, StoredEvent } from '@longrun/core';

/**
 * This package's version, from its package.json: two levels up from src/bundle/ and dist/bundle/,
 * one from the package's bundle in dist/ (scripts/bundle-dist.ts).
 */
export function longrunVersion(): string {
  for (const relative of ['../../package.json', '../package.json']) {
    const path = new URL(relative, import.meta.url);
    if (!existsSync(path)) continue;
    const manifest = JSON.parse(readFileSync(path, 'utf8')) as { name?: string; version: string };
    if (manifest.name === '@longrun/runtime') return manifest.version;
  }
  throw new Error(`@longrun/runtime's package.json is not above ${import.meta.url}`);
}

export interface BundleEnvInput {
  store: SessionStore;
  events: readonly StoredEvent[];
  /** The agent's own version, when the caller knows it (its package's, say). */
  agentVersion?: string;
}

/** The models a session's log names: the ones it was sent to and the ones that answered. */
function modelsOf(events: readonly StoredEvent[]): string[] {
  const models = new Set<string>();
  for (const e of events) {
    if (e.type === 'model.requested') models.add(e.data.modelId);
    if (e.type === 'model.responded') {
      if (e.data.modelId !== undefined) models.add(e.data.modelId);
      if (e.data.requestedModelId !== undefined) models.add(e.data.requestedModelId);
    }
    if (e.type === 'context.compacted') models.add(e.data.modelId);
  }
  return [...models].sort();
}

/** `env.txt`: the versions and settings a post-mortem needs, as `name: value` lines. No secrets. */
export function bundleEnv(input: BundleEnvInput): string {
  const created = input.events[0];
  const agent = created?.type === 'session.created' ? created.data.agent : 'unknown';
  const lines = [
    ['longrun version', longrunVersion()],
    ['agent', agent],
    ['agent version', input.agentVersion ?? 'unknown'],
    ['models', modelsOf(input.events).join(', ') || 'none'],
    ['node version', process.version],
    ['platform', `${process.platform} ${process.arch}`],
    ['store kind', input.store.kind],
    ['blob store kind', input.store.blobs.kind],
    ['events', String(input.events.length)],
  ];
  return `${lines.map(([k, v]) => `${k}: ${v}`).join('\n')}\n`;
}
