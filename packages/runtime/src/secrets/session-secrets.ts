import {
  evaluatePolicy,
  isSecretName,
  type PolicyLayer,
  type SecretStore,
  type StoredEvent,
} from '@longrun/core';
import { SecretMask } from './secret-mask.ts';

/**
 * The secret values a session's outputs are masked with: not only those the current call was
 * given, since a value written to the workspace (a `.netrc`) comes back through any later tool —
 * `read_file`, a `cat` — and that output reaches the model and the log as well. Values live in
 * memory only; `loadSessionSecrets` rebuilds the set from the secret store, so a worker that
 * resumes the session masks what an earlier one handed out.
 */
export class SessionSecrets {
  /** value → name */
  readonly #byValue = new Map<string, string>();
  #mask: SecretMask | null = SecretMask.none;

  /** A value a call's code was given, or one the session could be: it masks from now on. */
  add(name: string, value: string): void {
    if (value === '' || this.#byValue.has(value)) return;
    this.#byValue.set(value, name);
    this.#mask = null;
  }

  get size(): number {
    return this.#byValue.size;
  }

  /** The mask for the values so far, built again only after one was added. */
  get mask(): SecretMask {
    return (this.#mask ??= new SecretMask(this.#byValue));
  }
}

export interface LoadSessionSecretsOptions {
  store: SecretStore;
  /** The layers the session runs under: a secret one of them denies is never the session's. */
  policies: readonly PolicyLayer[];
  /** The session's log, read only for a store that cannot list its names (see below). */
  readEvents: (afterSeq: number, limit: number) => Promise<StoredEvent[]>;
}

const logPageSize = 2_000;

/**
 * Every secret the store would give this session (every policy layer allows it), with its value:
 * the names the store lists (`SecretStore.listNames`), those the policies name outright, and —
 * for a store that cannot list — those the log records as given (`policy.decided` with `secret`).
 * Masking what the session could be given, not only what it was, needs no record of values.
 */
export async function loadSessionSecrets(
  options: LoadSessionSecretsOptions,
): Promise<SessionSecrets> {
  const { store, policies } = options;
  const names = new Set<string>();
  for (const layer of policies)
    for (const glob of layer.policy.secrets ?? []) if (isSecretName(glob)) names.add(glob);
  if (store.listNames !== undefined) {
    for (const name of await store.listNames()) names.add(name);
  } else if (policies.length > 0) {
    for (const name of await namesGivenInLog(options.readEvents)) names.add(name);
  }
  const allowed = [...names].filter(
    (name) =>
      isSecretName(name) &&
      (policies.length === 0 ||
        evaluatePolicy(policies, { kind: 'secret', name }).decision === 'allow'),
  );
  const values = await Promise.all(allowed.map((name) => store.get(name)));
  const secrets = new SessionSecrets();
  allowed.forEach((name, i) => {
    const value = values[i];
    if (typeof value === 'string') secrets.add(name, value);
  });
  return secrets;
}

async function namesGivenInLog(
  readEvents: LoadSessionSecretsOptions['readEvents'],
): Promise<Set<string>> {
  const names = new Set<string>();
  for (let after = 0; ;) {
    const page = await readEvents(after, logPageSize);
    for (const e of page)
      if (e.type === 'policy.decided' && e.data.secret !== undefined && e.data.decision === 'allow')
        names.add(e.data.secret);
    if (page.length < logPageSize) return names;
    after = page.at(-1)?.seq ?? after;
  }
}
