import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirectoryBlobStore } from './directory-blob-store.ts';
import { tempPrefix } from './confined-workspace-files.ts';
import { blobHashesOf } from './manifest.ts';
import { restoreWorkspace } from './restore-workspace.ts';
import { snapshotWorkspace } from './snapshot-workspace.ts';
import { verifyWorkspace } from './verify-workspace.ts';
import { readTree, removeDir, tempDir, writeTree } from './test-support/workspace-fixtures.ts';

const child = new URL('./test-support/restore-child.ts', import.meta.url).pathname;
const run = promisify(execFile);

describe('a workspace restored by another process on another root', () => {
  let dirs: string[];
  let source: string;
  let blobRoot: string;
  beforeEach(() => {
    dirs = [tempDir('host-a'), tempDir('store'), tempDir('host-b')];
    [source, blobRoot] = dirs as [string, string];
    writeTree(source, {
      'src/main.ts': 'console.log("hi");\n',
      'bin/tool': { content: '#!/bin/sh\n', mode: 0o755 },
      'assets/big.bin': randomBytes(9 * 1024 * 1024),
      link: { symlink: 'src/main.ts' },
      empty: { dir: 0o750 },
    });
  });
  afterEach(() => {
    for (const dir of dirs) removeDir(dir);
  });

  it('snapshot here, restore and verify in a child node process', async () => {
    const snap = await snapshotWorkspace({ dir: source, blobs: new DirectoryBlobStore(blobRoot) });
    const dir = `${dirs[2] as string}/workspace`;
    const { stdout } = await run(
      process.execPath,
      [child, JSON.stringify({ blobRoot, dir, manifestHash: snap.manifestHash })],
      {
        timeout: 60_000,
      },
    );
    const report = JSON.parse(stdout) as {
      pid: number;
      files: number;
      bytes: number;
      differences: unknown[];
    };
    expect(report.pid).not.toBe(process.pid);
    expect(report).toMatchObject({ files: snap.files, bytes: snap.bytes, differences: [] });
    expect(readTree(dir)).toEqual(readTree(source));
  });

  it('a restore killed with SIGKILL mid-file leaves no complete-looking file; the next restore repairs it', async () => {
    const blobs = new DirectoryBlobStore(blobRoot);
    const snap = await snapshotWorkspace({ dir: source, blobs });
    const big = snap.manifest.entries.find((e) => e.path === 'assets/big.bin');
    if (big?.type !== 'file') throw new Error('expected the big file');
    const dir = `${dirs[2] as string}/workspace`;
    const pauseAtHash = blobHashesOf(big)[1]; // after its first 4 MiB chunk is written
    const proc = spawn(
      process.execPath,
      [child, JSON.stringify({ blobRoot, dir, manifestHash: snap.manifestHash, pauseAtHash })],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error('the child never reached the pause point')),
          30_000,
        );
        proc.stdout.on('data', (data: Buffer) => {
          if (data.toString().includes('paused')) {
            clearTimeout(timer);
            resolve();
          }
        });
        proc.on('exit', (code) => reject(new Error(`the child exited early (${code})`)));
      });
    } finally {
      proc.kill('SIGKILL');
    }
    await new Promise((resolve) =>
      proc.exitCode !== null || proc.signalCode !== null
        ? resolve(null)
        : proc.once('exit', resolve),
    );
    expect(existsSync(`${dir}/assets/big.bin`)).toBe(false);
    const leftovers = readdirSync(`${dir}/assets`).filter((name) => name.startsWith(tempPrefix));
    expect(leftovers).toHaveLength(1); // the half-written temp file, under a name that says so
    const differences = await verifyWorkspace(dir, snap.manifest);
    expect(differences.map((d) => d.kind)).toEqual(expect.arrayContaining(['missing', 'extra']));

    await restoreWorkspace({ dir, blobs, manifestHash: snap.manifestHash });
    expect(await verifyWorkspace(dir, snap.manifest)).toEqual([]);
    expect(readTree(dir)).toEqual(readTree(source));
  });
});
