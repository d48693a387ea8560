import { describe, expect, it } from 'vitest';
import type { SecretStore } from '@longrun/core';
import { envSecrets } from './env-secrets.ts';
import { cachedServedSecrets, loadServedSecrets } from './served-secrets.ts';

describe('served secrets', () => {
  it('masks with every secret the store lists; a store that cannot list masks nothing', async () => {
    const env = { API_TOKEN: 'tok-123456', HOME: '/root', SHORT_KEY: 'abc' };
    const { mask, values } = await loadServedSecrets(envSecrets({ env }));
    expect(values).toEqual(['tok-123456']);
    expect(mask.text('a tok-123456 /root')).toBe('a [secret:API_TOKEN] /root');
    const unlisted: SecretStore = { get: async () => 'tok-123456' };
    expect((await loadServedSecrets(unlisted)).mask.empty).toBe(true);
  });

  it('reads the store again after refreshMs, and at once after a failed read', async () => {
    let reads = 0;
    let fail = false;
    let value = 'first-value';
    const store: SecretStore = {
      get: async () => value,
      listNames: async () => {
        reads++;
        if (fail) throw new Error('store down');
        return ['API_TOKEN'];
      },
    };
    let nowMs = 0;
    const served = cachedServedSecrets(store, 1_000, () => nowMs);
    expect((await served()).values).toEqual(['first-value']);
    value = 'second-value';
    nowMs = 999;
    expect((await served()).values).toEqual(['first-value']);
    nowMs = 1_000;
    expect((await served()).values).toEqual(['second-value']);
    expect(reads).toBe(2);
    fail = true;
    nowMs = 2_000;
    await expect(served()).rejects.toThrow('store down');
    fail = false;
    expect((await served()).values).toEqual(['second-value']);
    expect(reads).toBe(4);
  });
});
