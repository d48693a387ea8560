import { LongrunError, effectClasses, toolNamePattern, type JsonObject } from '@longrun/core';

/**
 * Checks what `defineTool` is given, field by field, so a mistake is refused where it is made
 * (INVALID_ARGUMENT naming the tool and the field) rather than as a TypeError from zod or a
 * refusal of the agent that names neither.
 */
export function checkToolDefinition(tool: unknown): void {
  if (typeof tool !== 'object' || tool === null)
    refuse(
      `defineTool takes an object { name, description, input, effect, run }; it got ${kindOf(tool)}`,
    );
  const t = tool as Record<string, unknown>;
  if (typeof t.name !== 'string' || !toolNamePattern.test(t.name))
    refuse(
      `tool name ${JSON.stringify(t.name)} must match ${toolNamePattern.source} (what model APIs accept)`,
    );
  const bad = (what: string): never => refuse(`tool ${t.name as string}: ${what}`);
  if (typeof t.description !== 'string')
    bad(
      `description must be a string (what the model is told the tool does); it is ${kindOf(t.description)}`,
    );
  if (!isZodSchema(t.input))
    bad(
      `input must be a zod schema of the arguments, e.g. z.object({ city: z.string() }); it is ${kindOf(t.input)}${hasZod3Shape(t.input) ? ' (a zod 3 schema: longrun needs zod 4, `import { z } from "zod"` with zod ≥ 4)' : ''}`,
    );
  if (t.effect === undefined)
    bad(`effect is missing; name one of ${effectList} (what a call does to the world)`);
  if (!effectClasses.includes(t.effect as never))
    bad(`effect ${JSON.stringify(t.effect)} is not one of ${effectList}`);
  if (typeof t.run !== 'function') bad(`run must be a function; it is ${kindOf(t.run)}`);
  for (const hook of ['verify', 'touches'] as const)
    if (t[hook] !== undefined && typeof t[hook] !== 'function')
      bad(`${hook} must be a function; it is ${kindOf(t[hook])}`);
  const approval = t.needsApproval;
  if (approval !== undefined && typeof approval !== 'boolean' && typeof approval !== 'function')
    bad(`needsApproval must be true, false or a function of the input; it is ${kindOf(approval)}`);
  if (t.usesSandbox !== undefined && typeof t.usesSandbox !== 'boolean')
    bad(`usesSandbox must be true or false; it is ${kindOf(t.usesSandbox)}`);
}

/**
 * Checks the JSON Schema made from a tool's zod input: model APIs take a tool's arguments as one
 * JSON object, so the schema must describe an object.
 */
export function checkToolJsonSchema(name: string, jsonSchema: JsonObject): void {
  if (jsonSchema.type === 'object') return;
  refuse(
    `tool ${name}: input must be an object schema, e.g. z.object({ city: z.string() }) (model APIs pass a tool's arguments as one JSON object); its JSON Schema has type ${JSON.stringify(jsonSchema.type ?? null)}`,
  );
}

const effectList = effectClasses.join(', ');

function refuse(message: string): never {
  throw new LongrunError('INVALID_ARGUMENT', message);
}

/** A zod 4 schema: what `z.toJSONSchema` and `safeParse` take. */
function isZodSchema(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const schema = value as { safeParse?: unknown; _zod?: unknown };
  return typeof schema.safeParse === 'function' && typeof schema._zod === 'object';
}

function hasZod3Shape(value: unknown): boolean {
  return typeof value === 'object' && value !== null && '_def' in value && !('_zod' in value);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'object') return 'a plain object';
  return typeof value === 'undefined' ? 'missing' : `a ${typeof value}`;
}
