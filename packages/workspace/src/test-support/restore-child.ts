/**
 * A separate worker process for the cross-process tests: restores a snapshot from a directory
 * blob store into its own root, verifies it, and prints one JSON line. With `pauseAtHash`, it
 * prints "paused" when it reaches that blob and then hangs (for the parent to SIGKILL it).
 */
import type { BlobStore } from '@longrun/core';
import { DirectoryBlobStore } from '../directory-blob-store.ts';
import { restoreWorkspace } from '../restore-workspace.ts';
import { verifyWorkspace } from '../verify-workspace.ts';

interface ChildArgs {
  blobRoot: string;
  dir: string;
  manifestHash: string;
  pauseAtHash?: string;
}

const args = JSON.parse(process.argv[2] ?? '{}') as ChildArgs;
const directory = new DirectoryBlobStore(args.blobRoot);
const blobs: BlobStore = {
  kind: directory.kind,
  put: (hash, bytes) => directory.put(hash, bytes),
  missing: (hashes) => directory.missing(hashes),
  get: async (hash) => {
    if (hash === args.pauseAtHash) {
      process.stdout.write('paused\n');
      setInterval(() => undefined, 60_000); // stay alive until killed
      return new Promise<never>(() => undefined);
    }
    return directory.get(hash);
  },
};

const restored = await restoreWorkspace({ dir: args.dir, blobs, manifestHash: args.manifestHash });
const differences = await verifyWorkspace(args.dir, restored.manifest);
process.stdout.write(
  `${JSON.stringify({ pid: process.pid, files: restored.files, bytes: restored.bytes, differences })}\n`,
);
