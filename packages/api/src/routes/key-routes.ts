import { LongrunError, type ApiKeyRecord } from '@longrun/core';
import { json, type ApiContext } from '../api-context.ts';
import { generateApiKey } from '../api-keys.ts';
import { ApiKeyList, CreateKeyBody, CreatedKey, KeyParams, RevokedKey } from '../schemas.ts';
import type { Caller } from '../route-table.ts';

/** A key as the API shows it: never its secret's hash. */
function view(record: ApiKeyRecord) {
  const { secretHash: _hash, ...shown } = record;
  return shown;
}

/** The caller's tenant's key with this id; another tenant's key is the same 404 as none. */
async function keyOf(ctx: ApiContext, caller: Caller, raw: string): Promise<ApiKeyRecord> {
  const record = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/.test(raw)
    ? await ctx.store.apiKeys.find(raw)
    : null;
  if (record === null || record.tenantId !== caller.tenantId)
    throw new LongrunError('NOT_FOUND', `no API key ${JSON.stringify(raw.slice(0, 40))}`);
  return record;
}

/**
 * The tenant's API keys, for its administrators (`admin` keys; without keys, the server's own
 * tenant): list, create with a role (the key shown once), revoke.
 */
export function keyRoutes(ctx: ApiContext): void {
  const { routes, store } = ctx;

  routes.add(
    {
      method: 'get',
      path: '/v1/keys',
      summary: "The tenant's API keys, oldest first (never their secrets)",
      auth: true,
      access: 'admin',
      responses: { 200: { description: 'The keys.', schema: ApiKeyList } },
    },
    async ({ caller }) =>
      json(200, { keys: (await store.apiKeys.list(caller.tenantId)).map(view) }),
  );

  routes.add(
    {
      method: 'post',
      path: '/v1/keys',
      summary: 'Create an API key of the tenant with a role (default operator)',
      description:
        'The answer holds the key itself, `lr_<id>_<secret>`, this once: only a hash of its secret is stored.',
      auth: true,
      access: 'admin',
      body: CreateKeyBody,
      bodyOptional: true,
      responses: { 201: { description: 'Created.', schema: CreatedKey } },
    },
    async ({ body, caller }) => {
      const made = await generateApiKey(
        store.apiKeys,
        caller.tenantId,
        body.name ?? 'default',
        body.role ?? 'operator',
      );
      return json(201, { key: made.key, apiKey: view(made.record) });
    },
  );

  routes.add(
    {
      method: 'post',
      path: '/v1/keys/:keyId/revoke',
      summary: 'Revoke an API key of the tenant (requests with it get 401 at once)',
      description: 'Revoking twice is a no-op. Unknown key, or another tenant’s: 404.',
      auth: true,
      access: 'admin',
      params: KeyParams,
      responses: { 200: { description: 'Revoked.', schema: RevokedKey } },
    },
    async ({ params, caller }) => {
      const record = await keyOf(ctx, caller, params.keyId);
      await store.apiKeys.revoke(record.id);
      // This server's open streams with the key end before they send anything more; other
      // servers' within their `keyCheckMs`.
      ctx.stream.keys.revoked(record.id);
      return json(200, { apiKey: view((await store.apiKeys.find(record.id)) ?? record) });
    },
  );
}
