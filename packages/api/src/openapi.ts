import { z } from 'zod';
import { JsonValue, components } from './schemas.ts';
import { accessOf, rolesFor, type RouteAccess } from './route-access.ts';

/**
 * The OpenAPI 3.1 document, generated from the route table and the zod schemas that validate the
 * requests. Built with zod 4's own `z.toJSONSchema` rather than @hono/zod-openapi: OpenAPI 3.1
 * schemas ARE JSON Schema 2020-12, which is what zod 4 emits natively, so assembling the document
 * is ~100 lines here instead of two more dependencies (zod-openapi and its zod-to-openapi core)
 * and a second route DSL on top of Hono's.
 */

export type Method = 'get' | 'post' | 'delete';

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** Default `application/json`. */
  contentType?: string;
  headers?: Record<string, string>;
}

export interface HeaderSpec {
  name: string;
  description: string;
  schema: z.ZodType;
  required?: boolean;
}

export interface RouteSpec {
  method: Method;
  /** Hono form: `/v1/sessions/:id`. */
  path: string;
  summary: string;
  description?: string;
  /** Needs an API key when the server runs with `auth: 'keys'`. */
  auth: boolean;
  /**
   * What the route does, which decides the key roles that may call it (route-access.ts). Left
   * out: `read` for a GET, `admin` for anything else.
   */
  access?: RouteAccess;
  /**
   * The key may also come as `?access_token=` (browsers' EventSource cannot send headers). Only
   * for the stream route: a key in a URL can end up in logs, so nowhere it is not needed.
   */
  tokenInQuery?: boolean;
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: HeaderSpec[];
  body?: z.ZodType;
  /** The body may be left out (an empty body is `{}`, or `emptyBody`). */
  bodyOptional?: boolean;
  /** What a left-out body stands for (default `{}`). */
  emptyBody?: unknown;
  /** A cap on the body below the server's (requestLimits.maxBodyBytes). */
  bodyMaxBytes?: number;
  responses: Record<number, ResponseSpec>;
}

type Json = Record<string, unknown>;

function schemaOf(schema: z.ZodType): Json {
  const id = components.get(schema)?.id;
  if (id !== undefined) return { $ref: `#/components/schemas/${id}` };
  const json = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
    override: anyJson,
  }) as Json;
  return strip(json);
}

/**
 * JsonValue is documented as `{}` (any value; it is JSON because it came as JSON) rather than as
 * the recursive union zod emits: generators such as openapi-typescript turn that union into a
 * type that refers to itself directly, which TypeScript rejects, and every schema using it
 * degrades to `any`. Requests are still validated with z.json().
 */
function anyJson(ctx: { zodSchema: unknown; jsonSchema: Record<string, unknown> }): void {
  if (ctx.zodSchema !== JsonValue) return;
  for (const key of Object.keys(ctx.jsonSchema)) delete ctx.jsonSchema[key];
}

function strip(json: Json): Json {
  const { $schema: _s, $id: _i, ...rest } = json;
  return rest;
}

function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z]+)/g, '{$1}');
}

function parameters(route: RouteSpec): Json[] {
  const out: Json[] = [];
  const add = (where: 'path' | 'query', object: z.ZodObject | undefined): void => {
    for (const [name, schema] of Object.entries(object?.shape ?? {})) {
      const s = schema as z.ZodType;
      const description = s.description;
      out.push({
        name,
        in: where,
        required: where === 'path' || !s.safeParse(undefined).success,
        schema: schemaOf(s),
        ...(description === undefined ? {} : { description }),
      });
    }
  };
  add('path', route.params);
  add('query', route.query);
  for (const h of route.headers ?? [])
    out.push({
      name: h.name,
      in: 'header',
      required: h.required ?? false,
      description: h.description,
      schema: schemaOf(h.schema),
    });
  return out;
}

function operation(route: RouteSpec): Json {
  const responses: Json = {};
  for (const [status, r] of Object.entries(route.responses)) {
    responses[status] = {
      description: r.description,
      ...(r.schema === undefined
        ? {}
        : { content: { [r.contentType ?? 'application/json']: { schema: schemaOf(r.schema) } } }),
      ...(r.headers === undefined
        ? {}
        : {
            headers: Object.fromEntries(
              Object.entries(r.headers).map(([k, d]) => [
                k,
                { description: d, schema: { type: 'string' } },
              ]),
            ),
          }),
    };
  }
  responses.default = {
    description: 'Any error: the typed error body; the status comes from the error code.',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  };
  const roles = route.auth ? rolesFor[accessOf(route)] : null;
  const rolesLine = roles === null ? null : `API key roles: ${roles.join(', ')}.`;
  const description = [route.description, rolesLine].filter((d) => d != null).join('\n\n');
  return {
    summary: route.summary,
    ...(description === '' ? {} : { description }),
    ...(roles === null ? {} : { 'x-longrun-roles': roles }),
    operationId: `${route.method}${openApiPath(route.path).replace(/[^A-Za-z0-9]+(.)?/g, (_m, c?: string) => (c ?? '').toUpperCase())}`,
    parameters: parameters(route),
    ...(route.body === undefined
      ? {}
      : {
          requestBody: {
            required: route.bodyOptional !== true,
            content: { 'application/json': { schema: schemaOf(route.body) } },
          },
        }),
    responses,
    ...(route.auth ? {} : { security: [] }),
  };
}

export function openApiDocument(routes: readonly RouteSpec[], version: string): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    paths[path] = { ...paths[path], [route.method]: operation(route) };
  }
  const generated = z.toJSONSchema(components, {
    io: 'input',
    uri: (id) => `#/components/schemas/${id}`,
    unrepresentable: 'any',
    override: anyJson,
  });
  const schemas = Object.fromEntries(
    Object.entries(generated.schemas).map(([id, s]) => [id, strip(s as Json)]),
  );
  return {
    openapi: '3.1.0',
    info: {
      title: 'longrun API',
      version,
      description:
        'Sessions, their durable event logs as resumable Server-Sent Events, approvals and workspace files, per tenant.',
    },
    servers: [{ url: '/' }],
    security: [{ apiKey: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          description:
            'lr_<keyId>_<secret>, from `longrun keys create --tenant <tenant> --role <role>`. Each operation lists the roles that may call it (`x-longrun-roles`); another role gets 403 PERMISSION_DENIED.',
        },
      },
    },
  };
}
