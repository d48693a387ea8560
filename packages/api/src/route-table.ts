import type { Context, Hono } from 'hono';
import type { z } from 'zod';
import { LongrunError, defaultTenantId, type ApiKeyRole, type SessionStore } from '@longrun/core';
import { authenticate } from './api-keys.ts';
import { methodNotAllowed } from './http-errors.ts';
import type { RouteSpec } from './openapi.ts';
import { requireAccess } from './route-access.ts';
import { readJsonBody, requestLimits } from './safe-json.ts';
import type { BodyBudget } from './body-budget.ts';

/** Who is asking: every store query of the request is scoped to this tenant. */
export interface Caller {
  tenantId: string;
  /** The API key's public id; null when the server runs without keys. */
  keyId: string | null;
  /** The API key's role; null when the server runs without keys (every route is open). */
  role: ApiKeyRole | null;
}

type Out<T> = T extends z.ZodType ? z.output<T> : undefined;

export interface RouteInput<S extends RouteSpec> {
  params: Out<S['params']>;
  query: Out<S['query']>;
  body: Out<S['body']>;
  caller: Caller;
  request: Request;
  context: Context;
}

export type AuthMode = 'none' | 'keys';

function issuesMessage(where: string, error: z.ZodError): string {
  const issues = error.issues
    .slice(0, 5)
    .map((i) => `${[where, ...i.path.map(String)].join('.')}: ${i.message}`);
  return `${issues.join('; ')}; see /v1/openapi.json for the expected shape`;
}

function validate<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new LongrunError('INVALID_ARGUMENT', issuesMessage(where, parsed.error).slice(0, 1_000));
  }
  return parsed.data;
}

/**
 * Binds route specs to Hono handlers. Each request is authenticated first (before anything in it
 * is read) and its key's role checked against the route's access, then its path, query and body
 * are validated with the spec's schemas — the same
 * schemas the OpenAPI document is generated from.
 */
export class RouteTable {
  readonly specs: RouteSpec[] = [];
  readonly #app: Hono;
  readonly #store: SessionStore;
  readonly #auth: AuthMode;
  readonly #bodies: BodyBudget;

  constructor(app: Hono, store: SessionStore, auth: AuthMode, bodies: BodyBudget) {
    this.#app = app;
    this.#store = store;
    this.#auth = auth;
    this.#bodies = bodies;
  }

  add<S extends RouteSpec>(spec: S, handler: (input: RouteInput<S>) => Promise<Response>): void {
    this.specs.push(spec);
    this.#app.on(spec.method.toUpperCase(), spec.path, async (c) => {
      const token = spec.tokenInQuery === true ? c.req.query('access_token') : undefined;
      const authorization =
        c.req.header('authorization') ?? (token === undefined ? undefined : `Bearer ${token}`);
      const caller = spec.auth ? await this.caller(authorization) : anonymous;
      if (spec.auth) requireAccess(caller, spec);
      const params = spec.params ? validate(spec.params, c.req.param(), 'path') : undefined;
      const query = spec.query ? validate(spec.query, c.req.query(), 'query') : undefined;
      let body: unknown;
      if (spec.body !== undefined) {
        const limit = spec.bodyMaxBytes ?? requestLimits.maxBodyBytes;
        // A caller with a key was authenticated above; one without is counted while it sends.
        const counted = spec.auth ? 0 : this.#bodies.take(c.req.raw, limit);
        let raw: unknown;
        try {
          raw = await readJsonBody(c.req.raw, limit);
        } finally {
          this.#bodies.give(counted);
        }
        if (raw === undefined && spec.bodyOptional !== true) {
          throw new LongrunError(
            'INVALID_ARGUMENT',
            'this request needs a JSON body; see /v1/openapi.json',
          );
        }
        const empty = 'emptyBody' in spec ? spec.emptyBody : {};
        body = validate(spec.body, raw === undefined ? empty : raw, 'body');
      }
      return handler({
        params,
        query,
        body,
        caller,
        request: c.req.raw,
        context: c,
      } as RouteInput<S>);
    });
  }

  async caller(authorization: string | undefined): Promise<Caller> {
    if (this.#auth === 'none') return anonymous;
    const key = await authenticate(this.#store.apiKeys, authorization);
    return { tenantId: key.tenantId, keyId: key.id, role: key.role };
  }

  /** The methods some route allows on this path; empty when no route has the path. */
  allowedMethods(path: string): string[] {
    const methods = this.specs
      .filter((s) => pathPattern(s.path).test(path))
      .map((s) => s.method.toUpperCase());
    return [...new Set(methods)];
  }

  /** The 405 for a path some route has, with another method. Null when no route has the path. */
  wrongMethod(method: string, path: string): LongrunError | null {
    const allowed = this.allowedMethods(path);
    return allowed.length === 0 ? null : methodNotAllowed(method, allowed);
  }
}

const anonymous: Caller = { tenantId: defaultTenantId, keyId: null, role: null };

function pathPattern(path: string): RegExp {
  const source = path
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  // Exact, as the router matches: a trailing slash is another (unknown) path, 404, not a 405
  // that names the very method it refused.
  return new RegExp(`^${source}$`);
}
