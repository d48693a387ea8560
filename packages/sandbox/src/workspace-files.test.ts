import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { workspaceFiles } from './workspace-files.ts';

let base: string;
let root: string;
let outsideFile: string;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'longrun-files-'));
  root = join(base, 'ws');
  mkdirSync(join(root, 'sub'), { recursive: true });
  outsideFile = join(base, 'secret.txt');
  writeFileSync(outsideFile, 'host secret');
  writeFileSync(join(root, 'sub', 'in.txt'), 'inside');
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

describe('workspace file access', () => {
  it('reads and writes inside, creating parent directories, with relative or /workspace paths', () => {
    const files = workspaceFiles(root);
    files.writeFile('/workspace/new/deep/file.txt', 'hello');
    expect(readFileSync(join(root, 'new', 'deep', 'file.txt'), 'utf8')).toBe('hello');
    expect(text(files.readFile('sub/in.txt'))).toBe('inside');
    expect(text(files.readFile('./sub/../sub/in.txt'))).toBe('inside');
    files.writeFile('sub/in.txt', 'x');
    expect(text(files.readFile('sub/in.txt'))).toBe('x');
  });

  it('follows a symlink whose target stays inside the workspace', () => {
    symlinkSync('sub', join(root, 'alias'));
    symlinkSync(join(root, 'sub', 'in.txt'), join(root, 'abs-link'));
    const files = workspaceFiles(root);
    expect(text(files.readFile('alias/in.txt'))).toBe('inside');
    expect(text(files.readFile('abs-link'))).toBe('inside');
  });

  it.each([
    ['..', '../secret.txt'],
    ['.. in the middle', 'sub/../../secret.txt'],
    ['an absolute host path', '/etc/passwd'],
    ['/workspace/..', '/workspace/../secret.txt'],
  ])('refuses %s with PATH_OUTSIDE_WORKSPACE', (_what, path) => {
    const files = workspaceFiles(root);
    expect(() => files.readFile(path)).toThrow(
      expect.objectContaining({ code: 'PATH_OUTSIDE_WORKSPACE' }),
    );
    expect(() => files.writeFile(path, 'x')).toThrow(
      expect.objectContaining({ code: 'PATH_OUTSIDE_WORKSPACE' }),
    );
  });

  it('refuses planted symlinks that point out, for the file and for a directory on the way', () => {
    symlinkSync(outsideFile, join(root, 'leak'));
    symlinkSync(base, join(root, 'updir'));
    symlinkSync('../secret.txt', join(root, 'relative-leak'));
    const files = workspaceFiles(root);
    for (const path of ['leak', 'updir/secret.txt', 'relative-leak']) {
      expect(() => files.readFile(path)).toThrow(
        expect.objectContaining({ code: 'PATH_OUTSIDE_WORKSPACE' }),
      );
      expect(() => files.writeFile(path, 'pwned')).toThrow(
        expect.objectContaining({ code: 'PATH_OUTSIDE_WORKSPACE' }),
      );
    }
    expect(() => files.writeFile('updir/created.txt', 'pwned')).toThrow(
      expect.objectContaining({ code: 'PATH_OUTSIDE_WORKSPACE' }),
    );
    expect(readFileSync(outsideFile, 'utf8')).toBe('host secret');
  });

  it('refuses a FIFO instead of hanging, and a missing file is NOT_FOUND', () => {
    execFileSync('mkfifo', [join(root, 'fifo')]);
    const files = workspaceFiles(root);
    expect(() => files.readFile('fifo')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => files.readFile('missing.txt')).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND' }),
    );
  });
});
