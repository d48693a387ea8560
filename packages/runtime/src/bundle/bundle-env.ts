import { readFileSync } from 'node:fs';
import type { SessionStore, StoredEvent } from '@longrun/core';

/** This package's version (src/bundle and dist/bundle are both two levels below package.json). */
export function longrunVersion(): string {
  const manifest = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
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
