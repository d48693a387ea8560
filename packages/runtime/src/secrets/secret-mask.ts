import type { JsonValue } from '@longrun/core';
import { secretPatternSource } from './secret-patterns.ts';

/**
 * Replaces every value of a set of secrets, in any of its common forms (secret-patterns.ts), with
 * `[secret:<name>]`. Built once for a set: one regular expression, one pass over each string. An
 * empty set costs nothing: its methods return what they are given.
 */
export class SecretMask {
  static readonly none = new SecretMask(new Map());

  /** Each secret is one capturing group, longest value first: a value inside another masks as it. */
  readonly #pattern: RegExp | null;
  /** The name of the secret of group i + 1. */
  readonly #names: readonly string[];

  /** `secrets`: value → name. Empty values are not secrets and are left out. */
  constructor(secrets: ReadonlyMap<string, string>) {
    const byLength = [...secrets]
      .filter(([value]) => value.length > 0)
      .sort(([a], [b]) => b.length - a.length);
    this.#names = byLength.map(([, name]) => name);
    this.#pattern =
      byLength.length === 0
        ? null
        : new RegExp(byLength.map(([value]) => `(${secretPatternSource(value)})`).join('|'), 'g');
  }

  get empty(): boolean {
    return this.#pattern === null;
  }

  text(value: string): string {
    if (this.#pattern === null) return value;
    return value.replace(this.#pattern, (...groups: unknown[]) => {
      // replace's arguments: the match, then one per group (undefined unless it matched), …
      const index = groups.findIndex((g, i) => i > 0 && g !== undefined);
      return `[secret:${this.#names[index - 1] ?? 'unknown'}]`;
    });
  }

  /** Every string of a JSON value masked, object keys included. */
  json(value: JsonValue): JsonValue {
    if (this.#pattern === null) return value;
    const scrub = (v: JsonValue): JsonValue => {
      if (typeof v === 'string') return this.text(v);
      if (Array.isArray(v)) return v.map(scrub);
      if (v !== null && typeof v === 'object')
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [this.text(k), scrub(x)]));
      return v;
    };
    return scrub(value);
  }

  /** Whether `value` holds any of the secrets in any of their forms. */
  finds(value: string): boolean {
    // `search` ignores (and keeps) the global pattern's lastIndex.
    return this.#pattern !== null && value.search(this.#pattern) !== -1;
  }
}
