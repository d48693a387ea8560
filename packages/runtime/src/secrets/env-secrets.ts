import type { SecretStore } from '@longrun/core';

/**
 * Secrets from environment variables: `envSecrets()` reads the worker's own environment, each
 * secret by the variable's name. `names` limits it to those names (or those a pattern matches),
 * so a worker can hold variables no agent may ask for. The session's policy still decides which
 * of them a session gets (its `secrets` scopes).
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
  return {
    get: async (name) => {
      if (!known(name) || !Object.hasOwn(env, name)) return null;
      const value = env[name];
      return value === undefined || value === '' ? null : value;
    },
  };
}
