import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { sessionId } from '@longrun/core';
import { tempDir } from '../testing.ts';
import type { AgentTool, AgentToolContext } from '../agent/define-agent.ts';
import { editFileTool, listFilesTool, readFileTool, writeFileTool } from './file-tools.ts';
import { shellTool } from './shell-tool.ts';
import { processDriver } from '@longrun/sandbox';
import { AgentWorkspace, WorkspaceTracker } from '../agent/agent-workspace.ts';
import { noWaits } from '../call-waits.ts';

const never = (): never => {
  throw new Error('the tools under test store no blobs');
};

function context(
  workspaceDir: string,
  signal = new AbortController().signal,
): AgentToolContext & { workspaceDir: string } {
  const workspace = new AgentWorkspace({
    dir: workspaceDir,
    blobs: { kind: 'none', put: never, get: never, missing: never },
    tracker: new WorkspaceTracker(),
    // The shell tool's own behaviour, on plain processes (the bwrap suites cover isolation).
    sandbox: { driver: processDriver() },
  });
  return {
    sandbox: () => workspace.sandbox(),
    sessionId: sessionId('ses_t'),
    step: 1,
    callIndex: 0,
    idempotencyKey: 'k',
    attempt: 1,
    signal,
    holding: () => !signal.aborted,
    files: workspace.files,
    ...noWaits,
    secret: () => Promise.reject(new Error('no secrets here')),
    workspaceDir,
  };
}

function run(tool: AgentTool<never>, input: object, ctx: AgentToolContext) {
  return tool.run(input, ctx);
}

describe('what the file tools refuse', () => {
  it('every way out of the workspace, and every link, FIFO and oversized file, with a typed error', async () => {
    const ctx = context(tempDir('ws'));
    const outside = tempDir('outside');
    writeFileSync(join(outside, 'secret'), 'x');
    symlinkSync(outside, join(ctx.workspaceDir, 'escape'));
    symlinkSync(join(outside, 'not-yet'), join(ctx.workspaceDir, 'dangling'));
    execFileSync('mkfifo', [join(ctx.workspaceDir, 'pipe')]);
    writeFileSync(join(ctx.workspaceDir, 'huge'), '');
    truncateSync(join(ctx.workspaceDir, 'huge'), 512 * 1024 * 1024);
    const refused: [string, object, AgentTool<never>][] = [
      ['PATH_OUTSIDE_WORKSPACE', { path: '../x' }, readFileTool],
      ['PATH_OUTSIDE_WORKSPACE', { path: '/etc/passwd' }, readFileTool],
      ['PATH_OUTSIDE_WORKSPACE', { path: 'a/../../x', content: 'x' }, writeFileTool],
      ['FILE_TYPE_REFUSED', { path: 'escape/secret' }, readFileTool],
      ['FILE_TYPE_REFUSED', { path: 'dangling', content: 'pwned' }, writeFileTool],
      ['FILE_TYPE_REFUSED', { path: 'pipe' }, readFileTool],
      ['FILE_TYPE_REFUSED', { path: 'pipe', old_text: 'a', new_text: 'b' }, editFileTool],
      ['FILE_TOO_LARGE', { path: 'huge' }, readFileTool],
      ['INVALID_ARGUMENT', { path: 'nul\0byte' }, readFileTool],
    ];
    for (const [code, input, tool] of refused) {
      await expect(run(tool, input, ctx), JSON.stringify(input)).rejects.toThrow(
        expect.objectContaining({ code }),
      );
    }
    expect(existsSync(join(outside, 'not-yet'))).toBe(false);
    expect(await run(listFilesTool, { path: '.' }, ctx)).toBe(
      'dangling (symbolic link, not followed)\nescape (symbolic link, not followed)\nhuge\npipe (special file)',
    );
  });
});

describe('file tools', () => {
  it('write, read, list and edit inside the workspace; an edit run twice applies once', async () => {
    const ctx = context(tempDir('files'));
    await run(writeFileTool, { path: 'src/a.txt', content: 'hello world\n' }, ctx);
    expect(await run(readFileTool, { path: 'src/a.txt' }, ctx)).toBe('hello world\n');
    expect(await run(listFilesTool, { path: '.' }, ctx)).toBe('src/a.txt');
    const edit = { path: 'src/a.txt', old_text: 'world', new_text: 'there' };
    expect(await run(editFileTool, edit, ctx)).toBe('edited src/a.txt');
    expect(await run(editFileTool, edit, ctx)).toMatch(/already contains the new text/);
    expect(readFileSync(join(ctx.workspaceDir, 'src/a.txt'), 'utf8')).toBe('hello there\n');
    await expect(
      run(editFileTool, { path: 'src/a.txt', old_text: 'l', new_text: 'L' }, ctx),
    ).rejects.toThrow(/occurs 2 times/);
  });

  it('caps what it reads and says so', async () => {
    const ctx = context(tempDir('cap'));
    mkdirSync(join(ctx.workspaceDir, 'big'));
    writeFileSync(join(ctx.workspaceDir, 'big/file.txt'), 'y'.repeat(100_000));
    const text = (await run(readFileTool, { path: 'big/file.txt' }, ctx)) as string;
    expect(text.length).toBeLessThan(21_000);
    expect(text).toMatch(/characters cut: output is capped at 20000 characters/);
  });
});

describe('the shell tool', () => {
  it('runs in the workspace with an empty environment, and a non-zero exit is a result', async () => {
    process.env.LONGRUN_TEST_CANARY = 'do-not-leak';
    const ctx = context(tempDir('shell'));
    const out = (await run(shellTool(), { command: 'pwd; env; exit 3' }, ctx)) as string;
    expect(out).toMatch(/^exit code 3\n/);
    expect(out).toContain(ctx.workspaceDir);
    expect(out).not.toContain('do-not-leak');
  });

  it('kills the whole process tree on timeout and caps output', async () => {
    const ctx = context(tempDir('shell'));
    const started = Date.now();
    const out = (await run(
      shellTool({ timeoutMs: 300 }),
      { command: 'sleep 30 & sleep 30; echo never' },
      ctx,
    )) as string;
    expect(out).toMatch(/^timed out after 300 ms/);
    expect(Date.now() - started).toBeLessThan(10_000);
    const long = (await run(
      shellTool({ maxOutputChars: 1000 }),
      { command: 'seq 1 100000' },
      ctx,
    )) as string;
    expect(long).toMatch(/characters cut: output is capped at 1000 characters/);
  });
});
