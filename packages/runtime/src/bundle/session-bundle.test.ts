import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel } from '@longrun/models/testing';
import { fold } from '@longrun/core';
import { loadWorkspaceState } from '@longrun/workspace';
import { allEvents, runUntil, tempDir } from '../testing.ts';
import { defineAgent, defineTool } from '../agent/define-agent.ts';
import { readBundle, writeSessionBundle } from './bundle-files.ts';
import { Redactor } from './redactor.ts';
import { toolCallsHeader } from './tool-calls-csv.ts';

describe('debug bundle', () => {
  it('holds the log, the state, the tool calls, the workspace and its diff, progress and env, with a secret masked everywhere', async () => {
    const dir = tempDir('bundle');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const secret = `canary-${Math.random().toString(36).slice(2)}-value`;
    const write = defineTool({
      name: 'write',
      description: 'writes a file',
      input: z.object({ path: z.string(), text: z.string() }),
      effect: 'idempotent',
      run: async ({ path, text }, { files }) => {
        await files.writeFile(path, text);
        return `wrote ${path}`;
      },
    });
    const leak = defineTool({
      name: 'leak',
      description: 'reads a credential and fails',
      input: z.object({}),
      effect: 'pure',
      run: async () => {
        throw new Error(`could not log in with ${secret}`);
      },
    });
    const agent = defineAgent({
      name: 'writer',
      model: scriptedModel([
        { toolCalls: [{ id: 'a', name: 'write', args: { path: 'src/a.txt', text: 'one\n' } }] },
        { toolCalls: [{ id: 'b', name: 'leak', args: {} }] },
        {
          toolCalls: [
            { id: 'c', name: 'write', args: { path: 'PROGRESS.md', text: `done a; ${secret}\n` } },
          ],
        },
        { text: 'Done.' },
      ]),
      instructions: 'Write.',
      tools: [write, leak],
      workspaceRoot: join(dir, 'ws'),
      prepareWorkspace: async (files) => {
        await files.writeFile('README.md', 'start\n');
      },
    });
    const s = await store.createSession({ agent: 'writer', input: 'write' });
    await runUntil({ store, agents: [agent] }, s.id);
    const path = join(dir, `${s.id}.bundle.tar.gz`);
    const bytes = await writeSessionBundle(store, s.id, path, { env: { API_TOKEN: secret } });
    const files = await readBundle(path, { keep: () => true });
    expect(bytes).toBeGreaterThan(0);

    const events = await allEvents(store, s.id);
    const lines = files.get('session.jsonl')!.toString('utf8').trimEnd().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual(
      events.map((e) => e.seq),
    );
    const state = JSON.parse(files.get('last_state.json')!.toString('utf8')) as {
      headSeq: number;
      state: { status: string; steps: number };
    };
    expect(state.headSeq).toBe(events.at(-1)!.seq);
    expect(state.state.status).toBe(fold(events).status);
    expect(state.state.steps).toBe(4);

    const csv = files.get('tool_calls.csv')!.toString('utf8').trimEnd().split('\n');
    expect(csv[0]).toBe(toolCallsHeader);
    expect(csv.slice(1).map((r) => r.split(',').slice(4, 5)[0])).toEqual([
      'write',
      'leak',
      'write',
    ]);
    expect(csv[2]).toMatch(/,leak,[0-9a-f]{64},\d+,error,tool leak failed: could not log in/);

    expect(files.get('workspace/src/a.txt')!.toString()).toBe('one\n');
    expect(files.get('workspace/README.md')!.toString()).toBe('start\n');
    expect(files.get('progress/PROGRESS.md')!.toString()).toMatch(/^done a; \*+\n$/);
    const diff = files.get('workspace.diff')!.toString();
    expect(diff).toContain('# + src/a.txt');
    expect(diff).toContain('+one');
    expect(diff).not.toContain('README.md');
    const env = files.get('env.txt')!.toString();
    expect(env).toMatch(/^longrun version: \d+\.\d+\.\d+$/m);
    expect(env).toContain('agent: writer');
    expect(env).toContain('store kind: sqlite');
    expect(env).toContain(`node version: ${process.version}`);
    const index = JSON.parse(files.get('bundle.json')!.toString()) as { files: { name: string }[] };
    expect(index.files.map((f) => f.name)).toContain('session.jsonl');

    // The secret is in the store's log (the tool's error), and nowhere in the bundle.
    expect(JSON.stringify(events)).toContain(secret);
    for (const [name, content] of files) {
      expect(content.includes(secret), name).toBe(false);
      expect(content.includes(Buffer.from(secret).toString('base64')), name).toBe(false);
    }
    await store.close();
  });

  it('holds an appended file whole when the appends are edits in the tool results', async () => {
    const dir = tempDir('bundle-inline');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const append = defineTool({
      name: 'append',
      description: 'appends a line to log.txt',
      input: z.object({ line: z.string() }),
      effect: 'idempotent',
      run: async ({ line }, { files }) => {
        const before = await files.readFile('log.txt');
        await files.writeFile('log.txt', Buffer.concat([before, Buffer.from(`${line}\n`)]));
        return 'appended';
      },
    });
    const lines = ['first appended line', 'second appended line'];
    const agent = defineAgent({
      name: 'appender',
      model: scriptedModel([
        ...lines.map((line, i) => ({
          toolCalls: [{ id: `c${i}`, name: 'append', args: { line } }],
        })),
        { text: 'Done.' },
      ]),
      instructions: 'Append.',
      tools: [append],
      workspaceRoot: join(dir, 'ws'),
      // A last chunk past 4 KiB is stored in pieces, the small appended ones inline.
      prepareWorkspace: async (files) => {
        await files.writeFile('log.txt', `${'x'.repeat(5000)}\n`);
      },
    });
    const s = await store.createSession({ agent: 'appender', input: 'append' });
    await runUntil({ store, agents: [agent] }, s.id);
    const last = fold(await allEvents(store, s.id)).workspace;
    // Each append is an edit carried in its call's result, on the snapshot prepareWorkspace left.
    expect(last?.edits?.map((e) => ('text' in e ? e.text : null))).toEqual(
      lines.map((l) => `${l}\n`),
    );
    const { manifest } = await loadWorkspaceState(store.blobs, last!);
    const log = manifest.entries.find((e) => e.path === 'log.txt');
    expect(log?.type === 'file' && log.chunks?.some((c) => c.inline !== undefined)).toBe(true);

    const path = join(dir, `${s.id}.bundle.tar.gz`);
    await writeSessionBundle(store, s.id, path);
    const files = await readBundle(path, { keep: () => true });
    const expected = `${'x'.repeat(5000)}\n${lines.map((l) => `${l}\n`).join('')}`;
    expect(files.get('workspace/log.txt')!.toString()).toBe(expected);
    const diff = files.get('workspace.diff')!.toString();
    expect(diff).toContain('+second appended line');
    await store.close();
  });

  it('masks a value split across streamed chunks, keeping every byte count', async () => {
    const redactor = new Redactor(['s3cr3t-value']);
    async function* chunks() {
      yield Buffer.from('aaa s3cr3t-');
      yield Buffer.from('val');
      yield Buffer.from('ue bbb s3cr3t-value');
    }
    const out: Buffer[] = [];
    for await (const c of redactor.stream(chunks())) out.push(c);
    expect(Buffer.concat(out).toString()).toBe('aaa ************ bbb ************');
  });
});
