import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readBounded } from './confined-io.ts';
import { tempDirs } from './test-support/workspace-fixtures.ts';

const dirs = tempDirs();
afterEach(() => dirs.removeAll());

async function readWith(bytes: Uint8Array, maxBytes: number, sizeHint: number) {
  const path = join(dirs.fresh('read-bounded'), 'f.bin');
  writeFileSync(path, bytes);
  const handle = await open(path, 'r');
  try {
    return await readBounded(handle, maxBytes, 'f.bin', sizeHint);
  } finally {
    await handle.close();
  }
}

describe('readBounded', () => {
  const content = randomBytes(3 * 1024 * 1024 + 17);

  it('reads a file whole whatever its size said: the same, smaller (it grew since), or none', async () => {
    for (const hint of [content.length, 10, 0, 1024 * 1024, content.length - 1]) {
      const read = await readWith(content, 16 * 1024 * 1024, hint);
      expect(read.equals(content), `hint ${hint}`).toBe(true);
    }
    expect((await readWith(new Uint8Array(0), 1024, 0)).length).toBe(0);
    expect((await readWith(Buffer.from('tiny'), 1024, 4)).toString()).toBe('tiny');
  });

  it('refuses a file that grew past the limit since its size was checked', async () => {
    await expect(readWith(content, 1024 * 1024, 100)).rejects.toMatchObject({
      code: 'FILE_TOO_LARGE',
    });
    await expect(readWith(content, content.length - 1, content.length - 1)).rejects.toMatchObject({
      code: 'FILE_TOO_LARGE',
    });
    expect((await readWith(content, content.length, 5)).equals(content)).toBe(true);
  });
});
