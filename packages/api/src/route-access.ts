import { LongrunError, type ApiKeyRole } from '@longrun/core';
import type { Caller } from './route-table.ts';
import type { RouteSpec } from './openapi.ts';

/**
 * What a route does, which decides the API key roles that may call it (core's `ApiKeyRole`):
 * - `read`: reads (GET routes, event streams) — every role;
 * - `operate`: runs agents (sessions, messages, signals, cancel, resume, fork, schedules) —
 *   `operator` and `admin`;
 * - `approve`: decides approvals — `approver` and `admin`;
 * - `admin`: administers the tenant — `admin` only.
 */
export type RouteAccess = 'read' | 'operate' | 'approve' | 'admin';

export const rolesFor: Record<RouteAccess, readonly ApiKeyRole[]> = {
  read: ['viewer', 'operator', 'approver', 'admin'],
  operate: ['operator', 'admin'],
  approve: ['approver', 'admin'],
  admin: ['admin'],
};

const doing: Record<RouteAccess, string> = {
  read: 'reading',
  operate: 'running agents (sessions, messages, signals, cancel, resume, fork, schedules)',
  approve: 'deciding approvals',
  admin: 'administering the tenant',
};

/**
 * A route's access: what its spec says, else `read` for a GET and `admin` for anything else —
 * a write route nobody classified is closed to all but administrators rather than open to all.
 */
export function accessOf(spec: RouteSpec): RouteAccess {
  return spec.access ?? (spec.method === 'get' ? 'read' : 'admin');
}

/**
 * PERMISSION_DENIED (403) when the caller's key has a role the route does not allow. A server
 * without keys (local development, `auth: 'none'`) has no roles: every route is open, as before.
 * Checked before anything of the request is read, so the answer says nothing about what the
 * request names (another tenant's session gets the same 403 as one's own).
 */
export function requireAccess(caller: Caller, spec: RouteSpec): void {
  if (caller.role === null) return;
  const access = accessOf(spec);
  const allowed = rolesFor[access];
  if (allowed.includes(caller.role)) return;
  const needed = allowed.filter((r) => r !== 'admin');
  const roles = needed.length === 0 ? 'admin' : `${needed.join(' or ')} (or admin)`;
  throw new LongrunError(
    'PERMISSION_DENIED',
    `API key ${caller.keyId ?? ''} has role ${caller.role}; ${spec.method.toUpperCase()} ${spec.path} is ${doing[access]} and needs role ${roles}; use a key made with \`longrun keys create --tenant <tenant> --role ${needed[0] ?? 'admin'}\``,
    { details: { role: caller.role, needed: [...allowed] } },
  );
}
