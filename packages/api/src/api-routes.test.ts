import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { snapshotWorkspace } from '@longrun/workspace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  event,
  sessionId,
  type SessionId,
  type SessionStore,
  type WorkspaceEdit,
} from '@longrun/core';
import { generateApiKey } from './api-keys.ts';
import { createApi, type Api } from './create-api.ts';
import * as schemas from './schemas.ts';
import { LogWriter, call, sqliteStore } from './test-support.ts';

type SessionBody = { session: schemas.SessionViewData };
type ErrorBody = { error: { code: string; message: string } };

let store: SessionStore;
let drop: () => Promise<void>;
let api: Api;
let key: string;
let keyId: string;

beforeAll(async () => {
  ({ store, drop } = await sqliteStore());
  api = createApi({
    store,
    auth: 'keys',
    agents: ['coder', 'deployer'],
    prices: { 'test:model': { inputUsdPerMTok: 2, outputUsdPerMTok: 10 } },
    figures: () => ({ sandboxPool: { size: 4, ready: 3, inUse: 1, queued: 0 } }),
  });
  const made = await generateApiKey(store.apiKeys, 'acme', 'routes', 'admin');
  key = made.key;
  keyId = made.record.id;
});
afterAll(async () => {
  api.close();
  await drop();
});

async function create(body: unknown, headers: Record<string, string> = {}) {
  return call<SessionBody>(api, 'POST', '/v1/sessions', { key, body, headers });
}

/** A session with one model turn whose call waits for approval `approvalId`. */
async function waitingForApproval(approvalId: string): Promise<SessionId> {
  const { body } = await create({ agent: 'deployer', message: 'deploy' });
  const id = sessionId(body.session.id);
  await parkOnApproval(id, approvalId);
  return id;
}

/** Appends one model turn to `id` whose call waits for approval `approvalId`. */
async function parkOnApproval(id: SessionId, approvalId: string): Promise<void> {
  const log = await LogWriter.claim(store, id);
  await log.append([
    event('model.responded', {
      step: 1,
      text: 'deploying',
      toolCalls: [{ callIndex: 0, tool: 'deploy', args: { env: 'prod' } }],
      usage: { inputTokens: 1_000, outputTokens: 100 },
      modelId: 'test:model',
    }),
    event('approval.requested', {
      approvalId,
      step: 1,
      callIndex: 0,
      tool: 'deploy',
      argsHash: 'hash-of-args',
      expiresAtMs: null,
    }),
    event('wait.started', { waitId: approvalId, kind: 'signal', signal: `approval:${approvalId}` }),
  ]);
  await log.append([], {
    status: { status: 'waiting', waitingFor: `approval:${approvalId}` },
    releaseLease: true,
  });
}

describe('sessions', () => {
  it('creates a session with the input the agent harness expects, and shows it', async () => {
    const r = await create({ agent: 'coder', message: 'fix the tests', input: { repo: 'x' } });
    expect(r.status).toBe(201);
    expect(schemas.SessionResponse.parse(r.body)).toEqual(r.body);
    expect(r.body.session).toMatchObject({
      tenantId: 'acme',
      agent: 'coder',
      status: 'queued',
      headSeq: 1,
      steps: 0,
      tokens: { input: 0, output: 0 },
      costUsd: 0,
      pendingApprovals: 0,
      forkedFrom: null,
    });
    const [created] = await store.readEvents(sessionId(r.body.session.id), 0, 10);
    expect(created?.data).toEqual({
      agent: 'coder',
      input: { task: 'fix the tests', input: { repo: 'x' } },
    });
    const again = await call<SessionBody>(api, 'GET', `/v1/sessions/${r.body.session.id}`, { key });
    expect(again.body.session).toEqual(r.body.session);
  });

  it("serves its tenant's stream figures to a caller with a key, not the parts beside it", async () => {
    const { status, body } = await call<Record<string, unknown>>(api, 'GET', '/v1/figures', {
      key,
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      streams: { feeds: expect.any(Number) as number, subscribers: expect.any(Number) as number },
    });
    // The sandbox pool serves every tenant: the server's own figures only (a server without keys).
    expect(body).not.toHaveProperty('sandboxPool');
    expect(api.figures()).toMatchObject({ sandboxPool: { size: 4, inUse: 1, queued: 0 } });
    expect((await call(api, 'GET', '/v1/figures')).status).toBe(401);
  });

  it('refuses an agent the server does not run, saying which it runs', async () => {
    const r = await create({ agent: 'nope', message: 'x' });
    expect(r.status).toBe(400);
    expect((r.body as unknown as ErrorBody).error.message).toMatch(/coder, deployer/);
  });

  it('replays a creation with the same Idempotency-Key and body, refuses another body', async () => {
    const headers = { 'idempotency-key': 'create-once-1' };
    const first = await create({ agent: 'coder', message: 'a', input: { x: 1, y: 2 } }, headers);
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    // The same body with its keys in another order is the same request.
    const replay = await create({ input: { y: 2, x: 1 }, message: 'a', agent: 'coder' }, headers);
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.session.id).toBe(first.body.session.id);
    const other = await create({ agent: 'coder', message: 'b' }, headers);
    expect(other.status).toBe(409);
    expect((other.body as unknown as ErrorBody).error.code).toBe('IDEMPOTENCY_CONFLICT');
    const bad = await create(
      { agent: 'coder', message: 'b' },
      { 'idempotency-key': 'x'.repeat(201) },
    );
    expect(bad.status).toBe(400);
  });

  it('lists newest first, page by page, with filters', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await create({ agent: 'deployer', message: `list ${i}` })).body.session.id);
    const seen: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const query: string = `/v1/sessions?agent=deployer&status=queued&limit=2${after === null ? '' : `&after=${after}`}`;
      const r = await call<{ sessions: schemas.SessionViewData[]; next: string | null }>(
        api,
        'GET',
        query,
        { key },
      );
      expect(r.status).toBe(200);
      expect(r.body.sessions.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.sessions.map((s) => s.id));
      after = r.body.next;
      if (after === null) break;
    }
    expect(seen.slice(0, 5)).toEqual(ids.slice().reverse());
    for (const limit of ['0', '201', '-1', 'x', '1.5'])
      expect((await call(api, 'GET', `/v1/sessions?limit=${limit}`, { key })).status).toBe(400);
    expect((await call(api, 'GET', '/v1/sessions?status=bogus', { key })).status).toBe(400);
    expect((await call(api, 'GET', '/v1/sessions?after=..%2Fx', { key })).status).toBe(404);
  });

  it('pages through events with next', async () => {
    const { body } = await create({ agent: 'coder', message: 'events' });
    const id = sessionId(body.session.id);
    const log = await LogWriter.claim(store, id);
    for (let i = 0; i < 4; i++)
      await log.append([event('model.streamed', { step: 1, attempt: 1, text: `t${i}` })]);
    const page1 = await call<{ events: { seq: number }[]; next: number | null }>(
      api,
      'GET',
      `/v1/sessions/${id}/events?limit=3`,
      { key },
    );
    expect(page1.body.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(page1.body.next).toBe(3);
    const page2 = await call<{ events: { seq: number }[]; next: number | null }>(
      api,
      'GET',
      `/v1/sessions/${id}/events?after=3&limit=3`,
      { key },
    );
    expect(page2.body.events.map((e) => e.seq)).toEqual([4, 5]);
    expect(page2.body.next).toBeNull();
    expect(schemas.EventList.safeParse(page1.body).success).toBe(true);
  });
});

describe('messages, cancel and approvals', () => {
  it('sends a message and a cancel as signals; refuses both when they cannot apply', async () => {
    const { body } = await create({ agent: 'coder', message: 'm' });
    const id = sessionId(body.session.id);
    const m = await call<SessionBody>(api, 'POST', `/v1/sessions/${id}/messages`, {
      key,
      body: { text: 'also update the docs' },
    });
    expect(m.status).toBe(202);
    expect(m.body.session.id).toBe(id);
    expect((await store.pendingSignals(id, 'user.message'))[0]?.payload).toEqual({
      text: 'also update the docs',
    });
    const c = await call(api, 'POST', `/v1/sessions/${id}/cancel`, { key });
    expect(c.status).toBe(202);
    expect((await store.pendingSignals(id, 'cancel'))[0]?.payload).toEqual({
      by: `api-key:${keyId}`,
      reason: null,
    });
    const log = await LogWriter.claim(store, id);
    await log.append([event('session.cancelled', { reason: null, by: 'test' })], {
      status: { status: 'cancelled' },
      releaseLease: true,
    });
    const again = await call<ErrorBody>(api, 'POST', `/v1/sessions/${id}/cancel`, {
      key,
      body: { reason: 'twice' },
    });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('INVALID_STATE');
    const late = await call(api, 'POST', `/v1/sessions/${id}/messages`, {
      key,
      body: { text: 'x' },
    });
    expect(late.status).toBe(409);
  });

  it('resumes a paused session with a signal that wakes it; refuses one that is not paused', async () => {
    const { body } = await create({ agent: 'coder', message: 'm' });
    const id = sessionId(body.session.id);
    const notYet = await call<ErrorBody>(api, 'POST', `/v1/sessions/${id}/resume`, { key });
    expect(notYet.status).toBe(409);
    expect(notYet.body.error).toMatchObject({
      code: 'INVALID_STATE',
      message: expect.stringMatching(/is queued, not paused: there is nothing to resume/) as string,
    });
    const log = await LogWriter.claim(store, id);
    await log.append([], {
      status: { status: 'paused', reason: 'no agent named "coder" is registered' },
      releaseLease: true,
    });
    const paused = await call<SessionBody>(api, 'GET', `/v1/sessions/${id}`, { key });
    expect(paused.body.session).toMatchObject({
      status: 'paused',
      statusReason: 'no agent named "coder" is registered',
    });
    const r = await call<SessionBody>(api, 'POST', `/v1/sessions/${id}/resume`, {
      key,
      body: { reason: 'coder is deployed now' },
    });
    expect(r.status).toBe(202);
    expect(r.body.session).toMatchObject({ id, status: 'queued' });
    expect(schemas.SessionResponse.safeParse(r.body).success).toBe(true);
    expect((await store.pendingSignals(id, 'resume')).map((s) => s.payload)).toEqual([
      { by: `api-key:${keyId}`, reason: 'coder is deployed now', pausedAtSeq: 1 },
    ]);
    const twice = await call<ErrorBody>(api, 'POST', `/v1/sessions/${id}/resume`, { key });
    expect(twice.status).toBe(409);
    const unknownKey = await call<ErrorBody>(api, 'POST', `/v1/sessions/${id}/resume`, {
      key,
      body: { reason: 'x', by: 'someone else' },
    });
    expect(unknownKey.status).toBe(400);
  });

  it('reads every session waiting on a person, past ones waiting on other things, in request order, and says when it stops short', async () => {
    const tenantKey = (await generateApiKey(store.apiKeys, 'inbox', 'inbox', 'admin')).key;
    const made = async () =>
      (await store.createSession({ agent: 'deployer', input: null, tenantId: 'inbox' })).id;
    // More sessions waiting for a message than one store page, made before any approval.
    for (let i = 0; i < 250; i++) {
      const log = await LogWriter.claim(store, await made());
      await log.append([], {
        status: { status: 'waiting', waitingFor: 'user.message' },
        releaseLease: true,
      });
    }
    // The session made first asks last.
    const first = await made();
    const second = await made();
    await parkOnApproval(second, 'apr_inbox_second');
    await new Promise((resolve) => setTimeout(resolve, 5));
    await parkOnApproval(first, 'apr_inbox_first');
    const inbox = async (on: Api, limit = 50) =>
      (
        await call<{ approvals: schemas.ApprovalData[]; truncated: boolean }>(
          on,
          'GET',
          `/v1/approvals?limit=${limit}`,
          { key: tenantKey },
        )
      ).body;
    const ids = (body: { approvals: schemas.ApprovalData[] }) =>
      body.approvals.map((a) => a.approvalId);
    expect(await inbox(api)).toMatchObject({ truncated: false });
    expect(ids(await inbox(api))).toEqual(['apr_inbox_second', 'apr_inbox_first']);
    expect(await inbox(api, 1)).toMatchObject({ truncated: true });
    expect(ids(await inbox(api, 1))).toEqual(['apr_inbox_second']);
    expect(await inbox(api, 2)).toMatchObject({ truncated: false });
    const capped = (approvalsScanLimit: number) =>
      createApi({ store, auth: 'keys', approvalsScanLimit });
    const one = capped(1);
    const two = capped(2);
    try {
      const cut = await inbox(one);
      expect(cut.truncated).toBe(true);
      expect(ids(cut)).toEqual(['apr_inbox_first']);
      expect(await inbox(two)).toMatchObject({ truncated: false });
    } finally {
      one.close();
      two.close();
    }
  });

  it('lists a pending approval with its call, decides it once, and refuses a second decision', async () => {
    const id = await waitingForApproval('apr_routes1');
    const view = await call<SessionBody>(api, 'GET', `/v1/sessions/${id}`, { key });
    expect(view.body.session).toMatchObject({
      status: 'waiting',
      waitingFor: 'approval:apr_routes1',
      steps: 1,
      tokens: { input: 1_000, output: 100 },
      costUsd: (1_000 * 2 + 100 * 10) / 1_000_000,
      pendingApprovals: 1,
    });
    const inbox = await call<{ approvals: schemas.ApprovalData[] }>(api, 'GET', '/v1/approvals', {
      key,
    });
    expect(schemas.ApprovalList.safeParse(inbox.body).success).toBe(true);
    expect(inbox.body.approvals.find((a) => a.sessionId === id)).toMatchObject({
      approvalId: 'apr_routes1',
      agent: 'deployer',
      tool: 'deploy',
      args: { env: 'prod' },
      argsHash: 'hash-of-args',
      step: 1,
      callIndex: 0,
      expiresAtMs: null,
    });
    const unknown = await call(api, 'POST', `/v1/sessions/${id}/approvals/apr_nope`, {
      key,
      body: { decision: 'approve' },
    });
    expect(unknown.status).toBe(404);
    const decided = await call(api, 'POST', `/v1/sessions/${id}/approvals/apr_routes1`, {
      key,
      body: { decision: 'approve', reason: 'looks right' },
    });
    expect(decided).toMatchObject({
      status: 200,
      body: { approvalId: 'apr_routes1', decision: 'approve', scope: 'call' },
    });
    expect((await store.pendingSignals(id, 'approval:apr_routes1'))[0]?.payload).toEqual({
      decision: 'granted',
      by: `api-key:${keyId}`,
      reason: 'looks right',
      argsHash: 'hash-of-args',
      scope: 'call',
    });
    // Decided, not yet recorded by a worker: a second decision is refused already.
    const early = await call<ErrorBody>(api, 'POST', `/v1/sessions/${id}/approvals/apr_routes1`, {
      key,
      body: { decision: 'deny' },
    });
    expect(early.status).toBe(409);
    expect(early.body.error).toMatchObject({
      code: 'INVALID_STATE',
      message: expect.stringMatching(/already decided by api-key:/) as string,
    });
    expect(await store.pendingSignals(id, 'approval:apr_routes1')).toHaveLength(1);
    // The worker records the decision; after that the approval is no longer pending.
    const log = await LogWriter.claim(store, id);
    await log.append([
      event('wait.resolved', { waitId: 'apr_routes1', signalId: null, payload: null }),
      event('approval.granted', { approvalId: 'apr_routes1', by: 'x', reason: null }),
    ]);
    const twice = await call<ErrorBody>(api, 'POST', `/v1/sessions/${id}/approvals/apr_routes1`, {
      key,
      body: { decision: 'deny' },
    });
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe('INVALID_STATE');
    const after = await call<SessionBody>(api, 'GET', `/v1/sessions/${id}`, { key });
    expect(after.body.session.pendingApprovals).toBe(0);
  });
  it('lists an approval a gate asked for before a model call, with the question, and decides it', async () => {
    const { body } = await create({ agent: 'deployer', message: 'deploy' });
    const id = sessionId(body.session.id);
    const log = await LogWriter.claim(store, id);
    await log.append([
      event('approval.requested', {
        approvalId: 'apr_model1',
        point: 'model.call',
        step: 2,
        gate: 'budget',
        reason: 'the budget of $5 is spent',
        argsHash: 'hash-of-step-2',
        expiresAtMs: null,
      }),
      event('wait.started', {
        waitId: 'apr_model1',
        kind: 'signal',
        signal: 'approval:apr_model1',
      }),
    ]);
    await log.append([], {
      status: { status: 'waiting', waitingFor: 'approval:apr_model1' },
      releaseLease: true,
    });
    const inbox = await call<{ approvals: schemas.ApprovalData[] }>(api, 'GET', '/v1/approvals', {
      key,
    });
    expect(schemas.ApprovalList.safeParse(inbox.body).success).toBe(true);
    expect(inbox.body.approvals.find((a) => a.sessionId === id)).toEqual({
      approvalId: 'apr_model1',
      sessionId: id,
      agent: 'deployer',
      point: 'model.call',
      tool: null,
      args: {},
      argsHash: 'hash-of-step-2',
      argumentsComplete: true,
      argumentsChars: 2,
      argumentsShownChars: 2,
      step: 2,
      callIndex: null,
      question: { gate: 'budget', reason: 'the budget of $5 is spent' },
      requestedAtMs: expect.any(Number) as number,
      expiresAtMs: null,
    });
    const decided = await call(api, 'POST', `/v1/sessions/${id}/approvals/apr_model1`, {
      key,
      body: { decision: 'deny', reason: 'not this month' },
    });
    expect(decided.status).toBe(200);
    expect((await store.pendingSignals(id, 'approval:apr_model1'))[0]?.payload).toEqual({
      decision: 'denied',
      by: `api-key:${keyId}`,
      reason: 'not this month',
      argsHash: 'hash-of-step-2',
      scope: 'call',
    });
  });
});

describe('workspace files', () => {
  const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

  it('lists the latest snapshot and serves its files, text or bytes; an absent path is 404', async () => {
    const { body } = await create({ agent: 'coder', message: 'files' });
    const id = sessionId(body.session.id);
    const none = await call(api, 'GET', `/v1/sessions/${id}/files`, { key });
    expect(none.body).toEqual({ manifestHash: null, step: null, edits: 0, files: [] });
    const text = new TextEncoder().encode('hello\n');
    const bin = new Uint8Array([0xff, 0x00, 0xfe]);
    for (const b of [text, bin]) await store.blobs.put(sha(b), b);
    const manifest = new TextEncoder().encode(
      JSON.stringify({
        version: 1,
        chunkBytes: 4 * 1024 * 1024,
        entries: [
          { path: 'src', type: 'dir', mode: 0o755 },
          { path: 'src/a.txt', type: 'file', size: 6, mode: 0o644, sha256: sha(text) },
          { path: 'src/b.bin', type: 'file', size: 3, mode: 0o600, sha256: sha(bin) },
          { path: 'src/link', type: 'symlink', target: 'a.txt' },
        ],
      }),
    );
    await store.blobs.put(sha(manifest), manifest);
    const log = await LogWriter.claim(store, id);
    await log.append([
      event('workspace.snapshotted', {
        step: 2,
        manifestHash: sha(manifest),
        files: 2,
        bytes: 9,
        changed: 2,
      }),
    ]);
    const list = await call(api, 'GET', `/v1/sessions/${id}/files`, { key });
    expect(list.body).toEqual({
      manifestHash: sha(manifest),
      step: 2,
      edits: 0,
      files: [
        { path: 'src/a.txt', size: 6, mode: 0o644 },
        { path: 'src/b.bin', size: 3, mode: 0o600 },
      ],
    });
    const a = await api.fetch(
      new Request(`http://x/v1/sessions/${id}/files/content?path=src%2Fa.txt`, {
        headers: { authorization: `Bearer ${key}` },
      }),
    );
    expect(a.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await a.text()).toBe('hello\n');
    const b = await api.fetch(
      new Request(`http://x/v1/sessions/${id}/files/content?path=src/b.bin`, {
        headers: { authorization: `Bearer ${key}` },
      }),
    );
    expect(b.headers.get('content-type')).toBe('application/octet-stream');
    expect(new Uint8Array(await b.arrayBuffer())).toEqual(bin);
    for (const path of ['src/nope', '../etc/passwd', 'src/link', 'src'])
      expect(
        (
          await call(
            api,
            'GET',
            `/v1/sessions/${id}/files/content?path=${encodeURIComponent(path)}`,
            { key },
          )
        ).status,
      ).toBe(404);
    expect((await call(api, 'GET', `/v1/sessions/${id}/files/content`, { key })).status).toBe(400);
  });

  it('lists and serves the files as the edits in tool results left them, and diffs across them', async () => {
    const { body } = await create({ agent: 'coder', message: 'edits' });
    const id = sessionId(body.session.id);
    const text = new TextEncoder().encode('hello\n');
    await store.blobs.put(sha(text), text);
    const manifest = new TextEncoder().encode(
      JSON.stringify({
        version: 2,
        entries: [
          { path: 'a.txt', type: 'file', size: 6, mode: 0o644, sha256: sha(text) },
          { path: 'old.txt', type: 'file', size: 6, mode: 0o644, sha256: sha(text) },
        ],
      }),
    );
    await store.blobs.put(sha(manifest), manifest);
    const log = await LogWriter.claim(store, id);
    const snapshotted = event('workspace.snapshotted', {
      step: 1,
      manifestHash: sha(manifest),
      files: 2,
      bytes: 12,
      changed: 2,
    });
    const turn = (step: number) =>
      event('model.responded', {
        step,
        text: 'editing',
        toolCalls: [{ callIndex: 0, tool: 'edit', args: {} }],
        usage: { inputTokens: 10, outputTokens: 10 },
      });
    const edited = (step: number, workspaceEdits: WorkspaceEdit[]) =>
      event('tool.completed', {
        step,
        callIndex: 0,
        tool: 'edit',
        ok: true,
        output: 'done',
        attempt: 1,
        workspaceEdits,
      });
    await log.append([snapshotted]);
    await log.append([turn(2), edited(2, [{ path: 'a.txt', at: 6, text: 'world\n' }])]);
    await log.append([
      turn(3),
      edited(3, [
        { path: 'new.bin', at: 0, base64: Buffer.from([0, 1, 2]).toString('base64'), mode: 0o600 },
        { path: 'old.txt', removed: true },
      ]),
    ]);
    const list = await call(api, 'GET', `/v1/sessions/${id}/files`, { key });
    expect(list.body).toEqual({
      manifestHash: sha(manifest),
      step: 3,
      edits: 3,
      files: [
        { path: 'a.txt', size: 12, mode: 0o644 },
        { path: 'new.bin', size: 3, mode: 0o600 },
      ],
    });
    const a = await call(api, 'GET', `/v1/sessions/${id}/files/content?path=a.txt`, { key });
    expect(a.body).toBe('hello\nworld\n');
    // Listed again after one more edit: the new state, not the one read before.
    await log.append([turn(4), edited(4, [{ path: 'a.txt', at: 12, text: 'again\n' }])]);
    const again = await call(api, 'GET', `/v1/sessions/${id}/files`, { key });
    expect(again.body).toMatchObject({
      step: 4,
      edits: 4,
      files: [
        { path: 'a.txt', size: 18 },
        { path: 'new.bin', size: 3 },
      ],
    });
    const a2 = await call(api, 'GET', `/v1/sessions/${id}/files/content?path=a.txt`, { key });
    expect(a2.body).toBe('hello\nworld\nagain\n');
    type Diff = {
      from: unknown;
      to: unknown;
      changes: { path: string; change: string; patch: string | null }[];
    };
    const diff = await call<Diff>(api, 'GET', `/v1/sessions/${id}/files/diff?patches=true`, {
      key,
    });
    expect(diff.body.from).toMatchObject({ step: 3, edits: 3 });
    expect(diff.body.to).toMatchObject({ step: 4, edits: 4, manifestHash: sha(manifest) });
    expect(diff.body.changes.map((c) => [c.path, c.change])).toEqual([['a.txt', 'changed']]);
    // From the stored snapshot to the first edit.
    const events = await store.readEvents(id, 0, 100);
    const seqOf = (type: string) => events.find((e) => e.type === type)!.seq;
    const from = seqOf('workspace.snapshotted');
    const to = seqOf('tool.completed');
    const first = await call<Diff>(
      api,
      'GET',
      `/v1/sessions/${id}/files/diff?patches=true&from=${from}&to=${to}`,
      { key },
    );
    expect(first.body.changes.map((c) => [c.path, c.change])).toEqual([['a.txt', 'changed']]);
    expect(first.body.changes[0]?.patch).toContain('+world');
  });

  it('serves a file of a delta manifest whose appended piece is kept inline', async () => {
    const { body } = await create({ agent: 'coder', message: 'inline' });
    const id = sessionId(body.session.id);
    const [head, tail] = ['first line\n', 'second line\n'];
    await store.blobs.put(sha(head), new TextEncoder().encode(head));
    const file = { path: 'log.txt', type: 'file', mode: 0o644 };
    const put = async (document: unknown) => {
      const bytes = new TextEncoder().encode(JSON.stringify(document));
      await store.blobs.put(sha(bytes), bytes);
      return sha(bytes);
    };
    const base = await put({
      version: 2,
      entries: [{ ...file, size: head.length, sha256: sha(head) }],
    });
    const delta = await put({
      version: 3,
      base,
      entries: [
        {
          ...file,
          size: head.length + tail.length,
          sha256: sha(head + tail),
          chunks: [1, Buffer.from(tail).toString('base64')],
        },
      ],
    });
    const log = await LogWriter.claim(store, id);
    await log.append([
      event('workspace.snapshotted', {
        step: 1,
        manifestHash: delta,
        files: 1,
        bytes: 0,
        changed: 1,
      }),
    ]);
    const content = await api.fetch(
      new Request(`http://x/v1/sessions/${id}/files/content?path=log.txt`, {
        headers: { authorization: `Bearer ${key}` },
      }),
    );
    expect(await content.text()).toBe(head + tail);
  });

  it('diffs two snapshots, with patches for small text files, and forks at a seq onto the same manifest', async () => {
    const { body } = await create({ agent: 'coder', message: 'diff' });
    const id = sessionId(body.session.id);
    expect((await call(api, 'GET', `/v1/sessions/${id}/files/diff`, { key })).status).toBe(404);
    const files = { 'notes.txt': 'one\ntwo\n', 'keep.txt': 'same\n' };
    const first = await snapshotOf(files);
    const second = await snapshotOf({ ...files, 'notes.txt': 'one\nthree\n', 'new.txt': 'x\n' });
    const log = await LogWriter.claim(store, id);
    const snapshotted = (manifestHash: string, step: number) =>
      event('workspace.snapshotted', { step, manifestHash, files: 2, bytes: 1, changed: 1 });
    await log.append([snapshotted(first, 1)]);
    const firstSeq = (await store.getSession(id)).headSeq;
    await log.append([snapshotted(second, 2)]);
    const diff = await call<{
      from: { seq: number } | null;
      to: { seq: number; manifestHash: string };
      changes: { path: string; change: string; patch: string | null }[];
    }>(api, 'GET', `/v1/sessions/${id}/files/diff?patches=true`, { key });
    expect(diff.status).toBe(200);
    expect(diff.body.from?.seq).toBe(firstSeq);
    expect(diff.body.to.manifestHash).toBe(second);
    expect(diff.body.changes.map((c) => [c.path, c.change])).toEqual([
      ['new.txt', 'added'],
      ['notes.txt', 'changed'],
    ]);
    expect(diff.body.changes[1]?.patch).toMatch(/^-two$/m);
    expect(diff.body.changes[1]?.patch).toMatch(/^\+three$/m);
    const fromEmpty = await call<{ from: null; changes: { change: string }[] }>(
      api,
      'GET',
      `/v1/sessions/${id}/files/diff?to=${firstSeq}`,
      { key },
    );
    expect(fromEmpty.body.from).toBeNull();
    expect(fromEmpty.body.changes.map((c) => c.change)).toEqual(['added', 'added']);

    const fork = await call<SessionBody>(api, 'POST', `/v1/sessions/${id}/fork`, {
      key,
      body: { atSeq: firstSeq },
    });
    expect(fork.status).toBe(201);
    expect(fork.body.session).toMatchObject({
      headSeq: firstSeq,
      tenantId: 'acme',
      forkedFrom: { sessionId: id, seq: firstSeq },
    });
    const again = await call<SessionBody>(api, 'GET', `/v1/sessions/${fork.body.session.id}`, {
      key,
    });
    expect(again.body.session.forkedFrom).toEqual({ sessionId: id, seq: firstSeq });
    const forked = await call<{ manifestHash: string }>(
      api,
      'GET',
      `/v1/sessions/${fork.body.session.id}/files`,
      { key },
    );
    expect(forked.body.manifestHash).toBe(first);
    const beyond = await call<ErrorBody>(api, 'POST', `/v1/sessions/${id}/fork`, {
      key,
      body: { atSeq: 10_000 },
    });
    expect(beyond.status).toBe(400);
    expect(beyond.body.error.message).toMatch(/fork point 10000 is outside/);
  });
  it('serves a text file the snapshot stored in chunks as text, whole and verified', async () => {
    const { body } = await create({ agent: 'coder', message: 'chunked' });
    const id = sessionId(body.session.id);
    // ~300 KiB of varied lines: content-defined chunking stores it as several chunks.
    const text = Array.from({ length: 6_000 }, (_, i) => `line ${i} ${'é'.repeat(i % 40)}`).join(
      '\n',
    );
    const manifestHash = await snapshotOf({ 'log.txt': text });
    const log = await LogWriter.claim(store, id);
    await log.append([
      event('workspace.snapshotted', { step: 1, manifestHash, files: 1, bytes: 1, changed: 1 }),
    ]);
    const manifest = JSON.parse(
      new TextDecoder().decode(await store.blobs.get(manifestHash)),
    ) as unknown;
    expect(JSON.stringify(manifest)).toMatch(/chunks/);
    const served = await api.fetch(
      new Request(`http://x/v1/sessions/${id}/files/content?path=log.txt`, {
        headers: { authorization: `Bearer ${key}` },
      }),
    );
    expect(served.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await served.text()).toBe(text);
  });
});

/** Stores the files and their manifest, the way a workspace snapshot does; returns its hash. */
async function snapshotOf(files: Record<string, string>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'api-snapshot-'));
  for (const [path, text] of Object.entries(files)) writeFileSync(join(dir, path), text);
  return (await snapshotWorkspace({ dir, blobs: store.blobs })).manifestHash;
}
