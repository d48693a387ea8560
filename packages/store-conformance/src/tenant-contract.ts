import { createHash } from 'node:crypto';
import { expect, it } from 'vitest';
import {
  apiKeyRoles,
  type ApiKeyRole,
  type SessionId,
  type SessionRecord,
  type SessionStore,
} from '@longrun/core';
import { expectCode, leaseMs, workerA, type ContractContext } from './contract-helpers.ts';

const sha256 = (text: string | Uint8Array): string =>
  createHash('sha256').update(text).digest('hex');

/** Tenants, idempotent creation and session listing. */
export function tenantsContract(ctx: ContractContext): void {
  it('puts a session in the default tenant unless told otherwise', async () => {
    const plain = await ctx.store.createSession({ agent: 'a', input: null });
    const owned = await ctx.store.createSession({ agent: 'a', input: null, tenantId: 'acme' });
    expect(plain.tenantId).toBe('default');
    expect(owned.tenantId).toBe('acme');
    expect((await ctx.store.getSession(owned.id)).tenantId).toBe('acme');
    await expectCode(
      ctx.store.createSession({ agent: 'a', input: null, tenantId: '../x' }),
      'INVALID_ARGUMENT',
    );
  });

  it('lists by tenant, agent and status, oldest or newest first, with keyset pages', async () => {
    const made: SessionRecord[] = [];
    for (let i = 0; i < 5; i++) {
      made.push(
        await ctx.store.createSession({ agent: i % 2 ? 'odd' : 'even', input: i, tenantId: 't1' }),
      );
      ctx.clock.advance(1);
    }
    await ctx.store.createSession({ agent: 'even', input: null, tenantId: 't2' });
    const ids = (list: SessionRecord[]) => list.map((s) => s.id);
    expect(ids(await ctx.store.listSessions({ tenantId: 't1' }))).toEqual(ids(made));
    expect(ids(await ctx.store.listSessions({ tenantId: 't1', newestFirst: true }))).toEqual(
      ids(made).reverse(),
    );
    expect(ids(await ctx.store.listSessions({ tenantId: 't1', agent: 'odd' }))).toEqual([
      made[1]?.id,
      made[3]?.id,
    ]);
    const page1 = await ctx.store.listSessions({ tenantId: 't1', newestFirst: true, limit: 2 });
    const page2 = await ctx.store.listSessions({
      tenantId: 't1',
      newestFirst: true,
      limit: 2,
      afterId: page1.at(-1)?.id,
    });
    expect(ids(page2)).toEqual([made[2]?.id, made[1]?.id]);
    expect(await ctx.store.listSessions({ tenantId: 't1', status: 'completed' })).toEqual([]);
    await expectCode(
      ctx.store.listSessions({ status: 'nonsense' as SessionRecord['status'] }),
      'INVALID_ARGUMENT',
    );
  });

  it('lists sessions made in one millisecond in the order they were made', async () => {
    const made: SessionId[] = [];
    for (let i = 0; i < 12; i++)
      made.push((await ctx.store.createSession({ agent: 'same-ms', input: i, tenantId: 't3' })).id);
    const listed = await ctx.store.listSessions({ tenantId: 't3' });
    expect(listed.map((s) => s.id)).toEqual(made);
    const newest: SessionId[] = [];
    let afterId: SessionId | undefined;
    for (let page = 0; page < 12; page++) {
      const rows = await ctx.store.listSessions({
        tenantId: 't3',
        newestFirst: true,
        limit: 5,
        afterId,
      });
      newest.push(...rows.map((s) => s.id));
      afterId = rows.at(-1)?.id;
      if (rows.length < 5) break;
    }
    expect(newest).toEqual(made.slice().reverse());
  });

  it('reads many sessions by id in one call, skipping ids that do not exist', async () => {
    const a = await ctx.store.createSession({ agent: 'many', input: null, tenantId: 't6' });
    const b = await ctx.store.createSession({ agent: 'many', input: null, tenantId: 't7' });
    const missing = 'ses_00000000000000000000000000000000' as SessionId;
    const read = await ctx.store.getSessions([b.id, missing, a.id, b.id]);
    expect(read.map((s) => s.id).sort()).toEqual([a.id, b.id].sort());
    expect(read.find((s) => s.id === a.id)).toEqual(await ctx.store.getSession(a.id));
    expect(await ctx.store.getSessions([])).toEqual([]);
    await expectCode(ctx.store.getSessions(['../x' as SessionId]), 'INVALID_ARGUMENT');
    await expectCode(
      ctx.store.getSessions(Array.from({ length: 1_001 }, () => a.id)),
      'INVALID_ARGUMENT',
    );
  });

  it('lists only the sessions waiting for a signal whose name starts with a prefix', async () => {
    const parked = async (waitingFor: string | null, tenantId = 't4') => {
      const made = await ctx.store.createSession({ agent: 'inbox', input: null, tenantId });
      const lease = await ctx.store.claim(made.id, workerA, leaseMs);
      if (lease === null) throw new Error('a new session must be claimable');
      await ctx.store.append({
        fence: lease,
        expectedSeq: 1,
        events: [],
        status: waitingFor === null ? { status: 'paused' } : { status: 'waiting', waitingFor },
        releaseLease: true,
      });
      return made.id;
    };
    const first = await parked('approval:apr_1');
    await parked('user.message');
    await parked(null);
    await parked('approval'); // the prefix without its colon: not a person's approval
    const second = await parked('approval:apr_2');
    await parked('approval:apr_3', 't5');
    const listed = (q: Parameters<SessionStore['listSessions']>[0]) =>
      ctx.store.listSessions(q).then((rows) => rows.map((s) => s.id));
    expect(await listed({ tenantId: 't4', waitingForPrefix: 'approval:' })).toEqual([
      first,
      second,
    ]);
    expect(
      await listed({ tenantId: 't4', status: 'waiting', waitingForPrefix: 'approval:', limit: 1 }),
    ).toEqual([first]);
    expect(
      await listed({ tenantId: 't4', waitingForPrefix: 'approval:', newestFirst: true, limit: 1 }),
    ).toEqual([second]);
    expect(await listed({ tenantId: 't4', waitingForPrefix: 'approval:', afterId: first })).toEqual(
      [second],
    );
    // LIKE wildcards are plain characters here.
    expect(await listed({ tenantId: 't4', waitingForPrefix: 'approval%' })).toEqual([]);
    expect(await listed({ tenantId: 't4', waitingForPrefix: '_' })).toEqual([]);
    await expectCode(ctx.store.listSessions({ waitingForPrefix: '' }), 'INVALID_ARGUMENT');
  });

  it('creates once per idempotency key and tenant; another request under the key is refused', async () => {
    const request = { agent: 'a', input: { task: 'x' }, idempotencyKey: 'k1', requestHash: 'h1' };
    const first = await ctx.store.createSession({ ...request, tenantId: 't1' });
    const again = await Promise.all(
      Array.from({ length: 8 }, () => ctx.store.createSession({ ...request, tenantId: 't1' })),
    );
    expect(new Set(again.map((s) => s.id))).toEqual(new Set([first.id]));
    expect(await ctx.store.listSessions({ tenantId: 't1' })).toHaveLength(1);
    await expectCode(
      ctx.store.createSession({ ...request, requestHash: 'h2', tenantId: 't1' }),
      'IDEMPOTENCY_CONFLICT',
    );
    // The same key in another tenant is another key.
    const other = await ctx.store.createSession({ ...request, tenantId: 't2' });
    expect(other.id).not.toBe(first.id);
    await expectCode(
      ctx.store.createSession({ agent: 'a', input: null, idempotencyKey: 'k' }),
      'INVALID_ARGUMENT',
    );
  });

  it('makes one session from concurrent creations under one key', async () => {
    const request = { agent: 'a', input: null, idempotencyKey: 'race', requestHash: 'h' };
    const made = await Promise.all(
      Array.from({ length: 20 }, () => ctx.store.createSession({ ...request })),
    );
    expect(new Set(made.map((s) => s.id)).size).toBe(1);
    expect((await ctx.store.readEvents(made[0]!.id)).map((e) => e.type)).toEqual([
      'session.created',
    ]);
  });
}

/** API keys: hashed secrets, per tenant, revocable. */
export function apiKeysContract(ctx: ContractContext): void {
  it('stores a key by id with only its secret hash, lists per tenant, revokes', async () => {
    const hash = sha256('secret');
    const made = await ctx.store.apiKeys.create({
      id: 'k1',
      tenantId: 't1',
      name: 'ci',
      secretHash: hash,
      role: 'admin',
    });
    expect(made).toMatchObject({
      id: 'k1',
      tenantId: 't1',
      name: 'ci',
      secretHash: hash,
      role: 'admin',
      revokedAtMs: null,
    });
    await ctx.store.apiKeys.create({
      id: 'k2',
      tenantId: 't2',
      name: 'ops',
      secretHash: hash,
      role: 'admin',
    });
    expect((await ctx.store.apiKeys.list('t1')).map((k) => k.id)).toEqual(['k1']);
    expect((await ctx.store.apiKeys.list()).map((k) => k.id)).toEqual(['k1', 'k2']);
    expect(await ctx.store.apiKeys.find('nope')).toBeNull();
    await expectCode(
      ctx.store.apiKeys.create({
        id: 'k1',
        tenantId: 't1',
        name: 'again',
        secretHash: hash,
        role: 'admin',
      }),
      'INVALID_ARGUMENT',
    );
    await expectCode(
      ctx.store.apiKeys.create({
        id: 'k3',
        tenantId: 't1',
        name: 'x',
        secretHash: 'plain-secret',
        role: 'admin',
      }),
      'INVALID_ARGUMENT',
    );
    ctx.clock.advance(5);
    await ctx.store.apiKeys.revoke('k1');
    const revokedAt = (await ctx.store.apiKeys.find('k1'))?.revokedAtMs;
    expect(typeof revokedAt).toBe('number');
    ctx.clock.advance(5);
    await ctx.store.apiKeys.revoke('k1');
    expect((await ctx.store.apiKeys.find('k1'))?.revokedAtMs).toBe(revokedAt);
    await expectCode(ctx.store.apiKeys.revoke('nope'), 'NOT_FOUND');
  });

  it('stores each key with its role and reads it back; refuses a role that is not one', async () => {
    const hash = sha256('secret');
    for (const role of apiKeyRoles)
      await ctx.store.apiKeys.create({
        id: `r-${role}`,
        tenantId: 't1',
        name: role,
        secretHash: hash,
        role,
      });
    expect((await ctx.store.apiKeys.list('t1')).map((k) => [k.id, k.role])).toEqual(
      apiKeyRoles.map((role) => [`r-${role}`, role]),
    );
    for (const role of apiKeyRoles)
      expect((await ctx.store.apiKeys.find(`r-${role}`))?.role).toBe(role);
    await expectCode(
      ctx.store.apiKeys.create({
        id: 'r-root',
        tenantId: 't1',
        name: 'root',
        secretHash: hash,
        role: 'root' as ApiKeyRole,
      }),
      'INVALID_ARGUMENT',
    );
    expect(await ctx.store.apiKeys.find('r-root')).toBeNull();
  });
}

/** The store's own blob table: content-addressed, deduplicated, exact bytes back. */
export function blobsContract(ctx: ContractContext): void {
  it('stores bytes by hash once and returns them exactly', async () => {
    const bytes = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 31) % 256);
    const hash = sha256(bytes);
    const small = new TextEncoder().encode('hello\u0000world');
    const smallHash = sha256(small);
    expect(await ctx.store.blobs.missing([hash, smallHash])).toEqual([hash, smallHash]);
    await ctx.store.blobs.put(hash, bytes);
    await ctx.store.blobs.put(hash, bytes);
    await ctx.store.blobs.put(smallHash, small);
    expect(await ctx.store.blobs.missing([smallHash, sha256('other'), hash])).toEqual([
      sha256('other'),
    ]);
    expect(Buffer.from((await ctx.store.blobs.get(hash))!).equals(Buffer.from(bytes))).toBe(true);
    expect(Buffer.from((await ctx.store.blobs.get(smallHash))!).equals(Buffer.from(small))).toBe(
      true,
    );
    expect(await ctx.store.blobs.get(sha256('absent'))).toBeNull();
    expect(await ctx.store.blobs.missing([])).toEqual([]);
    await expectCode(ctx.store.blobs.put('../etc', small), 'INVALID_ARGUMENT');
    await expectCode(ctx.store.blobs.get('ABC'), 'INVALID_ARGUMENT');
  });
}
