import { LongrunError } from '@longrun/core';
import { bodyTooLarge, unsupportedMediaType } from './http-errors.ts';

export const requestLimits = {
  /** Bytes of one request body. Larger inputs belong in the workspace, not in a request. */
  maxBodyBytes: 1024 * 1024,
  /** Nesting of arrays and objects in a body, well under the store's limit for one event. */
  maxDepth: 32,
} as const;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function invalid(message: string): LongrunError {
  return new LongrunError('INVALID_PAYLOAD', message);
}

/**
 * Reads a JSON request body defensively: the content type must be JSON, the size is capped
 * before and while reading (a lying Content-Length cannot make it buffer more), the bytes must be
 * UTF-8, the nesting is measured before `JSON.parse` runs, and `__proto__` keys are refused so no
 * later merge or validation can turn one into a prototype change. An empty body is `undefined`
 * (routes whose body is optional accept it). Every failure is a 4xx LongrunError.
 */
export async function readJsonBody(
  request: Request,
  limitBytes: number = requestLimits.maxBodyBytes,
): Promise<unknown> {
  const declared = request.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > limitBytes) {
    throw bodyTooLarge(limitBytes);
  }
  const bytes = await readCapped(request, limitBytes);
  if (bytes.byteLength === 0) return undefined;
  checkContentType(request.headers.get('content-type'));
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw invalid('the request body is not valid UTF-8; send JSON encoded as UTF-8');
  }
  checkDepth(text, requestLimits.maxDepth);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw invalid(`the request body is not valid JSON (${(error as Error).message})`);
  }
  refuseProtoKeys(value);
  return value;
}

function checkContentType(header: string | null): void {
  const [type = '', ...params] = (header ?? '').split(';').map((p) => p.trim().toLowerCase());
  if (type !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) {
    throw unsupportedMediaType(header ?? undefined);
  }
  const charset = params.find((p) => p.startsWith('charset='));
  if (charset !== undefined && !['charset=utf-8', 'charset="utf-8"'].includes(charset)) {
    throw unsupportedMediaType(header ?? undefined);
  }
}

async function readCapped(request: Request, limitBytes: number): Promise<Uint8Array> {
  if (request.body === null) return new Uint8Array(0);
  const reader = (request.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limitBytes) {
        await reader.cancel().catch(() => undefined);
        throw bodyTooLarge(limitBytes);
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof LongrunError) throw error;
    throw invalid(`the request body could not be read (${(error as Error).message})`);
  }
  return Buffer.concat(chunks);
}

/**
 * Measures bracket nesting outside strings in one pass, so a body of a million `[` is refused
 * without building anything. Iterative: no recursion, whatever the input.
 */
export function checkDepth(text: string, maxDepth: number): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) {
        throw invalid(`the request body nests deeper than ${maxDepth} levels; flatten it`);
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
}

/** Refuses any `__proto__` key, at any depth (depth is already bounded, so recursion is too). */
function refuseProtoKeys(value: unknown): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const item of value) refuseProtoKeys(item);
    return;
  }
  for (const key of Object.keys(value)) {
    if (key === '__proto__') {
      throw invalid('keys named "__proto__" are refused; rename the key');
    }
    refuseProtoKeys((value as Record<string, unknown>)[key]);
  }
}
