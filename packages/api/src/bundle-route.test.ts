import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { event, type SessionId, type SessionStore } from '@longrun/core';
import { readBundle } from '@longrun/runtime';
import { generateApiKey } from './api-keys.ts';
import { createApi, type Api } from './create-api.ts';
import { LogWriter, call } from './test-support.ts';
import { describeOnStores } from './test-stores.ts';

describeOnStores('GET /v1/sessions/{id}/bundle', (kind) => {
  let store: SessionStore;
  let drop: () => Promise<void>;
  let api: Api;
  let id: SessionId;
  let viewerA: string;
  let adminB: string;

  beforeAll(async () => {
    ({ store, drop } = await kind.open());
    api = createApi({ store, auth: 'keys' });
    viewerA = (await generateApiKey(store.apiKeys, 'tenant-a', 'a', 'viewer')).key;
    adminB = (await generateApiKey(store.apiKeys, 'tenant-b', 'b', 'admin')).key;
    const a = await store.createSession({ tenantId: 'tenant-a', agent: 'coder', input: 'fix' });
    id = a.id;
    const put = async (bytes: Uint8Array) => {
      const hash = createHash('sha256').update(bytes).digest('hex');
      await store.blobs.put(hash, bytes);
      return hash;
    };
    const text = new TextEncoder().encode('fixed\n');
    const manifestHash = await put(
      new TextEncoder().encode(
        JSON.stringify({
          version: 2,
          entries: [{ path: 'a.txt', type: 'file', size: 6, mode: 420, sha256: await put(text) }],
        }),
      ),
    );
    const log = await LogWriter.claim(store, id);
    await log.append([
      event('model.responded', {
        step: 1,
        text: '',
        toolCalls: [{ callIndex: 0, tool: 'edit', args: { path: 'a.txt' } }],
        usage: { inputTokens: 10, outputTokens: 2 },
        modelId: 'scripted',
      }),
      event('tool.started', { step: 1, callIndex: 0, tool: 'edit', effect: 'idempotent' }),
      event('tool.completed', {
        step: 1,
        callIndex: 0,
        tool: 'edit',
        ok: true,
        output: 'ok',
        attempt: 1,
      }),
      event('workspace.snapshotted', { step: 1, manifestHash, files: 1, bytes: 6, changed: 1 }),
    ]);
  });
  afterAll(async () => drop());

  it("streams the session's bundle to a viewer of its tenant", async () => {
    const response = await api.fetch(
      new Request(`http://127.0.0.1/v1/sessions/${id}/bundle`, {
        headers: { authorization: `Bearer ${viewerA}` },
      }),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/gzip');
    expect(response.headers.get('content-disposition')).toContain(`${id}.bundle.tar.gz`);
    const path = join(mkdtempSync(join(tmpdir(), 'longrun-bundle-api-')), 'b.tar.gz');
    writeFileSync(path, Buffer.from(await response.arrayBuffer()));
    const files = await readBundle(path, { keep: () => true });
    const seqs = files
      .get('session.jsonl')!
      .toString()
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as { seq: number }).seq);
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    expect(files.get('workspace/a.txt')!.toString()).toBe('fixed\n');
    expect(files.get('tool_calls.csv')!.toString()).toMatch(/,edit,[0-9a-f]{64},\d+,ok,\n$/);
    expect(files.get('env.txt')!.toString()).toContain(`store kind: ${store.kind}`);
  });

  it("answers 404 to another tenant's key and for an unknown session, 401 without a key", async () => {
    const other = await call(api, 'GET', `/v1/sessions/${id}/bundle`, { key: adminB });
    expect(other.status).toBe(404);
    expect(JSON.stringify(other.body)).not.toContain('fixed');
    const unknown = await call(api, 'GET', `/v1/sessions/ses_nope/bundle`, { key: viewerA });
    expect(unknown.status).toBe(404);
    expect((await call(api, 'GET', `/v1/sessions/${id}/bundle`)).status).toBe(401);
  });
});
