import { describe, expect, it } from 'vitest';
import { chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import {
  workerId,
  type JsonObject,
  type Policy,
  type SecretStore,
  type StoredEvent,
  type Tool,
} from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { processDriver } from '@longrun/sandbox';
import { scriptedModel, type ScriptedTurn } from '@longrun/models/testing';
import { allEvents, runUntil, tempDir } from '../testing.ts';
import { defineAgent, defineTool } from '../agent/define-agent.ts';
import { AgentRunner } from '../agent/agent-runner.ts';
import { sendMessage } from '../agent/session-commands.ts';
import { fileTools } from '../tools/file-tools.ts';
import { shellTool } from '../tools/shell-tool.ts';
import { envSecrets } from './env-secrets.ts';

/**
 * A secret must reach neither the log nor the model in any of its common encodings, from any
 * tool — not only from the call that was given it — and also after the worker that gave it is
 * gone. Each test plants a fresh canary with the characters URL and JSON encodings change, and
 * scans every stored event and every model request for the value in each form.
 */
const canary = (): string => `tok+/AbC"d\\e= ${randomBytes(12).toString('hex')}`;

/** The forms a leak could take, each also as it reads inside JSON text (the log, a request). */
function leakForms(value: string): Map<string, string> {
  const bytes = Buffer.from(value, 'utf8');
  const forms = new Map<string, string>([
    ['plain', value],
    ['json', JSON.stringify(value).slice(1, -1)],
    ['url', encodeURIComponent(value)],
    ['form', new URLSearchParams({ v: value }).toString().slice(2)],
    ['hex', bytes.toString('hex')],
    ['HEX', bytes.toString('hex').toUpperCase()],
  ]);
  for (let skip = 0; skip < 3; skip++) {
    const whole = bytes.subarray(skip, skip + Math.floor((bytes.length - skip) / 3) * 3);
    forms.set(`base64+${skip}`, whole.toString('base64'));
    forms.set(`base64url+${skip}`, whole.toString('base64url'));
  }
  for (const [label, text] of [...forms])
    forms.set(`${label} in JSON`, JSON.stringify(text).slice(1, -1));
  return forms;
}

function leaksIn(texts: Record<string, string>, value: string): string[] {
  const found: string[] = [];
  for (const [where, text] of Object.entries(texts))
    for (const [label, form] of leakForms(value))
      if (text.includes(form)) found.push(`${label} in ${where}`);
  return found;
}

const outputsOf = (events: StoredEvent[], tool?: string) =>
  events.flatMap((e) =>
    e.type === 'tool.completed' && (tool === undefined || e.data.tool === tool)
      ? [JSON.stringify(e.data.output)]
      : [],
  );

/** Asks for API_TOKEN and writes it the way `form` says (or throws with it). */
const useToken = defineTool({
  name: 'use_token',
  description: 'calls an API with the token',
  input: z.object({ form: z.string() }),
  effect: 'idempotent',
  run: async ({ form }, context) => {
    const s = await context.secret('API_TOKEN');
    const basic = (user: string) => Buffer.from(`${user}:${s}`).toString('base64');
    const forms: Record<string, () => JsonObject | string> = {
      url: () => `GET https://api.example.com/?token=${encodeURIComponent(s)} failed`,
      form: () => `POST body: ${new URLSearchParams({ token: s }).toString()}`,
      json: () => JSON.stringify({ sent: { headers: { authorization: `Bearer ${s}` } } }),
      nested: () => ({ request: { body: JSON.stringify({ token: s }) } }),
      // 'u:' and 'us:' and 'use:' put the value at each of the three base64 alignments.
      base64: () => ['u', 'us', 'use'].map((u) => `Authorization: Basic ${basic(u)}`).join('\n'),
      base64url: () => `state=${Buffer.from(`x${s}`).toString('base64url')}`,
      hex: () => `dump ${Buffer.from(s).toString('hex')}`,
    };
    if (form === 'error') throw new Error(`GET /?token=${encodeURIComponent(s)} returned 401`);
    return forms[form]!();
  },
});

/** Writes credentials files the way package managers and curl keep them. */
const saveCredentials = defineTool({
  name: 'save_credentials',
  description: 'writes .netrc and .npmrc',
  input: z.object({}),
  effect: 'idempotent',
  run: async (_input, context) => {
    const { files } = context;
    const s = await context.secret('API_TOKEN');
    await files.writeFile('.netrc', `machine api.example.com login bot password ${s}\n`);
    const npm = Buffer.from(s).toString('base64');
    await files.writeFile('.npmrc', `//registry.example.com/:_authToken=${npm}\n`);
    return 'saved';
  },
});

/** Turns by the latest user message: the calls to make after it, one a turn, then `done`. */
function byMessage(
  script: Record<string, { name: string; args: JsonObject }[]>,
  requests: string[],
) {
  return scriptedModel((request): ScriptedTurn => {
    requests.push(JSON.stringify(request.messages));
    const last = request.messages.findLastIndex((m) => m.role === 'user');
    const message = request.messages[last];
    const text = message?.role === 'user' ? JSON.stringify(message.content) : '';
    const calls = Object.entries(script).find(([key]) => text.includes(key))?.[1] ?? [];
    const made = request.messages.slice(last).filter((m) => m.role === 'assistant').length;
    const call = calls[made];
    return call === undefined
      ? { text: 'done' }
      : { toolCalls: [{ id: `c${last}-${made}`, ...call }] };
  });
}

async function open(prefix: string) {
  const dir = tempDir(prefix);
  // As root the process driver runs commands as a uid of their own: let it into the workspace.
  chmodSync(dir, 0o755);
  const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
  return { dir, store };
}

describe('secret masking', () => {
  it("masks a secret's URL, form, JSON, base64 and hex forms in outputs and errors, in the log and the model's next request", async () => {
    const { dir, store } = await open('mask-forms');
    const value = canary();
    const requests: string[] = [];
    const forms = ['url', 'form', 'json', 'nested', 'base64', 'base64url', 'hex', 'error'];
    const agent = defineAgent({
      name: 'leaky',
      model: byMessage(
        { go: forms.map((form) => ({ name: 'use_token', args: { form } })) },
        requests,
      ),
      instructions: 'Use the token.',
      tools: [useToken],
      workspaceRoot: join(dir, 'ws'),
    });
    const session = await store.createSession({ agent: 'leaky', input: 'go' });
    const secrets = envSecrets({ env: { API_TOKEN: value }, names: ['API_TOKEN'] });
    await runUntil({ store, agents: [agent], secrets }, session.id);
    const events = await allEvents(store, session.id);
    await store.close();
    const outputs = outputsOf(events, 'use_token');
    expect(outputs).toHaveLength(forms.length);
    // Each output says where the secret was (base64 three times, at its three alignments).
    for (const output of outputs) expect(output).toContain('[secret:API_TOKEN]');
    expect(outputs[4]!.match(/\[secret:API_TOKEN\]/g)).toHaveLength(3);
    expect(requests.at(-1)).toContain('[secret:API_TOKEN]');
    expect(leaksIn({ log: JSON.stringify(events), requests: requests.join('\n') }, value)).toEqual(
      [],
    );
  });

  it('masks a secret one call wrote to the workspace wherever a later tool returns it, also after a worker restart', async () => {
    const { dir, store } = await open('mask-workspace');
    const value = canary();
    const requests: string[] = [];
    const command = (c: string) => ({ name: 'run_command', args: { command: c } });
    const agent = defineAgent({
      name: 'keeper',
      model: byMessage(
        {
          save: [
            { name: 'save_credentials', args: {} },
            { name: 'read_file', args: { path: '.netrc' } },
            // The copy is a change of this call: it must not go into the log as an edit.
            command('cat .npmrc && cp .netrc netrc.bak && base64 -w0 .netrc'),
          ],
          again: [
            { name: 'read_file', args: { path: 'netrc.bak' } },
            command('cat .netrc .npmrc; od -An -tx1 .netrc | tr -d " \\n"'),
          ],
        },
        requests,
      ),
      instructions: 'Keep the credentials.',
      tools: [saveCredentials, ...fileTools, shellTool()],
      workspaceRoot: join(dir, 'ws'),
      sandbox: { driver: processDriver() },
    });
    const session = await store.createSession({ agent: 'keeper', input: 'save' });
    const secrets = envSecrets({ env: { API_TOKEN: value }, names: /^API_/ });
    await runUntil({ store, agents: [agent], secrets }, session.id);
    const firstRun = (await allEvents(store, session.id)).length;
    // A new worker: nothing of the first one's memory, the value included, is left.
    await sendMessage(store, session.id, 'again');
    await runUntil({ store, agents: [agent], secrets }, session.id);
    const events = await allEvents(store, session.id);
    await store.close();
    const [, read, copy] = outputsOf(events.slice(0, firstRun));
    const [readAgain, catAgain] = outputsOf(events.slice(firstRun));
    expect(read).toBe(
      JSON.stringify('machine api.example.com login bot password [secret:API_TOKEN]\n'),
    );
    expect(copy).toContain('_authToken=[secret:API_TOKEN]');
    expect(readAgain).toBe(read);
    // cat of both files, then the hex dump of .netrc.
    expect(catAgain?.match(/\[secret:API_TOKEN\]/g)).toHaveLength(3);
    expect(requests.at(-1)).toContain('[secret:API_TOKEN]');
    expect(leaksIn({ log: JSON.stringify(events), requests: requests.join('\n') }, value)).toEqual(
      [],
    );
  });

  it('masks what xxd, hexdump -C, od and wrapping base64 print of a credentials file', async () => {
    const { dir, store } = await open('mask-dumps');
    const value = canary();
    const dumps = 'xxd .netrc; hexdump -C .netrc; od -An -tx1 .netrc; base64 .netrc';
    const agent = defineAgent({
      name: 'dumper',
      model: byMessage(
        {
          dump: [
            { name: 'save_credentials', args: {} },
            { name: 'run_command', args: { command: dumps } },
          ],
        },
        [],
      ),
      instructions: 'Dump the credentials.',
      tools: [saveCredentials, shellTool()],
      workspaceRoot: join(dir, 'ws'),
      sandbox: { driver: processDriver() },
    });
    const session = await store.createSession({ agent: 'dumper', input: 'dump' });
    const secrets = envSecrets({ env: { API_TOKEN: value }, names: /^API_/ });
    await runUntil({ store, agents: [agent], secrets }, session.id);
    const events = await allEvents(store, session.id);
    await store.close();
    const output = JSON.parse(outputsOf(events, 'run_command')[0]!) as string;
    // One mask a tool: the .netrc line is 75 bytes, so each dump spans lines (base64 wraps at 76).
    expect(output.match(/\[secret:API_TOKEN\]/g), output).toHaveLength(4);
    const hex = Buffer.from(value).toString('hex');
    const hexLeft = output.replace(/[^0-9a-f]/g, '');
    for (let i = 0; i + 12 <= hex.length; i += 2)
      expect(hexLeft).not.toContain(hex.slice(i, i + 12));
    const core = value.slice(-24);
    for (let i = 0; i + 6 <= core.length; i++) expect(output).not.toContain(core.slice(i, i + 6));
  });

  it("rebuilds the set after a restart from the log's recorded grants, for a store that cannot list its names", async () => {
    const { dir, store } = await open('mask-unlisted');
    const value = canary();
    const requests: string[] = [];
    // A vault-like store: it answers for a name, and cannot say which names it has.
    const vault: SecretStore = { get: async (name) => (name === 'API_TOKEN' ? value : null) };
    const policy: Policy = {
      tools: [{ tool: '*', action: 'allow' }],
      paths: { read: ['**'], write: ['**'] },
      secrets: ['API_*'],
    };
    const agent = defineAgent({
      name: 'vaulted',
      model: byMessage(
        {
          save: [{ name: 'save_credentials', args: {} }],
          again: [{ name: 'read_file', args: { path: '.netrc' } }],
        },
        requests,
      ),
      instructions: 'Keep the credentials.',
      tools: [saveCredentials, ...fileTools],
      workspaceRoot: join(dir, 'ws'),
      policy,
    });
    const session = await store.createSession({ agent: 'vaulted', input: 'save' });
    await runUntil({ store, agents: [agent], secrets: vault }, session.id);
    await sendMessage(store, session.id, 'again');
    await runUntil({ store, agents: [agent], secrets: vault }, session.id);
    const events = await allEvents(store, session.id);
    await store.close();
    expect(outputsOf(events, 'read_file')).toEqual([
      JSON.stringify('machine api.example.com login bot password [secret:API_TOKEN]\n'),
    ]);
    expect(leaksIn({ log: JSON.stringify(events), requests: requests.join('\n') }, value)).toEqual(
      [],
    );
  });

  it('masks the failed output a LEASE_LOST error quotes, which the worker logs', async () => {
    const { dir, store } = await open('mask-lease');
    const value = canary();
    let holding = true;
    const late: Tool = defineTool({
      name: 'late',
      description: 'fails once the worker no longer holds the session',
      input: z.object({}),
      effect: 'idempotent',
      run: async (_input, context) => {
        const s = await context.secret('API_TOKEN');
        holding = false;
        throw new Error(`GET /?token=${encodeURIComponent(s)} timed out`);
      },
    });
    const model = scriptedModel([{ toolCalls: [{ name: 'late', args: {} }] }, { text: 'done' }]);
    const agent = defineAgent({
      name: 'late',
      model,
      instructions: 'x',
      tools: [late],
      workspaceRoot: join(dir, 'ws'),
    });
    const session = await store.createSession({ agent: 'late', input: 'go' });
    const lease = (await store.claim(session.id, workerId('late'), 60_000))!;
    const runner = new AgentRunner({
      store,
      agent,
      model,
      lease,
      signal: new AbortController().signal,
      holding: () => holding,
      secrets: envSecrets({ env: { API_TOKEN: value }, names: ['API_TOKEN'] }),
    });
    const error = await runner.run().then(
      () => null,
      (e: unknown) => e as Error & { code?: string },
    );
    await store.close();
    expect(error).toMatchObject({ code: 'LEASE_LOST' });
    expect(error?.message).toContain('[secret:API_TOKEN]');
    expect(leaksIn({ error: error?.message ?? '' }, value)).toEqual([]);
  });

  for (const fails of [false, true]) {
    it(`masks what an interrupted unsafe call's verify ${fails ? 'throws' : 'returns'}`, async () => {
      const { dir, store } = await open('mask-verify');
      const value = canary();
      let runs = 0;
      const charge = defineTool({
        name: 'charge',
        description: 'charges a card',
        input: z.object({}),
        effect: 'unsafe',
        // The first run never returns, as if its worker died inside the tool.
        run: async () => (++runs === 1 ? new Promise<never>(() => undefined) : 'charged'),
        verify: async (_input, context) => {
          const found = `GET /charges?key=${encodeURIComponent(await context.secret('API_TOKEN'))}`;
          if (fails) throw new Error(`${found} answered 500`);
          return { applied: true, output: `${found}: charge ch_1 exists` };
        },
      });
      const model = scriptedModel([
        { toolCalls: [{ name: 'charge', args: {} }] },
        { text: 'done' },
      ]);
      const agent = defineAgent({
        name: 'charger',
        model,
        instructions: 'x',
        tools: [charge],
        workspaceRoot: join(dir, 'ws'),
      });
      const secrets = envSecrets({ env: { API_TOKEN: value }, names: ['API_TOKEN'] });
      const session = await store.createSession({ agent: 'charger', input: 'go' });
      const lease = (await store.claim(session.id, workerId('doomed'), 60_000))!;
      const stop = new AbortController();
      void new AgentRunner({ store, agent, model, lease, signal: stop.signal, secrets }).run();
      for (let i = 0; i < 400 && runs === 0; i++) await new Promise((r) => setTimeout(r, 5));
      await store.releaseLease(lease);
      await runUntil({ store, agents: [agent], secrets }, session.id, ['completed', 'paused']);
      stop.abort();
      const events = await allEvents(store, session.id);
      const { status, statusReason } = await store.getSession(session.id);
      await store.close();
      if (fails) {
        expect(status).toBe('paused');
        expect(statusReason).toContain('[secret:API_TOKEN]');
      } else {
        expect(outputsOf(events, 'charge')).toEqual([
          JSON.stringify('GET /charges?key=[secret:API_TOKEN]: charge ch_1 exists'),
        ]);
      }
      const stored = { log: JSON.stringify(events), reason: statusReason ?? '' };
      expect(leaksIn(stored, value)).toEqual([]);
    });
  }

  it("masks what the outcome evaluator's tools read from the workspace before its model sees it", async () => {
    const { dir, store } = await open('mask-evaluator');
    const value = canary();
    const evaluator = scriptedModel(
      [
        { toolCalls: [{ name: 'read_file', args: { path: '.netrc' } }] },
        {
          toolCalls: [
            {
              name: 'submit_verdict',
              args: { verdicts: [{ criterion: 1, passed: true, reason: 'saved' }] },
            },
          ],
        },
      ],
      { id: 'evaluator-model' },
    );
    const agent = defineAgent({
      name: 'judged',
      model: scriptedModel([
        { toolCalls: [{ name: 'save_credentials', args: {} }] },
        { text: 'saved' },
      ]),
      instructions: 'Keep the credentials.',
      tools: [saveCredentials],
      workspaceRoot: join(dir, 'ws'),
      outcome: { rubric: ['.netrc is saved'], evaluator: { model: evaluator } },
    });
    const session = await store.createSession({ agent: 'judged', input: 'save' });
    const secrets = envSecrets({ env: { API_TOKEN: value }, names: ['API_TOKEN'] });
    await runUntil({ store, agents: [agent], secrets }, session.id);
    const events = await allEvents(store, session.id);
    await store.close();
    const seen = evaluator.requests.map((r) => JSON.stringify(r.messages)).join('\n');
    expect(seen).toContain('password [secret:API_TOKEN]');
    expect(leaksIn({ log: JSON.stringify(events), evaluator: seen }, value)).toEqual([]);
  });
});
