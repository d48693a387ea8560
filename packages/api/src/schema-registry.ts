import { z } from 'zod';

/** The schemas the OpenAPI document names as components, with their id (openapi.ts). */
export const components = z.registry<{ id: string; description?: string }>();

export function named<T extends z.ZodType>(id: string, schema: T, description?: string): T {
  components.add(schema, description === undefined ? { id } : { id, description });
  return schema;
}

/** Any JSON value; named, so that its recursion is a `$ref` to the component. */
export const JsonValue = named('JsonValue', z.json(), 'Any JSON value.');
