import { randomBytes } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLongrunError } from '@longrun/core';
import { runBlobStoreContract } from './blob-store-contract.ts';
import { sha256Hex } from './hashing.ts';
import { restoreWorkspace } from './restore-workspace.ts';
import { S3BlobStore } from './s3-blob-store.ts';
import { snapshotWorkspace } from './snapshot-workspace.ts';
import { verifyWorkspace } from './verify-workspace.ts';
import { startS3TestServer, type S3TestServer } from './test-support/s3-test-server.ts';
import { readTree, removeDir, tempDir, writeTree } from './test-support/workspace-fixtures.ts';

let server: S3TestServer;
beforeAll(async () => {
  server = await startS3TestServer();
});
afterAll(async () => {
  await server.close();
});

function storeFor(
  s: S3TestServer,
  options: { prefix?: string; secret?: string; concurrency?: number } = {},
) {
  return new S3BlobStore({
    bucket: s.bucket,
    prefix: options.prefix,
    concurrency: options.concurrency,
    clientConfig: {
      endpoint: s.endpoint,
      region: s.region,
      forcePathStyle: true,
      maxAttempts: 1,
      credentials: {
        accessKeyId: s.credentials.accessKeyId,
        secretAccessKey: options.secret ?? s.credentials.secretAccessKey,
      },
    },
  });
}

let run = 0;
runBlobStoreContract('s3 (local SigV4-checking server)', () => {
  // A fresh prefix per test is a fresh, empty store on the same server.
  const store = storeFor(server, { prefix: `contract-${(run += 1)}` });
  return { store, close: () => store.close() };
});

describe('S3BlobStore against a local S3 wire-protocol server', () => {
  it('keys blobs as <prefix>/<hash>, and every request was signed correctly', async () => {
    const store = storeFor(server, { prefix: 'tenants/t1/' });
    const bytes = new TextEncoder().encode('keyed');
    const hash = sha256Hex(bytes);
    await store.put(hash, bytes);
    expect(server.objects.has(`tenants/t1/${hash}`)).toBe(true);
    expect(server.refused.count).toBe(0);
    await store.close();
  });

  it('a wrong secret is refused by the server and reported as a non-retryable error', async () => {
    const store = storeFor(server, { prefix: 'bad', secret: 'not-the-secret' });
    const before = server.refused.count;
    const error: unknown = await store.get('b'.repeat(64)).catch((e: unknown) => e);
    expect(isLongrunError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect((error as { retryable: boolean }).retryable).toBe(false);
    expect((error as Error).message).toContain('SignatureDoesNotMatch');
    expect(server.refused.count).toBe(before + 1);
    await store.close();
  });

  it('answers missing with HEADs, at most `concurrency` at once', async () => {
    const store = storeFor(server, { prefix: 'heads', concurrency: 4 });
    const hashes = Array.from({ length: 60 }, () => sha256Hex(randomBytes(8)));
    for (const hash of hashes.slice(0, 10)) await store.put(hash, new Uint8Array([1]));
    server.maxConcurrentHeads.value = 0;
    server.holdHeads.value = 4;
    try {
      expect(await store.missing(hashes)).toEqual(hashes.slice(10));
    } finally {
      server.holdHeads.value = 1;
    }
    expect(server.maxConcurrentHeads.value).toBe(4);
    await store.close();
  });

  it('an unreachable endpoint is a retryable STORE_UNAVAILABLE', async () => {
    const down = await startS3TestServer();
    await down.close();
    const store = storeFor(down);
    const error: unknown = await store.missing(['c'.repeat(64)]).catch((e: unknown) => e);
    expect(isLongrunError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect((error as { retryable: boolean }).retryable).toBe(true);
    await store.close();
  });

  it('snapshots and restores a workspace through S3, with a client the caller owns', async () => {
    const source = tempDir('s3-source');
    const target = tempDir('s3-target');
    const client = new S3Client({
      endpoint: server.endpoint,
      region: server.region,
      forcePathStyle: true,
      credentials: server.credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    try {
      writeTree(source, {
        'a.txt': 'a',
        'd/big.bin': randomBytes(5 * 1024 * 1024),
        'x.sh': { content: 'x', mode: 0o755 },
      });
      const blobs = new S3BlobStore({ bucket: server.bucket, prefix: 'workspaces', client });
      const snap = await snapshotWorkspace({ dir: source, blobs });
      await restoreWorkspace({ dir: target, blobs, manifestHash: snap.manifestHash });
      expect(readTree(target)).toEqual(readTree(source));
      expect(await verifyWorkspace(target, snap.manifest)).toEqual([]);
    } finally {
      client.destroy();
      removeDir(source);
      removeDir(target);
    }
  });
});
