import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import { fold, type Policy, type StoredEvent } from '@longrun/core';
import { loadWorkspaceState } from '@longrun/workspace';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel, type ScriptedTurn } from '@longrun/models/testing';
import { allEvents, runUntil, tempDir } from '../testing.ts';
import { defineAgent, defineTool } from '../agent/define-agent.ts';
import { envSecrets } from './env-secrets.ts';

const github = `ghp_${'7'.repeat(12)}canary`;
const aws = `AKIA${'9'.repeat(12)}canary`;

/** Calls an API with a credential it asks for by name, and (carelessly) echoes it. */
const callApi = defineTool({
  name: 'call_api',
  description: 'calls an API with a credential',
  input: z.object({ secret: z.string() }),
  effect: 'idempotent',
  run: async ({ secret }, context) => {
    const value = await context.secret(secret);
    return { sent: `Authorization: Bearer ${value}`, echoed: [value] };
  },
});

async function run(dir: string, policy: Policy | undefined, asked: string[], secrets = true) {
  const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
  const requests: string[] = [];
  const agent = defineAgent({
    name: 'caller',
    model: scriptedModel((request): ScriptedTurn => {
      requests.push(JSON.stringify(request.messages));
      return request.messages.some((m) => m.role === 'tool')
        ? { text: 'done' }
        : { toolCalls: asked.map((secret) => ({ name: 'call_api', args: { secret } })) };
    }),
    instructions: 'Call the API.',
    tools: [callApi],
    workspaceRoot: join(dir, 'ws'),
    ...(policy === undefined ? {} : { policy }),
  });
  const session = await store.createSession({ agent: 'caller', input: 'go' });
  await runUntil(
    {
      store,
      agents: [agent],
      ...(secrets
        ? {
            secrets: envSecrets({
              env: { GITHUB_TOKEN: github, AWS_KEY: aws, HOME: '/root' },
              names: /^(GITHUB|AWS)_/,
            }),
          }
        : {}),
    },
    session.id,
  );
  const events = await allEvents(store, session.id);
  await store.close();
  return { events, requests };
}

const results = (events: StoredEvent[]) =>
  events.flatMap((e) => (e.type === 'tool.completed' ? [e.data] : []));

describe('secrets', () => {
  it("gives a tool's code the secrets its policy scopes, records each decision, and keeps every value out of the log and the model's view", async () => {
    const { events, requests } = await run(
      tempDir('secrets'),
      { tools: [{ tool: 'call_api', action: 'allow' }], secrets: ['GITHUB_*'] },
      ['GITHUB_TOKEN', 'AWS_KEY', 'HOME', 'bad name!'],
    );
    const [gh, awsResult, home, bad] = results(events);
    expect(gh).toMatchObject({
      ok: true,
      output: {
        sent: 'Authorization: Bearer [secret:GITHUB_TOKEN]',
        echoed: ['[secret:GITHUB_TOKEN]'],
      },
    });
    expect(awsResult).toMatchObject({ ok: false, errorCode: 'PERMISSION_DENIED' });
    expect(JSON.stringify(awsResult?.output)).toContain(
      'does not give this session secret AWS_KEY',
    );
    expect(home).toMatchObject({ ok: false, errorCode: 'PERMISSION_DENIED' });
    expect(bad).toMatchObject({ ok: false, errorCode: 'INVALID_ARGUMENT' });
    const decided = events.flatMap((e) =>
      e.type === 'policy.decided' && e.data.secret !== undefined ? [e.data] : [],
    );
    expect(decided.map((d) => [d.secret, d.decision, d.rule])).toEqual([
      ['GITHUB_TOKEN', 'allow', 'secrets'],
      ['AWS_KEY', 'deny', 'secrets'],
      ['HOME', 'deny', 'secrets'],
    ]);
    for (const text of [JSON.stringify(events), ...requests]) {
      expect(text).not.toContain(github);
      expect(text).not.toContain(aws);
    }
  });

  it('without a policy every secret of the store may be read; without a store none exists', async () => {
    const open = await run(tempDir('secrets-open'), undefined, ['AWS_KEY', 'HOME']);
    const [awsResult, home] = results(open.events);
    expect(awsResult).toMatchObject({ ok: true, output: { echoed: ['[secret:AWS_KEY]'] } });
    // Not one of the names the store was given.
    expect(home).toMatchObject({ ok: false, errorCode: 'NOT_FOUND' });
    expect(JSON.stringify(open.events)).not.toContain(aws);
    const none = await run(tempDir('secrets-none'), undefined, ['GITHUB_TOKEN'], false);
    expect(results(none.events)[0]).toMatchObject({ ok: false, errorCode: 'NOT_FOUND' });
  });
});

describe('secrets and workspace edits', () => {
  it('a secret a tool writes into a workspace file stays out of the log: that change is stored, not an edit', async () => {
    const dir = tempDir('secrets-edits');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const token = 'ghp_workspace_edit_secret_0123456789';
    const note = defineTool({
      name: 'note',
      description: 'writes a line to notes.txt, with the token when asked',
      input: z.object({ line: z.string(), withToken: z.boolean() }),
      effect: 'idempotent',
      run: async ({ line, withToken }, context) => {
        const { files } = context;
        const before =
          (await files.stat('notes.txt')) === null ? '' : await files.readFile('notes.txt');
        const extra = withToken ? ` token=${(await context.secret('GITHUB_TOKEN')) ?? ''}` : '';
        await files.writeFile('notes.txt', `${Buffer.from(before).toString()}${line}${extra}\n`);
        return 'noted';
      },
    });
    const calls = [
      { line: 'one', withToken: false },
      { line: 'two', withToken: false },
      { line: 'three', withToken: true },
      { line: 'four', withToken: false },
    ];
    const agent = defineAgent({
      name: 'noter',
      model: scriptedModel([
        ...calls.map((args, i) => ({ toolCalls: [{ id: `n${i}`, name: 'note', args }] })),
        { text: 'done' },
      ]),
      instructions: 'Note.',
      tools: [note],
      workspaceRoot: join(dir, 'ws'),
    });
    const session = await store.createSession({ agent: 'noter', input: 'go' });
    await runUntil(
      {
        store,
        agents: [agent],
        secrets: envSecrets({ env: { GITHUB_TOKEN: token }, names: /^GITHUB_/ }),
      },
      session.id,
    );
    const events = await allEvents(store, session.id);
    expect(JSON.stringify(events)).not.toContain(token);
    const stepsOf = (type: string) =>
      events.flatMap((e) =>
        e.type === type ||
        (type === 'edits' && e.type === 'tool.completed' && e.data.workspaceEdits)
          ? [(e.data as { step: number }).step]
          : [],
      );
    // Step 1 made the file, step 3 wrote the token (both stored); steps 2 and 4 are edits.
    expect(stepsOf('workspace.snapshotted')).toEqual([1, 3]);
    expect(stepsOf('edits')).toEqual([2, 4]);
    const { manifest } = await loadWorkspaceState(store.blobs, fold(events).workspace!);
    const file = manifest.entries.find((e) => e.path === 'notes.txt');
    expect(file?.type === 'file' ? file.size : 0).toBe(
      `one\ntwo\nthree token=${token}\nfour\n`.length,
    );
    await store.close();
  });
});
