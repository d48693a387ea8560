import { execFileSync } from 'node:child_process';
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfinedWorkspaceFiles } from './confined-workspace-files.ts';
import { startSwapRacer } from './test-support/swap-racer.ts';

let base: string;
let root: string;
let outside: string;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'longrun-confined-'));
  root = join(base, 'ws');
  outside = join(base, 'outside');
  mkdirSync(join(root, 'sub'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.txt'), 'host secret');
  writeFileSync(join(root, 'sub', 'in.txt'), 'inside');
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');
const code = (c: string): unknown => expect.objectContaining({ code: c }) as unknown;
const isRoot = process.getuid?.() === 0;

describe('the workspace accessor', () => {
  it('reads, writes and lists inside, with relative or /workspace paths', async () => {
    const files = new ConfinedWorkspaceFiles(root);
    await files.writeFile('/workspace/new/deep/file.txt', 'hello');
    expect(readFileSync(join(root, 'new', 'deep', 'file.txt'), 'utf8')).toBe('hello');
    expect(text(await files.readFile('sub/in.txt'))).toBe('inside');
    expect(text(await files.readFile('./sub/../sub/in.txt'))).toBe('inside');
    await files.writeFile('sub/in.txt', 'x');
    expect(text(await files.readFile('sub/in.txt'))).toBe('x');
    const listing = await files.list('', { recursive: true });
    expect(listing.entries.map((e) => `${e.type}:${e.path}`)).toEqual([
      'dir:new',
      'dir:new/deep',
      'file:new/deep/file.txt',
      'dir:sub',
      'file:sub/in.txt',
    ]);
    expect(readdirSync(join(root, 'sub'))).toEqual(['in.txt']); // no temp file left behind
  });

  it('keeps the mode of a file it replaces', async () => {
    writeFileSync(join(root, 'run.sh'), 'echo 1', { mode: 0o755 });
    const files = new ConfinedWorkspaceFiles(root);
    await files.writeFile('run.sh', 'echo 2');
    expect(statSync(join(root, 'run.sh')).mode & 0o777).toBe(0o755);
  });

  it.each([
    ['..', '../outside/secret.txt'],
    ['.. in the middle', 'sub/../../outside/secret.txt'],
    ['an absolute host path', '/etc/passwd'],
    ['/workspace/..', '/workspace/../outside/secret.txt'],
  ])('refuses %s with PATH_OUTSIDE_WORKSPACE', async (_what, path) => {
    const files = new ConfinedWorkspaceFiles(root);
    await expect(files.readFile(path)).rejects.toThrow(code('PATH_OUTSIDE_WORKSPACE'));
    await expect(files.writeFile(path, 'x')).rejects.toThrow(code('PATH_OUTSIDE_WORKSPACE'));
  });

  it('never writes through a link whose target does not exist yet', async () => {
    const planted = join(outside, 'created-by-attack');
    symlinkSync(planted, join(root, 'dangling'));
    symlinkSync(join(outside, 'newdir'), join(root, 'dangling-dir'));
    const files = new ConfinedWorkspaceFiles(root);
    await expect(files.writeFile('dangling', 'pwned')).rejects.toThrow(code('FILE_TYPE_REFUSED'));
    await expect(files.writeFile('dangling-dir/x', 'pwned')).rejects.toThrow(
      code('FILE_TYPE_REFUSED'),
    );
    await expect(files.mkdir('dangling-dir/y')).rejects.toThrow(code('FILE_TYPE_REFUSED'));
    await expect(files.readFile('dangling')).rejects.toThrow(code('FILE_TYPE_REFUSED'));
    expect(existsSync(planted)).toBe(false);
    expect(existsSync(join(outside, 'newdir'))).toBe(false);
  });

  it('follows no link at all, even one that points inside', async () => {
    symlinkSync('sub', join(root, 'alias'));
    symlinkSync(join(outside, 'secret.txt'), join(root, 'leak'));
    symlinkSync(outside, join(root, 'updir'));
    const files = new ConfinedWorkspaceFiles(root);
    for (const path of ['alias/in.txt', 'leak', 'updir/secret.txt']) {
      await expect(files.readFile(path)).rejects.toThrow(code('FILE_TYPE_REFUSED'));
    }
    await expect(files.writeFile('updir/secret.txt', 'x')).rejects.toThrow(
      code('FILE_TYPE_REFUSED'),
    );
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('host secret');
    // A link is listed as a link, and a recursive listing does not descend through it.
    const listing = await files.list('', { recursive: true });
    expect(listing.entries.filter((e) => e.type === 'symlink').map((e) => e.path)).toEqual([
      'alias',
      'leak',
      'updir',
    ]);
    expect(listing.entries.some((e) => e.path.startsWith('updir/'))).toBe(false);
  });

  it('refuses a FIFO at once instead of blocking in open()', async () => {
    execFileSync('mkfifo', [join(root, 'pipe')]);
    const files = new ConfinedWorkspaceFiles(root);
    await expect(files.readFile('pipe')).rejects.toThrow(code('FILE_TYPE_REFUSED'));
    await expect(files.writeFile('pipe', 'x')).rejects.toThrow(code('FILE_TYPE_REFUSED'));
    expect((await files.stat('pipe'))?.type).toBe('special');
  });

  it('refuses a unix socket', async () => {
    const server = createServer();
    const path = join(root, 'sock');
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const files = new ConfinedWorkspaceFiles(root);
      await expect(files.readFile('sock')).rejects.toThrow(code('FILE_TYPE_REFUSED'));
      await expect(files.writeFile('sock', 'x')).rejects.toThrow(code('FILE_TYPE_REFUSED'));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('refuses a device node without opening it (root only)', async () => {
    if (!isRoot) {
      console.warn('device-node case did NOT run: it needs root to mknod');
      expect(process.env.CI).not.toBe('true');
      return;
    }
    execFileSync('mknod', [join(root, 'zero'), 'c', '1', '5']);
    const files = new ConfinedWorkspaceFiles(root);
    await expect(files.readFile('zero')).rejects.toThrow(code('FILE_TYPE_REFUSED'));
    await expect(files.writeFile('zero', 'x')).rejects.toThrow(code('FILE_TYPE_REFUSED'));
  });

  it('refuses a file over the limit before reading it, and reads in bounded memory', async () => {
    const huge = join(root, 'huge.bin');
    writeFileSync(huge, '');
    truncateSync(huge, 400 * 1024 * 1024); // sparse: costs no disk
    const files = new ConfinedWorkspaceFiles(root);
    const before = process.memoryUsage().rss;
    await expect(files.readFile('huge.bin', { maxBytes: 1024 * 1024 })).rejects.toThrow(
      code('FILE_TOO_LARGE'),
    );
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
    // Within the limit it is read whole.
    writeFileSync(join(root, 'ok.bin'), Buffer.alloc(3 * 1024 * 1024, 7));
    expect((await files.readFile('ok.bin', { maxBytes: 3 * 1024 * 1024 })).length).toBe(
      3 * 1024 * 1024,
    );
  });

  it('replaces a hard-linked file instead of writing into the shared inode', async () => {
    const hostFile = join(outside, 'hard.txt');
    writeFileSync(hostFile, 'host content');
    linkSync(hostFile, join(root, 'hard.txt'));
    const files = new ConfinedWorkspaceFiles(root);
    await files.writeFile('hard.txt', 'agent content');
    expect(readFileSync(hostFile, 'utf8')).toBe('host content');
    expect(readFileSync(join(root, 'hard.txt'), 'utf8')).toBe('agent content');
  });

  it('gives the tree to a sandbox user without following a link to the host (root only)', () => {
    if (!isRoot) {
      console.warn('chownAll case did NOT run: it needs root to chown');
      expect(process.env.CI).not.toBe('true');
      return;
    }
    mkdirSync(join(root, 'sub', 'deeper'), { recursive: true });
    writeFileSync(join(root, 'sub', 'deeper', 'f'), 'x');
    symlinkSync(outside, join(root, 'to-outside'));
    symlinkSync('/', join(root, 'sub', 'to-root'));
    new ConfinedWorkspaceFiles(root).chownAll({ uid: 54321, gid: 54321 });
    for (const path of ['', 'sub', 'sub/deeper', 'sub/deeper/f', 'to-outside', 'sub/to-root']) {
      expect(lstatSync(join(root, path)).uid, path).toBe(54321);
    }
    // Nothing behind the links changed hands.
    expect(statSync(join(outside, 'secret.txt')).uid).toBe(0);
    expect(statSync(outside).uid).toBe(0);
    expect(statSync('/etc/passwd').uid).toBe(0);
  });

  it('removes a tree without following the links in it', async () => {
    mkdirSync(join(root, 'tree', 'deep'), { recursive: true });
    writeFileSync(join(root, 'tree', 'deep', 'f'), 'x');
    symlinkSync(outside, join(root, 'tree', 'out'));
    const files = new ConfinedWorkspaceFiles(root);
    await files.remove('tree');
    expect(existsSync(join(root, 'tree'))).toBe(false);
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('host secret');
    await files.remove('tree'); // absent is fine
    await expect(files.remove('')).rejects.toThrow(code('INVALID_ARGUMENT'));
  });

  it('holds against a loop that swaps a directory for a link to the host between check and use', async () => {
    // `d` (a real directory) and `evil` (a link to `outside`) trade places atomically, as fast as
    // a loop can, the way a command in the sandbox would while the worker's tool runs.
    mkdirSync(join(root, 'd'));
    symlinkSync(outside, join(root, 'evil'));
    const racer = await startSwapRacer(root, 'd', 'evil');
    const files = new ConfinedWorkspaceFiles(root);
    const outcomes = new Map<string, number>();
    const count = (key: string): void => void outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    try {
      for (let i = 0; i < 3000; i++) {
        try {
          const read = text(await files.readFile('d/secret.txt'));
          count(`read:${read}`);
        } catch (error) {
          count(`read-refused:${(error as { code: string }).code}`);
        }
        try {
          await files.writeFile(`d/planted-${i}.txt`, 'pwned');
          count('write:ok');
        } catch (error) {
          count(`write-refused:${(error as { code: string }).code}`);
        }
      }
      expect(racer.running()).toBe(true); // it raced the whole time
    } finally {
      await racer.stop();
    }
    // Nothing read from outside, nothing written there.
    expect([...outcomes.keys()].some((k) => k.includes('host secret'))).toBe(false);
    expect(readdirSync(outside).sort()).toEqual(['secret.txt']);
    // The race really happened: both outcomes were seen.
    expect(outcomes.get('write:ok') ?? 0).toBeGreaterThan(0);
    expect(
      (outcomes.get('write-refused:FILE_TYPE_REFUSED') ?? 0) +
        (outcomes.get('write-refused:NOT_FOUND') ?? 0),
    ).toBeGreaterThan(0);
  });
});
