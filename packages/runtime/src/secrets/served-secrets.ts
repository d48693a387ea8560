import type { SecretStore } from '@longrun/core';
import { SecretMask } from './secret-mask.ts';

/**
 * What a process that serves a session's files (the API's file routes, its debug bundle) masks
 * them with: every secret its own secret store lists, with its value. A credential a tool wrote
 * into the workspace is in the workspace and in its snapshots in the blob store; this masks it in
 * what is served, and only where the serving process can resolve it — an API whose store does not
 * hold a worker's secret serves that value as it is (docs/security.md, Secrets).
 */
export interface ServedSecrets {
  /** Masks text (`[secret:<name>]`), in the forms tools' outputs are masked in. */
  mask: SecretMask;
  /** The values, for byte-for-byte redaction of what is not text (`Redactor`). */
  values: readonly string[];
}

/** Loads `store`'s secrets: those `listNames` gives (a store that cannot list gives none). */
export async function loadServedSecrets(store: SecretStore): Promise<ServedSecrets> {
  const names = (await store.listNames?.()) ?? [];
  const values = await Promise.all(names.map((name) => store.get(name)));
  const byValue = new Map<string, string>();
  names.forEach((name, i) => {
    const value = values[i];
    if (typeof value === 'string' && value !== '' && !byValue.has(value)) byValue.set(value, name);
  });
  return { mask: new SecretMask(byValue), values: [...byValue.keys()] };
}

/**
 * `loadServedSecrets`, read again at most every `refreshMs` (a store behind a network is not
 * asked on every request; a rotated value is masked from the next read on). `nowMs` is the clock.
 */
export function cachedServedSecrets(
  store: SecretStore,
  refreshMs = 30_000,
  nowMs: () => number = Date.now,
): () => Promise<ServedSecrets> {
  let loaded: { atMs: number; secrets: Promise<ServedSecrets> } | null = null;
  return () => {
    const atMs = nowMs();
    if (loaded === null || atMs - loaded.atMs >= refreshMs) {
      const secrets = loadServedSecrets(store);
      loaded = { atMs, secrets };
      // A failed read is not kept: the next request asks the store again.
      secrets.catch(() => {
        if (loaded?.secrets === secrets) loaded = null;
      });
    }
    return loaded.secrets;
  };
}
