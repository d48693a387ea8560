import { generateApiKey } from '@longrun/api';
import { apiKeyRoles, isApiKeyRole, tenantId, type ApiKeyRole } from '@longrun/core';
import { defaultStore, parseFlags, UsageError } from '../args.ts';
import { exitCodes } from '../exit-codes.ts';
import { openStore } from '../store-url.ts';
import { usage } from '../usage.ts';

/**
 * The role of a key made without `--role`: `operator`, the least that does what most keys are
 * made for (a CI job or a service that runs agents), and never a decision on their approvals or
 * administration — those need a key that was asked for by name.
 */
const defaultRole: ApiKeyRole = 'operator';

/**
 * `longrun keys create|list|revoke`: API keys per tenant. `create` prints the key once (only its
 * hash is stored); `list` and `revoke` name keys by their public id.
 */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    {
      store: { type: 'string' },
      tenant: { type: 'string' },
      name: { type: 'string' },
      role: { type: 'string' },
      json: { type: 'boolean' },
    },
    usage.keys,
  );
  const [sub, ...args] = positionals;
  if (values.help || sub === undefined) {
    process.stdout.write(`${usage.keys}\n`);
    return values.help ? exitCodes.ok : exitCodes.usage;
  }
  if (!['create', 'list', 'revoke'].includes(sub))
    throw new UsageError(`unknown keys subcommand ${JSON.stringify(sub)}\n\n${usage.keys}`);
  if (sub === 'create' && values.tenant === undefined)
    throw new UsageError(`keys create needs --tenant <tenant>\n\n${usage.keys}`);
  const role = values.role ?? defaultRole;
  if (!isApiKeyRole(role))
    throw new UsageError(
      `--role must be one of ${apiKeyRoles.join(', ')} (got ${JSON.stringify(role)})\n\n${usage.keys}`,
    );
  if (sub !== 'create' && values.role !== undefined)
    throw new UsageError(`--role is for keys create\n\n${usage.keys}`);
  if (sub === 'revoke' && args[0] === undefined)
    throw new UsageError(`keys revoke needs the key id (see keys list)\n\n${usage.keys}`);
  const tenant = values.tenant === undefined ? undefined : tenantId(values.tenant);
  // Only create makes a store (a key before the first serve); list and revoke need one.
  const store = await openStore(values.store ?? defaultStore, { mustExist: sub !== 'create' });
  const out = (line: string): boolean => process.stdout.write(`${line}\n`);
  try {
    if (sub === 'create') {
      const name = values.name ?? 'default';
      const made = await generateApiKey(store.apiKeys, tenant as string, name, role);
      if (values.json) out(JSON.stringify({ key: made.key, ...made.record }));
      else {
        out(made.key);
        process.stderr.write(
          `key ${made.record.id} (role ${made.record.role}) for tenant ${made.record.tenantId}: shown once, only its hash is stored; send it as Authorization: Bearer <key>\n`,
        );
      }
    } else if (sub === 'list') {
      const keys = await store.apiKeys.list(tenant);
      if (values.json) out(JSON.stringify(keys));
      else
        for (const k of keys)
          out(
            `${k.id}  tenant ${k.tenantId.padEnd(12)} ${k.role.padEnd(8)} ${k.name.padEnd(16)} created ${new Date(k.createdAtMs).toISOString()}${k.revokedAtMs === null ? '' : `  revoked ${new Date(k.revokedAtMs).toISOString()}`}`,
          );
    } else {
      await store.apiKeys.revoke(args[0] as string);
      out(`revoked ${args[0]}; requests with it now get 401`);
    }
    return exitCodes.ok;
  } finally {
    await store.close();
  }
}
