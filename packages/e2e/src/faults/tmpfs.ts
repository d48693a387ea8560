import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A size-capped tmpfs mounted for one test (needs root, as on CI), or why it cannot be. */
export function mountTinyTmpfs(
  sizeKb: number,
): { dir: string; resize(kb: number): void; unmount(): void } | { error: string } {
  const dir = mkdtempSync(join(tmpdir(), 'longrun-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', dir], {
      stdio: 'pipe',
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    return {
      error: `cannot mount a tmpfs (${(error as Error).message.split('\n')[0]}); run as root`,
    };
  }
  return {
    dir,
    resize: (kb) => execFileSync('mount', ['-o', `remount,size=${kb}k`, dir], { stdio: 'pipe' }),
    unmount: () => {
      execFileSync('umount', [dir], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Writes `path` until the disk has not one more byte (in 1 MiB, then 4 KiB, then 512-byte
 * writes, so that it is quick and leaves nothing); returns how many it took.
 */
export function fillDisk(path: string): number {
  const fd = openSync(path, 'w');
  let total = 0;
  try {
    for (const size of [1 << 20, 4096, 512]) {
      const chunk = Buffer.alloc(size, 1);
      try {
        for (;;) total += writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
      }
    }
  } finally {
    closeSync(fd);
  }
  return total;
}
