/**
 * The backstop that keeps secret values out of a debug bundle (DESIGN §7: no secret is ever in a
 * bundle; redaction of known values is only a backstop). Every value is masked in place, byte for
 * byte, with `*`: a file's size does not change, so a tar header written before its bytes stays
 * right, and a JSON string stays a JSON string.
 */

import { secretLookingName } from '../secrets/env-secrets.ts';

/** Values shorter than this are not masked: they would mask ordinary words and numbers. */
const minSecretLength = 6;

/** The secret-looking values of an environment: those whose variable's name says secret. */
export function secretsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return Object.entries(env).flatMap(([name, value]) =>
    value !== undefined && secretLookingName.test(name) ? [value] : [],
  );
}

/** A value in the forms it is commonly found in: raw, JSON-escaped, URL-encoded, base64, hex. */
function encodingsOf(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  return [
    value,
    JSON.stringify(value).slice(1, -1),
    encodeURIComponent(value),
    bytes.toString('base64'),
    bytes.toString('base64').replace(/=+$/, ''),
    bytes.toString('base64url'),
    bytes.toString('hex'),
  ];
}

export class Redactor {
  readonly #needles: Buffer[];
  /** The longest needle's length: a streamed file keeps that much minus one back between chunks. */
  readonly maxLength: number;

  constructor(secrets: readonly string[]) {
    const forms = new Set<string>();
    for (const secret of secrets) {
      if (secret.length < minSecretLength) continue;
      for (const form of encodingsOf(secret)) if (form.length >= minSecretLength) forms.add(form);
    }
    // Longest first: a shorter form inside a longer one is masked with it anyway.
    this.#needles = [...forms]
      .map((f) => Buffer.from(f, 'utf8'))
      .sort((a, b) => b.length - a.length);
    this.maxLength = this.#needles[0]?.length ?? 0;
  }

  get empty(): boolean {
    return this.#needles.length === 0;
  }

  /** Masks every needle in `bytes`, in place; returns `bytes`. */
  maskInPlace(bytes: Buffer): Buffer {
    for (const needle of this.#needles) {
      for (let at = bytes.indexOf(needle); at !== -1; at = bytes.indexOf(needle, at + 1)) {
        bytes.fill(0x2a, at, at + needle.length);
      }
    }
    return bytes;
  }

  text(value: string): Buffer {
    return this.maskInPlace(Buffer.from(value, 'utf8'));
  }

  /**
   * Masks a stream of chunks, keeping the last `maxLength - 1` bytes back until the next chunk
   * so that a value split across two chunks is masked too. The bytes out equal the bytes in, in
   * number.
   */
  async *stream(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
    if (this.empty) {
      for await (const chunk of chunks)
        yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      return;
    }
    const keep = this.maxLength - 1;
    let carry = Buffer.alloc(0);
    for await (const chunk of chunks) {
      const joined = this.maskInPlace(Buffer.concat([carry, chunk]));
      const cut = Math.max(0, joined.length - keep);
      carry = Buffer.from(joined.subarray(cut));
      if (cut > 0) yield joined.subarray(0, cut);
    }
    if (carry.length > 0) yield carry;
  }
}
