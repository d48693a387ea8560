import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { SessionId, SessionStore } from '@longrun/core';
import { sessionBundle, type SessionBundleOptions } from './session-bundle.ts';

/**
 * Writes a session's bundle to `path` (through a temporary file beside it, renamed when complete,
 * so a failed bundle never leaves a truncated archive under the name). Returns its size in bytes.
 */
export async function writeSessionBundle(
  store: SessionStore,
  id: SessionId,
  path: string,
  options: SessionBundleOptions = {},
): Promise<number> {
  const partial = `${path}.partial`;
  try {
    await pipeline(await sessionBundle(store, id, options), createWriteStream(partial));
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return statSync(path).size;
}

export interface BundleReadOptions {
  /** Keep the entries for which this is true (default: all but `workspace/`). */
  keep?: (name: string) => boolean;
}

/** The entries of a bundle file, by name, held in memory (by default all but the workspace). */
export async function readBundle(
  path: string,
  options: BundleReadOptions = {},
): Promise<Map<string, Buffer>> {
  const keep = options.keep ?? ((name: string) => !name.startsWith('workspace/'));
  const entries = new Map<string, Buffer>();
  // Loaded on first read, not when the runtime is: a worker reads no bundle.
  const { extract } = await import('tar-stream');
  const tar = extract();
  const reading = (async () => {
    for await (const entry of tar) {
      // `tar -C dir .` writes `./name`: the same entry.
      const name = entry.header.name.replace(/^\.\//, '');
      if (!keep(name)) {
        entry.resume();
        continue;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      entries.set(name, Buffer.concat(chunks));
    }
  })();
  await Promise.all([pipeline(createReadStream(path), createGunzip(), tar), reading]);
  return entries;
}
