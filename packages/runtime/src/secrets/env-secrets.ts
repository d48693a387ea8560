import type { SecretStore } from '@longrun/core';

/** Environment variables whose values are treated as secrets, by name. */
export const secretLookingName =
  /(key|token|secret|passw|pwd|credential|auth|private|cookie|session|dsn|signature|salt)/i;

/**
 * Shorter values of the whole environment are not listed as secrets: masking them would mask
 * ordinary words and numbers (`XDG_SESSION_TYPE=tty`).
 */
const minListedLength = 6;

/**
 * Secrets from environment variables: `envSecrets()` reads the worker's own environment, each
 * secret by the variable's name. `names` limits it to those names (or those a pattern matches),
 * so a worker can hold variables no agent may ask for. The session's policy still decides which
 * of them a session gets (its `secrets` scopes).
 *
 * `listNames` (what the runtime masks in tools' outputs) gives every variable `names` admits;
 * without `names`, the whole environment is not a list of secrets (PATH, HOME), so it gives
 * those whose name says secret (`*_TOKEN`, `*_KEY`…) and whose value is 6 characters or more.
 */
export function envSecrets(
  options: {
    env?: Readonly<Record<string, string | undefined>>;
    names?: readonly string[] | RegExp;
  } = {},
): SecretStore {
  const env = options.env ?? process.env;
  const names = options.names;
  const known = (name: string): boolean =>
    names === undefined ? true : names instanceof RegExp ? names.test(name) : names.includes(name);
  const listed = (name: string, value: string): boolean =>
    names === undefined
      ? secretLookingName.test(name) && value.length >= minListedLength
      : known(name);
  return {
    get: async (name) => {
      if (!known(name) || !Object.hasOwn(env, name)) return null;
      const value = env[name];
      return value === undefined || value === '' ? null : value;
    },
    listNames: async () =>
      Object.entries(env).flatMap(([name, value]) =>
        value !== undefined && value !== '' && listed(name, value) ? [name] : [],
      ),
  };
}
