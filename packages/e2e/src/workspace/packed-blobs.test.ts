import { createHash } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '@longrun/cli';
import type { SessionStore } from '@longrun/core';
import { peerAgent } from '../bench/peer-agent.ts';
import { runPeerSessions } from '../bench/peer-runs.ts';
import { pgUrl, targets, type StoreTarget } from '../store-targets.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Text as a workspace holds it: a manifest's hex hashes, an appended log's lines. */
function textBlob(lines: number): Uint8Array {
  const text = Array.from(
    { length: lines },
    (_, i) => `line ${i} ${sha256(Buffer.from(String(i % 7)))}\n`,
  ).join('');
  return Buffer.from(text);
}

interface BlobRow {
  hash: string;
  size: number;
  bytes: Uint8Array;
}

/** The blob table's rows, read past the store. */
async function blobRows(target: StoreTarget): Promise<BlobRow[]> {
  if (target.kind === 'sqlite') {
    const db = new DatabaseSync(target.url, { readOnly: true });
    try {
      return db.prepare('SELECT hash, size, bytes FROM blobs').all() as unknown as BlobRow[];
    } finally {
      db.close();
    }
  }
  return pgQuery(target, 'SELECT hash, size::int AS size, bytes FROM $schema.blobs', []);
}

/** Writes a row as a store of before packing did: the blob's own bytes, whatever they are. */
async function writeRow(target: StoreTarget, row: BlobRow): Promise<void> {
  const sql = 'INSERT INTO $schema.blobs (hash, size, bytes, created_at_ms) VALUES ($1, $2, $3, 0)';
  if (target.kind === 'sqlite') {
    const db = new DatabaseSync(target.url);
    try {
      db.prepare(sql.replace('$schema.', '').replaceAll(/\$\d/g, '?')).run(
        row.hash,
        row.size,
        row.bytes,
      );
    } finally {
      db.close();
    }
    return;
  }
  await pgQuery(target, sql, [row.hash, row.size, Buffer.from(row.bytes)]);
}

async function pgQuery(target: StoreTarget, sql: string, params: unknown[]): Promise<BlobRow[]> {
  const schema = new URL(target.url).searchParams.get('schema') as string;
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    const { rows } = await client.query(sql.replace('$schema', schema), params);
    return rows as BlobRow[];
  } finally {
    await client.end();
  }
}

for (const t of targets) {
  describe.runIf(t.run)(`${t.name} blob rows`, () => {
    let target: StoreTarget;
    let store: SessionStore;
    beforeEach(async () => {
      target = await t.make();
      store = await openStore(target.url);
    });
    afterEach(async () => {
      await store.close();
      await target.drop();
    });

    it('keeps text deflated, shorter than its size, and gives it back byte for byte', async () => {
      const small = textBlob(20); // deflated on the caller's thread
      const large = textBlob(2_000); // ~150 KiB: deflated off it
      await store.blobs.put(sha256(small), small);
      await store.blobs.put(sha256(large), large);
      for (const blob of [small, large])
        expect(Buffer.from((await store.blobs.get(sha256(blob)))!)).toEqual(Buffer.from(blob));
      const rows = await blobRows(target);
      expect(rows).toHaveLength(2);
      for (const row of rows) expect(row.bytes.byteLength).toBeLessThan(row.size / 2);
    });

    it('keeps bytes that do not deflate as they are', async () => {
      const random = new Uint8Array(createHash('sha512').update('x').digest());
      const tiny = Buffer.from('a'.repeat(40));
      for (const blob of [random, tiny]) await store.blobs.put(sha256(blob), blob);
      for (const row of await blobRows(target)) expect(row.bytes.byteLength).toBe(row.size);
      expect(Buffer.from((await store.blobs.get(sha256(tiny)))!)).toEqual(tiny);
    });

    it('reads rows written before blobs were deflated', async () => {
      // Compressible bytes kept whole, as every row was before: read back as they are.
      const old = textBlob(50);
      await writeRow(target, { hash: sha256(old), size: old.byteLength, bytes: old });
      expect(Buffer.from((await store.blobs.get(sha256(old)))!)).toEqual(Buffer.from(old));
    });

    it('hands back a damaged deflated row as stored, for the reader to report corrupt', async () => {
      const blob = textBlob(30);
      const damaged = Buffer.from('not deflate at all');
      await writeRow(target, { hash: sha256(blob), size: blob.byteLength, bytes: damaged });
      const read = await store.blobs.get(sha256(blob));
      expect(Buffer.from(read!)).toEqual(damaged);
      expect(sha256(read!)).not.toBe(sha256(blob));
    });

    it('stores a workspace appended to 200 times in under a third of its blobs bytes', async () => {
      const run = await runPeerSessions(
        store,
        peerAgent({ dir: target.dir, appendTo: 'workspace' }),
        1,
        200,
      );
      expect(run.sessionIds).toHaveLength(1);
      const rows = await blobRows(target);
      const stored = rows.reduce((sum, row) => sum + row.bytes.byteLength, 0);
      const size = rows.reduce((sum, row) => sum + row.size, 0);
      console.log(
        `200 workspace appends: ${rows.length} blobs of ${size} bytes stored in ${stored}`,
      );
      expect(stored).toBeLessThan(size / 3);
    });
  });
}
