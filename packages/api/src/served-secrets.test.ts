import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { event, sessionId, type SessionId, type SessionStore } from '@longrun/core';
import { envSecrets } from '@longrun/runtime';
import { snapshotWorkspace } from '@longrun/workspace';
import { generateApiKey } from './api-keys.ts';
import { createApi, type Api } from './create-api.ts';
import { serveApi, type ServedApi } from './serve-api.ts';
import { LogWriter, sqliteStore } from './test-support.ts';

/**
 * A credential a tool wrote into the workspace, served over real HTTP: masked with the secrets
 * the API's own secret store resolves (`ApiOptions.secrets`), and only with those.
 */
const secret = `Zq9${randomBytes(12).toString('hex')}`;
const large = 4 * 1024 * 1024 + 10;

let store: SessionStore;
let drop: () => Promise<void>;
let key: string;
let id: SessionId;
/** An API whose store holds the secret, and one whose store does not (a `serve` + `worker` split). */
const apis: { api: Api; served: ServedApi }[] = [];
const dirs: string[] = [];

async function snapshotOf(files: Record<string, string | Buffer>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'served-secrets-'));
  dirs.push(dir);
  for (const [path, bytes] of Object.entries(files)) writeFileSync(join(dir, path), bytes);
  return (await snapshotWorkspace({ dir, blobs: store.blobs })).manifestHash;
}

async function get(served: ServedApi, path: string): Promise<Response> {
  const response = await fetch(`${served.url}${path}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  expect(response.status, path).toBe(200);
  return response;
}

beforeAll(async () => {
  ({ store, drop } = await sqliteStore());
  for (const env of [{ PROBE_TOKEN: secret }, {}]) {
    const api = createApi({ store, auth: 'keys', secrets: envSecrets({ env }) });
    apis.push({ api, served: await serveApi(api, { port: 0 }) });
  }
  key = (await generateApiKey(store.apiKeys, 'acme', 'files', 'admin')).key;
  const created = await fetch(`${apis[0]!.served.url}/v1/sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ agent: 'coder', message: 'write creds' }),
  });
  id = sessionId(((await created.json()) as { session: { id: string } }).session.id);
  const first = await snapshotOf({ 'notes.txt': 'one\n' });
  const second = await snapshotOf({
    'notes.txt': 'one\n',
    'creds.txt': `token=${secret}\n`,
    'config.json': JSON.stringify({ auths: { 'r.io': { auth: secret } } }),
    'blob.bin': Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(secret)]),
    'big.log': `${'x'.repeat(large - secret.length - 1)}${secret}\n`,
  });
  const log = await LogWriter.claim(store, id);
  const snapshotted = (manifestHash: string, step: number) =>
    event('workspace.snapshotted', { step, manifestHash, files: 1, bytes: 1, changed: 1 });
  await log.append([snapshotted(first, 1)]);
  await log.append([snapshotted(second, 2)]);
});
afterAll(async () => {
  for (const { api, served } of apis) {
    await served.close();
    api.close();
  }
  await drop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('workspace files served with the secrets the API resolves', () => {
  it('masks a secret in files/content: text as tools see it, bytes and large files byte for byte', async () => {
    const { served } = apis[0]!;
    const content = (path: string) => get(served, `/v1/sessions/${id}/files/content?path=${path}`);
    expect(await (await content('creds.txt')).text()).toBe('token=[secret:PROBE_TOKEN]\n');
    expect(await (await content('config.json')).text()).toBe(
      '{"auths":{"r.io":{"auth":"[secret:PROBE_TOKEN]"}}}',
    );
    const bin = Buffer.from(await (await content('blob.bin')).arrayBuffer());
    expect(bin).toEqual(
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.alloc(secret.length, '*')]),
    );
    const big = await content('big.log');
    expect(big.headers.get('content-length')).toBe(String(large));
    const bigText = await big.text();
    expect(bigText.length).toBe(large);
    expect(bigText).not.toContain(secret);
    expect(bigText.endsWith(`${'*'.repeat(secret.length)}\n`)).toBe(true);
  });

  it('masks a secret in the diff patches', async () => {
    const { served } = apis[0]!;
    const diff = await (await get(served, `/v1/sessions/${id}/files/diff?patches=true`)).text();
    expect(diff).toContain('+token=[secret:PROBE_TOKEN]');
    expect(diff).not.toContain(secret);
  });

  it("masks a secret of the API's store in the bundle's workspace files and diff", async () => {
    const { served } = apis[0]!;
    const tar = gunzipSync(
      Buffer.from(await (await get(served, `/v1/sessions/${id}/bundle`)).arrayBuffer()),
    );
    expect(tar.includes('workspace/creds.txt')).toBe(true);
    expect(tar.includes(secret)).toBe(false);
  });

  it('serves the value as it is where the API cannot resolve it (what is not covered)', async () => {
    const { served } = apis[1]!;
    const text = await (
      await get(served, `/v1/sessions/${id}/files/content?path=creds.txt`)
    ).text();
    expect(text).toBe(`token=${secret}\n`);
  });
});
