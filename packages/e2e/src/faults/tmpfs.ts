import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
