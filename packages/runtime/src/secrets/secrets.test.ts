import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import type { Policy, StoredEvent } from '@longrun/core';
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
