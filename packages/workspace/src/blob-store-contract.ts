import { createHash, randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLongrunError, type BlobStore, type ErrorCode } from '@longrun/core';

/** One store under test and how to release it. */
export interface BlobStoreContractTarget {
  store: BlobStore;
  close?: () => Promise<void> | void;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function blob(text: string): { hash: string; bytes: Uint8Array } {
  const bytes = new TextEncoder().encode(text);
  return { hash: sha256(bytes), bytes };
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error: unknown = await promise.then(
    () => new Error(`expected ${code}, but the call succeeded`),
    (e: unknown) => e,
  );
  if (!isLongrunError(error, code)) throw error instanceof Error ? error : new Error(String(error));
}

/**
 * The contract every BlobStore passes (memory, directory, S3, and the session stores' own
 * tables). `makeStore` returns a fresh, empty store for each test. Content is keyed by SHA-256;
 * the store itself does not verify that bytes match their hash (readers do), so this suite does
 * not ask it to.
 */
export function runBlobStoreContract(
  name: string,
  makeStore: () => Promise<BlobStoreContractTarget> | BlobStoreContractTarget,
): void {
  describe(`${name} blob store contract`, () => {
    let target: BlobStoreContractTarget;
    beforeEach(async () => {
      target = await makeStore();
    });
    afterEach(async () => {
      await target.close?.();
    });
    const store = (): BlobStore => target.store;

    it('has a kind', () => {
      expect(typeof store().kind).toBe('string');
      expect(store().kind.length).toBeGreaterThan(0);
    });

    it('returns the bytes put under a hash, byte for byte', async () => {
      const a = blob('hello, workspace\n');
      const bytes = randomBytes(70_000);
      const b = { hash: sha256(bytes), bytes: new Uint8Array(bytes) };
      await store().put(a.hash, a.bytes);
      await store().put(b.hash, b.bytes);
      expect(Buffer.from((await store().get(a.hash)) ?? [])).toEqual(Buffer.from(a.bytes));
      expect(Buffer.from((await store().get(b.hash)) ?? [])).toEqual(Buffer.from(b.bytes));
    });

    it('stores the empty blob', async () => {
      const empty = blob('');
      await store().put(empty.hash, empty.bytes);
      const got = await store().get(empty.hash);
      expect(got).not.toBeNull();
      expect(got?.byteLength).toBe(0);
      expect(await store().missing([empty.hash])).toEqual([]);
    });

    it('answers null for a hash never stored', async () => {
      expect(await store().get(blob('never stored').hash)).toBeNull();
    });

    it('reports missing hashes in the order given', async () => {
      const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((t) => blob(`missing-${t}`)) as [
        ReturnType<typeof blob>,
        ReturnType<typeof blob>,
        ReturnType<typeof blob>,
        ReturnType<typeof blob>,
      ];
      await store().put(b.hash, b.bytes);
      await store().put(d.hash, d.bytes);
      expect(await store().missing([d.hash, c.hash, b.hash, a.hash])).toEqual([c.hash, a.hash]);
      expect(await store().missing([])).toEqual([]);
    });

    it('stores a hash once: a second put leaves the first bytes in place', async () => {
      const a = blob('first bytes');
      await store().put(a.hash, a.bytes);
      await store().put(a.hash, a.bytes);
      await store().put(a.hash, new TextEncoder().encode('other bytes under the same hash'));
      expect(new TextDecoder().decode((await store().get(a.hash)) ?? undefined)).toBe(
        'first bytes',
      );
    });

    it('survives concurrent puts of the same blob', async () => {
      const a = blob('raced '.repeat(10_000));
      await Promise.all(Array.from({ length: 8 }, () => store().put(a.hash, a.bytes)));
      expect(Buffer.from((await store().get(a.hash)) ?? [])).toEqual(Buffer.from(a.bytes));
    });

    it('keeps what was put even if the caller reuses its buffer', async () => {
      const bytes = new TextEncoder().encode('do not alias me');
      const hash = sha256(bytes);
      await store().put(hash, bytes);
      bytes.fill(0);
      expect(new TextDecoder().decode((await store().get(hash)) ?? undefined)).toBe(
        'do not alias me',
      );
    });

    it('round-trips a 20 MB blob', async () => {
      const bytes = new Uint8Array(randomBytes(20 * 1024 * 1024));
      const hash = sha256(bytes);
      await store().put(hash, bytes);
      const got = await store().get(hash);
      expect(got?.byteLength).toBe(bytes.byteLength);
      expect(sha256(got ?? new Uint8Array(0))).toBe(hash);
    });

    it('refuses a malformed hash with INVALID_ARGUMENT', async () => {
      const good = blob('x');
      const bad = [
        good.hash.toUpperCase(),
        good.hash.slice(1),
        `${good.hash}0`,
        'z'.repeat(64),
        '',
        `../${good.hash.slice(3)}`,
      ];
      for (const hash of bad) {
        await expectCode(store().put(hash, good.bytes), 'INVALID_ARGUMENT');
        await expectCode(store().get(hash), 'INVALID_ARGUMENT');
        await expectCode(store().missing([good.hash, hash]), 'INVALID_ARGUMENT');
      }
    });
  });
}
